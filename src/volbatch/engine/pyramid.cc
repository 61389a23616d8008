#include "volbatch/engine/pyramid.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <regex>

#include "volbatch/core/error.h"
#include "volbatch/engine/job.h"
#include "volbatch/engine/job_dir.h"
#include "volbatch/engine/ome_level.h"
#include "volbatch/engine/run.h"
#include "volbatch/kvstore/location.h"
#include "volbatch/store/dataset.h"
#include "volbatch/store/hdf5_location.h"
#include "volbatch/store/node_attributes.h"

namespace volbatch {
namespace fs = std::filesystem;
using json = nlohmann::json;

std::vector<Shape> PyramidFactors(const Shape& shape, const std::vector<double>& voxel_size,
                                  int levels) {
  const size_t rank = shape.size();
  if (voxel_size.size() != rank) {
    throw InvalidArgument("voxel size " + std::to_string(voxel_size.size()) +
                          " values for a volume of rank " + std::to_string(rank));
  }
  Shape extent = shape;
  std::vector<double> size = voxel_size;
  std::vector<Shape> out;
  for (int l = 0; l < levels; ++l) {
    // The finest axes that can still shrink; 1% slack so that 4.0 and 4.0000001 count as equal.
    double finest = 0;
    for (size_t a = 0; a < rank; ++a) {
      if (extent[a] > 1 && (finest == 0 || size[a] < finest)) finest = size[a];
    }
    Shape f(rank, 1);
    for (size_t a = 0; a < rank; ++a) {
      if (extent[a] > 1 && size[a] <= finest * 1.01) {
        f[a] = 2;
        extent[a] = (extent[a] + 1) / 2;
        size[a] *= 2;
      }
    }
    out.push_back(f);
  }
  return out;
}

std::vector<std::string> PyramidLevelNames(const std::string& name, int levels) {
  std::smatch m;
  std::vector<std::string> out;
  const std::regex s_form("s([0-9]+)"), number("([0-9]+)");
  for (int k = 1; k <= levels; ++k) {
    if (std::regex_match(name, m, s_form)) {
      out.push_back("s" + std::to_string(std::stoll(m[1]) + k));
    } else if (std::regex_match(name, m, number)) {
      out.push_back(std::to_string(std::stoll(m[1]) + k));
    } else {
      out.push_back(name + "_s" + std::to_string(k));
    }
  }
  return out;
}

namespace {

struct Axes {
  size_t channels = 0;  // leading non-spatial axes (0 or 1)
  std::vector<std::string> names;
};

Axes AxesOf(const std::string& path, size_t rank) {
  switch (rank) {
    case 2:
      return {0, {"y", "x"}};
    case 3:
      return {0, {"z", "y", "x"}};
    case 4:
      return {1, {"c", "z", "y", "x"}};
    default:
      throw InvalidArgument(path +
                            ": a pyramid needs 2 to 4 axes ([c,] [z,] y, x), this array has " +
                            std::to_string(rank));
  }
}

// Level 0's voxel size and unit from what the dataset or its group already say: OME-NGFF
// multiscales naming it, or N5's "resolution"/"pixelResolution" (x, y, z order), or in an
// HDF5 file "resolution" in the array's own order (z, y, x: CREMI, funlib, gunpowder).
void VoxelSizeFromAttributes(const std::string& dataset, size_t spatial, std::vector<double>* size,
                             std::string* unit) {
  auto numbers = [&](const json& v, bool reversed) -> bool {
    if (!v.is_array() || v.size() != spatial) return false;
    std::vector<double> s;
    for (const auto& x : v) {
      if (!x.is_number() || !(x.get<double>() > 0)) return false;
      s.push_back(x.get<double>());
    }
    if (reversed) std::reverse(s.begin(), s.end());
    *size = s;
    return true;
  };
  json attrs, parent;
  try {
    attrs = ReadNodeAttributes(dataset);
  } catch (const Error&) {
  }
  try {
    parent = ReadNodeAttributes(SplitLocation(dataset).first);
  } catch (const Error&) {
  }
  if (const OmeLevel level = FindOmeLevel(parent, SplitLocation(dataset).second); level.dataset) {
    for (const auto& t : level.dataset->value("coordinateTransformations", json::array())) {
      if (t.is_object() && t.value("type", json()) == "scale" && t.contains("scale")) {
        json s = t["scale"];
        // Batch and channel axes lead (OME-NGFF's t, c, z, y, x).
        if (s.is_array() && s.size() > spatial) {
          s.erase(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(s.size() - spatial));
        }
        numbers(s, false);
      }
    }
    const json& m = *level.multiscale;
    if (m.contains("axes") && m["axes"].is_array() && !m["axes"].empty() &&
        m["axes"].back().is_object() && m["axes"].back().value("unit", json()).is_string()) {
      *unit = m["axes"].back()["unit"].get<std::string>();
    }
    return;
  }
  bool hdf5 = false;
  try {
    hdf5 = FindHdf5Location(dataset).has_value();
  } catch (const Error&) {
  }
  for (const json* a : {&attrs, &parent}) {
    if (a->contains("resolution") && numbers((*a)["resolution"], !hdf5)) return;
    if (a->contains("pixelResolution") && (*a)["pixelResolution"].is_object()) {
      const json& p = (*a)["pixelResolution"];
      if (numbers(p.value("dimensions", json()), true)) {
        if (p.value("unit", json()).is_string()) *unit = p["unit"].get<std::string>();
        return;
      }
    }
  }
}

json NgffDataset(const std::string& path, const std::vector<double>& scale,
                 const std::vector<double>& translation) {
  return {{"path", path},
          {"coordinateTransformations",
           json::array({{{"type", "scale"}, {"scale", scale}},
                        {{"type", "translation"}, {"translation", translation}}})}};
}

// Replaces the entry named `name` in a multiscales list, or appends it.
json WithEntry(json list, const json& entry) {
  if (!list.is_array()) list = json::array();
  for (auto& m : list) {
    if (m.is_object() && m.value("name", json()) == entry["name"]) {
      m = entry;
      return list;
    }
  }
  list.push_back(entry);
  return list;
}

}  // namespace

PyramidResult BuildPyramid(const PyramidOptions& o) {
  if (o.levels < 1 || o.levels > 30) {
    throw InvalidArgument("pyramid levels must be 1 to 30, got " + std::to_string(o.levels));
  }
  if (o.method != "mean" && o.method != "mode") {
    throw InvalidArgument("pyramid method must be \"mean\" or \"mode\", got \"" + o.method + "\"");
  }
  const std::string dataset = AbsoluteLocation(o.dataset);
  const auto [group, dataset_name] = SplitLocation(dataset);
  const Dataset level0 = Dataset::Open(dataset);
  const Shape& shape0 = level0.shape();
  const Axes axes = AxesOf(dataset, shape0.size());
  const size_t spatial = shape0.size() - axes.channels;
  const Shape spatial0(shape0.begin() + static_cast<std::ptrdiff_t>(axes.channels), shape0.end());

  std::vector<double> voxel(spatial, 1.0);
  std::string unit;
  VoxelSizeFromAttributes(dataset, spatial, &voxel, &unit);
  if (o.voxel_size) {
    if (o.voxel_size->size() != spatial) {
      throw InvalidArgument("--voxel-size has " + std::to_string(o.voxel_size->size()) +
                            " values; " + dataset + " has " + std::to_string(spatial) +
                            " spatial axes");
    }
    for (double v : *o.voxel_size) {
      if (!(v > 0) || !std::isfinite(v)) {
        throw InvalidArgument("--voxel-size values must be positive, got " + std::to_string(v));
      }
    }
    voxel = *o.voxel_size;
  }
  if (!o.unit.empty()) unit = o.unit;
  if (unit.empty()) unit = "nanometer";

  const std::vector<Shape> factors = PyramidFactors(spatial0, voxel, o.levels);
  const std::vector<std::string> names = PyramidLevelNames(dataset_name, o.levels);
  try {
    ReadNodeAttributes(group);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kNotFound) throw;
    throw InvalidArgument(
        dataset + ": a pyramid's levels and metadata go in the dataset's group, and " + group +
        " is not one (put the dataset in a group, e.g. " + "vol.zarr/raw)");
  }

  PyramidResult r;
  r.written_by_blocks = std::min(o.written_levels, o.levels);
  r.shapes.push_back(shape0);
  r.scales.push_back(voxel);
  Shape total(spatial, 1);
  Shape chunks = level0.layout().chunks;
  for (int k = 0; k < o.levels; ++k) {
    const std::string out = JoinLocation(group, names[k]);
    std::vector<double> scale(spatial);
    for (size_t a = 0; a < spatial; ++a) {
      total[a] *= factors[k][a];
      scale[a] = voxel[a] * static_cast<double>(total[a]);
    }
    r.levels.push_back(out);
    r.scales.push_back(scale);
    if (k < o.written_levels) {
      Shape want = r.shapes.back();
      for (size_t a = 0; a < spatial; ++a) {
        Index& n = want[axes.channels + a];
        n = (n + factors[k][a] - 1) / factors[k][a];
      }
      const Shape have = Dataset::Open(out).shape();
      if (have != want) {
        throw FailedPrecondition(out + ": level " + std::to_string(k + 1) + " has shape " +
                                 ShapeToString(have) + ", the pyramid's " + ShapeToString(want) +
                                 "; run the job again with --force");
      }
      r.shapes.push_back(have);
      continue;
    }
    JobSpec spec;
    spec.source = "pyramid of " + dataset;
    spec.input.path = r.levels.size() > 1 ? r.levels[r.levels.size() - 2] : dataset;
    spec.input.channels = axes.channels > 0;
    spec.output.path = out;
    spec.output.format = level0.format();
    spec.output.dtype = level0.dtype();
    spec.output.chunks = chunks;
    spec.output.codec = o.codec;
    spec.op = {{"type", "downsample"}, {"factor", factors[k]}, {"method", o.method}};
    spec.run.threads = o.threads;
    // Beside the levels; for a group at a URL, on this filesystem (engine/job.h DefaultJobDir).
    spec.run.jobdir = !o.jobdirs.empty() ? (fs::path(o.jobdirs) / names[k]).string()
                      : IsUrl(group)     ? DefaultJobDir(out)
                                     : (fs::path(group) / ".volbatch-pyramid" / names[k]).string();
    RunOptions ro;
    ro.threads = o.threads;
    ro.quiet = o.quiet;
    ro.force = o.force;
    const RunSummary s = RunJob(spec, ro);
    if (s.blocks_failed > 0) {
      throw FailedPrecondition(out + ": " + std::to_string(s.blocks_failed) + " of " +
                               std::to_string(s.blocks_total) +
                               " blocks of the level failed; run the pyramid again to finish them");
    }
    r.shapes.push_back(Dataset::Open(out).shape());
  }

  // The metadata, written once every level is complete.
  const std::string format = level0.format();
  std::vector<std::string> paths = {dataset_name};
  paths.insert(paths.end(), names.begin(), names.end());
  if (format == "n5") {
    json scales = json::array();
    for (size_t k = 0; k < r.scales.size(); ++k) {
      json f = json::array();
      for (size_t a = spatial; a-- > 0;) f.push_back(std::llround(r.scales[k][a] / voxel[a]));
      scales.push_back(f);
      UpdateNodeAttributes(JoinLocation(group, paths[k]), {{"downsamplingFactors", f}});
    }
    json resolution = json::array(), units = json::array();
    for (size_t a = spatial; a-- > 0;) {
      resolution.push_back(voxel[a]);
      units.push_back(unit);
    }
    UpdateNodeAttributes(
        group,
        {{"scales", scales}, {"multiScale", true}, {"resolution", resolution}, {"units", units}});
    r.metadata = JoinLocation(group, "attributes.json");
    return r;
  }
  json ax = json::array();
  for (size_t a = 0; a < axes.names.size(); ++a) {
    if (a < axes.channels) {
      ax.push_back({{"name", axes.names[a]}, {"type", "channel"}});
    } else {
      ax.push_back({{"name", axes.names[a]}, {"type", "space"}, {"unit", unit}});
    }
  }
  json datasets = json::array();
  for (size_t k = 0; k < r.scales.size(); ++k) {
    std::vector<double> scale(axes.channels, 1.0), translation(axes.channels, 0.0);
    for (size_t a = 0; a < spatial; ++a) {
      scale.push_back(r.scales[k][a]);
      // Level k's voxel i covers level-0 voxels [i F, (i + 1) F): its centre is (F - 1) / 2 in.
      translation.push_back((r.scales[k][a] - voxel[a]) / 2);
    }
    datasets.push_back(NgffDataset(paths[k], scale, translation));
  }
  json entry = {{"name", dataset_name},
                {"axes", ax},
                {"datasets", datasets},
                {"type", o.method},
                {"metadata", {{"method", "volbatch pyramid"}, {"reduction", o.method}}}};
  if (format == "zarr3") {
    json ome = json::object();
    try {
      const json attrs = ReadNodeAttributes(group);
      if (attrs.contains("ome") && attrs["ome"].is_object()) ome = attrs["ome"];
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kNotFound) throw;
    }
    ome["version"] = "0.5";
    ome["multiscales"] = WithEntry(ome.value("multiscales", json::array()), entry);
    UpdateNodeAttributes(group, {{"ome", ome}});
    r.metadata = JoinLocation(group, "zarr.json");
  } else {
    entry["version"] = "0.4";
    json existing = json::array();
    try {
      existing = ReadNodeAttributes(group).value("multiscales", json::array());
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kNotFound) throw;
    }
    UpdateNodeAttributes(group, {{"multiscales", WithEntry(existing, entry)}});
    r.metadata = JoinLocation(group, ".zattrs");
  }
  return r;
}

}  // namespace volbatch

namespace volbatch {

PyramidResult FinishJobPyramid(const JobSpec& spec, int threads, bool quiet, bool force) {
  PyramidOptions o;
  o.dataset = spec.output.path;
  o.levels = spec.output.pyramid;
  o.method = spec.output.pyramid_method;
  o.codec = spec.output.codec;
  o.threads = threads;
  o.quiet = quiet;
  o.force = force;
  // A job that names its job directory keeps the passes' in it too, not in the working
  // directory (an output at a URL) or beside the output.
  if (!spec.run.jobdir.empty()) o.jobdirs = (fs::path(JobDirOf(spec)) / "pyramid").string();
  // The job's blocks chose their factors from this voxel size; the pass must use the same.
  std::optional<nlohmann::json> job = JobDir(JobDirOf(spec)).ReadJob();
  if (!job) throw NotFound(JobDirOf(spec) + ": not a job directory (no job.json)");
  const nlohmann::json pyramid =
      job->value("identity", nlohmann::json()).value("pyramid", nlohmann::json());
  o.written_levels =
      pyramid.is_object()
          ? static_cast<int>(pyramid.value("block_levels", nlohmann::json::array()).size())
          : 0;
  const Dataset out = Dataset::Open(spec.output.path);
  const size_t spatial = out.rank() == 4 ? 3 : out.rank();
  const Shape output_spatial(out.shape().end() - static_cast<std::ptrdiff_t>(spatial),
                             out.shape().end());
  Shape input_spatial = Dataset::Open(spec.input.path).shape();
  if (spec.input.channels && !input_spatial.empty()) input_spatial.erase(input_spatial.begin());
  o.voxel_size = JobVoxelSize(spec, input_spatial, output_spatial);
  return BuildPyramid(o);
}

std::vector<double> JobVoxelSize(const JobSpec& spec, const Shape& input_spatial,
                                 const Shape& output_spatial) {
  if (spec.output.voxel_size) return *spec.output.voxel_size;
  const size_t rank = output_spatial.size();
  std::vector<double> voxel(rank, 1.0);
  std::vector<double> input;  // stays empty when the attributes say nothing
  std::string unit;
  if (input_spatial.size() == rank) {
    VoxelSizeFromAttributes(AbsoluteLocation(spec.input.path), rank, &input, &unit);
  }
  if (input.size() != rank) return voxel;
  for (size_t i = 0; i < rank; ++i) {
    voxel[i] = output_spatial[i] > 0 ? input[i] * static_cast<double>(input_spatial[i]) /
                                           static_cast<double>(output_spatial[i])
                                     : input[i];
  }
  return voxel;
}

}  // namespace volbatch
