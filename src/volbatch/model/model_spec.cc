#include "volbatch/model/model_spec.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "volbatch/core/error.h"

namespace volbatch {
namespace fs = std::filesystem;

namespace {

Error RdfError(const std::string& rdf, const std::string& field, const std::string& what) {
  return InvalidArgument(rdf + ": " + field + ": " + what);
}

// The positions of z, y, x in an rdf axes string ("bczyx") or list ([{type/id: ...}]).
std::vector<size_t> SpatialAxes(const YAML::Node& axes, const std::string& rdf,
                                const std::string& field, size_t rank) {
  std::string letters;
  if (axes.IsScalar()) {
    letters = axes.as<std::string>();
  } else if (axes.IsSequence()) {
    for (const auto& a : axes) {
      std::string id = a.IsScalar() ? a.as<std::string>()
                                    : (a["id"] ? a["id"].as<std::string>()
                                               : (a["name"] ? a["name"].as<std::string>() : ""));
      if (id == "batch") id = "b";
      if (id == "channel") id = "c";
      letters += id.empty() ? '?' : id[0];
    }
  } else {
    throw RdfError(rdf, field, "must be an axes string like \"bczyx\"");
  }
  std::vector<size_t> pos;
  for (char want : std::string("zyx")) {
    const size_t p = letters.find(want);
    if (p == std::string::npos) {
      throw RdfError(rdf, field, "\"" + letters + "\" has no " + std::string(1, want) + " axis");
    }
    pos.push_back(p);
  }
  if (rank > 3) {
    // Only z, y, x of a 3-D model are read here; other ranks need explicit job keys.
  }
  return pos;
}

std::vector<double> Numbers(const YAML::Node& n, const std::string& rdf, const std::string& field) {
  if (!n.IsSequence()) throw RdfError(rdf, field, "must be a list of numbers");
  std::vector<double> v;
  for (const auto& e : n) {
    try {
      v.push_back(e.as<double>());
    } catch (const YAML::Exception&) {
      throw RdfError(rdf, field, "must be a list of numbers");
    }
  }
  return v;
}

struct RdfGeometry {
  std::optional<Shape> window, crop;
  std::optional<Scale> scale;
};

RdfGeometry ReadRdf(const std::string& rdf, size_t rank) {
  RdfGeometry g;
  YAML::Node root;
  try {
    root = YAML::LoadFile(rdf);
  } catch (const YAML::Exception& e) {
    throw InvalidArgument(rdf + ": not valid YAML (" + std::string(e.what()) + ")");
  }
  if (rank != 3) return g;
  const YAML::Node in =
      root["inputs"] && root["inputs"].IsSequence() ? root["inputs"][0] : YAML::Node();
  const YAML::Node out =
      root["outputs"] && root["outputs"].IsSequence() ? root["outputs"][0] : YAML::Node();
  if (in && in["axes"] && in["shape"]) {
    const auto pos = SpatialAxes(in["axes"], rdf, "inputs[0].axes", rank);
    YAML::Node shape = in["shape"];
    if (shape.IsMap()) shape = shape["min"];  // parametrized: min + k * step; take the min
    const auto v = Numbers(shape, rdf, "inputs[0].shape");
    Shape w;
    for (size_t p : pos) {
      if (p >= v.size()) throw RdfError(rdf, "inputs[0].shape", "shorter than its axes");
      w.push_back(static_cast<Index>(v[p]));
    }
    g.window = w;
  }
  if (out && out["axes"]) {
    const auto pos = SpatialAxes(out["axes"], rdf, "outputs[0].axes", rank);
    if (out["halo"]) {
      const auto v = Numbers(out["halo"], rdf, "outputs[0].halo");
      Shape c;
      for (size_t p : pos) {
        if (p >= v.size()) throw RdfError(rdf, "outputs[0].halo", "shorter than its axes");
        c.push_back(static_cast<Index>(v[p]));
      }
      g.crop = c;
    }
    if (out["shape"] && out["shape"].IsMap() && out["shape"]["scale"]) {
      const auto v = Numbers(out["shape"]["scale"], rdf, "outputs[0].shape.scale");
      Scale s = Scale::Identity(3);
      for (size_t i = 0; i < 3; ++i) {
        if (pos[i] >= v.size()) throw RdfError(rdf, "outputs[0].shape.scale", "too short");
        const double f = v[pos[i]];
        if (f >= 1 && f == std::floor(f)) {
          s.up[i] = static_cast<Index>(f);
        } else if (f > 0 && f < 1 && 1 / f == std::floor(1 / f)) {
          s.down[i] = static_cast<Index>(1 / f);
        } else {
          throw RdfError(rdf, "outputs[0].shape.scale",
                         "only integer up- or down-scales are supported, got " + std::to_string(f));
        }
      }
      g.scale = s;
    }
  }
  return g;
}

Scale ScaleFrom(OperatorParams& p) {
  const size_t r = p.spatial_rank();
  Scale s = Scale::Identity(r);
  const std::vector<double> v = p.Numbers("scale");
  for (size_t i = 0; i < r; ++i) {
    if (v[i] >= 1 && v[i] == std::floor(v[i])) {
      s.up[i] = static_cast<Index>(v[i]);
    } else if (v[i] > 0 && v[i] < 1 && 1 / v[i] == std::floor(1 / v[i])) {
      s.down[i] = static_cast<Index>(1 / v[i]);
    } else {
      throw p.Bad("scale", "each axis must be an integer up-factor (2) or a down-factor (0.5)");
    }
  }
  return s;
}

// window, scale, output_window, crop and the effective window and context they give.
void ParseGeometry(OperatorParams& p, const RdfGeometry& rdf, ModelSpec& m) {
  const size_t r = p.spatial_rank();
  if (p.Has("window")) {
    m.window = p.Integers("window");
  } else if (rdf.window) {
    m.window = *rdf.window;
  } else {
    throw p.Bad("window", "missing: the model's input window (z, y, x), e.g. [32, 128, 128]");
  }
  m.scale = p.Has("scale") ? ScaleFrom(p) : rdf.scale.value_or(Scale::Identity(r));
  m.output_window.resize(r);
  for (size_t i = 0; i < r; ++i) {
    m.output_window[i] = m.window[i] * m.scale.up[i] / m.scale.down[i];
  }
  if (p.Has("output_window")) m.output_window = p.Integers("output_window");
  m.crop = p.Has("crop") ? p.Integers("crop") : rdf.crop.value_or(Shape(r, 0));
  m.effective.resize(r);
  m.context.resize(r);
  for (size_t i = 0; i < r; ++i) {
    if (m.window[i] < 1) throw p.Bad("window", "must be positive");
    if (m.output_window[i] < 1) throw p.Bad("output_window", "must be positive");
    if (m.crop[i] < 0 || 2 * m.crop[i] >= m.output_window[i]) {
      throw p.Bad("crop", ShapeToString(m.crop) + " must leave part of the output window " +
                              ShapeToString(m.output_window));
    }
    m.effective[i] = m.output_window[i] - 2 * m.crop[i];
    // The input the effective window maps to, which must be whole voxels.
    const Index mapped_num = m.effective[i] * m.scale.down[i];
    if (mapped_num % m.scale.up[i] != 0) {
      throw p.Bad("output_window", "the output window less the crop (" +
                                       std::to_string(m.effective[i]) +
                                       ") must be a multiple of the scale on every axis");
    }
    const Index mapped = mapped_num / m.scale.up[i];
    const Index extra = m.window[i] - mapped;
    if (extra < 0 || extra % 2 != 0) {
      throw p.Bad("window", "input window " + ShapeToString(m.window) + " and output window " +
                                ShapeToString(m.output_window) + " (crop " + ShapeToString(m.crop) +
                                ", scale " + m.scale.ToString() +
                                ") do not centre: the input must exceed the mapped output by "
                                "the same number of voxels on both sides");
    }
    m.context[i] = extra / 2;
  }
}

// device, precision, batch.
void ParseRuntime(OperatorParams& p, ModelSpec& m) {
  m.device = p.String("device", "cpu");
  if (m.device != "cpu" && m.device != "auto" && m.device != "cuda" &&
      m.device.rfind("cuda:", 0) != 0) {
    throw p.Bad("device", "\"" + m.device + "\" is not one of cpu, cuda, cuda:N, auto");
  }
  m.precision = p.String("precision", "float32");
  if (m.precision != "float32" && m.precision != "float16" && m.precision != "bfloat16") {
    throw p.Bad("precision", "\"" + m.precision + "\" is not one of float32, float16, bfloat16");
  }
  // On a CPU a batch beyond a few windows only adds memory (a 2-level U-Net on 40x80x80
  // windows ran 13% slower per voxel at 8 than at 4); a GPU wants more to stay busy.
  m.batch = p.Integer("batch", m.device == "cpu" ? 4 : 8);
  if (m.batch < 1 || m.batch > 4096) throw p.Bad("batch", "must be between 1 and 4096");
}

void ParseNormalize(OperatorParams& p, ModelSpec& m) {
  const nlohmann::json* n = p.Raw("normalize");
  if (!n) return;
  if (n->is_string() && n->get<std::string>() == "none") {
    m.normalize = "none";
  } else if (n->is_object() && n->size() == 1 &&
             (n->contains("range") || n->contains("percentiles"))) {
    m.normalize = n->begin().key();
    const auto& v = n->begin().value();
    if (!v.is_array() || v.size() != 2 || !v[0].is_number() || !v[1].is_number() ||
        !(v[0].get<double>() < v[1].get<double>())) {
      throw p.Bad("normalize", m.normalize + " must be two increasing numbers [lo, hi]");
    }
    m.normalize_values = {v[0].get<double>(), v[1].get<double>()};
    if (m.normalize == "percentiles" &&
        (m.normalize_values[0] < 0 || m.normalize_values[1] > 100)) {
      throw p.Bad("normalize", "percentiles must lie in [0, 100]");
    }
  } else {
    throw p.Bad("normalize",
                "must be \"none\", { range = [lo, hi] } or { percentiles = [lo, "
                "hi] }, not " +
                    n->dump());
  }
}

// output, channels, output_range, denormalize (after normalize).
void ParseOutput(OperatorParams& p, ModelSpec& m) {
  m.output = p.String("output", "raw");
  if (m.output != "raw" && m.output != "softmax" && m.output != "argmax") {
    throw p.Bad("output", "\"" + m.output + "\" is not one of raw, softmax, argmax");
  }
  if (const nlohmann::json* c = p.Raw("channels")) {
    if (!c->is_array() || c->empty()) throw p.Bad("channels", "must be a list of channel indices");
    for (const auto& e : *c) {
      if (!e.is_number_integer() || e.get<Index>() < 0) {
        throw p.Bad("channels", "must hold channel indices >= 0, not " + e.dump());
      }
      m.channels.push_back(e.get<Index>());
    }
  }
  if (const nlohmann::json* o = p.Raw("output_range")) {
    if (!o->is_array() || o->size() != 2 || !(*o)[0].is_number() || !(*o)[1].is_number()) {
      throw p.Bad("output_range", "must be two numbers [lo, hi]");
    }
    m.output_range = std::vector<double>{(*o)[0].get<double>(), (*o)[1].get<double>()};
  }
  m.denormalize = p.Bool("denormalize", false);
  if (m.denormalize && m.normalize == "none") {
    throw p.Bad("denormalize", "needs a normalize = { range } or { percentiles }");
  }
  if (m.denormalize && m.output_range) {
    throw p.Bad("denormalize", "give either denormalize or output_range, not both");
  }
  if (m.output == "argmax" && (m.denormalize || m.output_range)) {
    throw p.Bad("output", "argmax writes labels; output_range and denormalize do not apply");
  }
}

// A flip along axis i changes nothing when the window is one voxel there, in and out.
bool Flippable(const ModelSpec& m, size_t i) { return m.window[i] > 1 || m.output_window[i] > 1; }

// The explicit tta_axes list: known axis names, each once, along which a flip does something.
std::vector<size_t> TtaAxes(OperatorParams& p, const ModelSpec& m, const nlohmann::json& list) {
  const std::vector<std::string> names = AxisNames(p.spatial_rank());
  std::string known;
  for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
  if (!list.is_array() || list.empty()) {
    throw p.Bad("tta_axes", "must be a list of axis names (" + known + "), e.g. [\"y\", \"x\"]");
  }
  std::vector<size_t> axes;
  for (const auto& e : list) {
    const auto it =
        e.is_string() ? std::find(names.begin(), names.end(), e.get<std::string>()) : names.end();
    if (it == names.end()) {
      throw p.Bad("tta_axes", e.dump() + " is not an axis of this volume (" + known + ")");
    }
    const size_t a = static_cast<size_t>(it - names.begin());
    if (std::find(axes.begin(), axes.end(), a) != axes.end()) {
      throw p.Bad("tta_axes", e.dump() + " is named twice");
    }
    if (!Flippable(m, a)) {
      throw p.Bad("tta_axes", e.dump() + ": the window is 1 voxel along it (input and output), " +
                                  "so a flip there changes nothing");
    }
    axes.push_back(a);
  }
  std::sort(axes.begin(), axes.end());
  return axes;
}

// tta and tta_axes (after the geometry). Every window ParseGeometry accepts is centred, so a
// flip maps it and its output window onto themselves; see tta.h.
void ParseTta(OperatorParams& p, ModelSpec& m) {
  m.tta = p.String("tta", "none");
  if (m.tta != "none" && m.tta != "flips") {
    throw p.Bad("tta", "\"" + m.tta + "\" is not one of none, flips");
  }
  const nlohmann::json* list = p.Raw("tta_axes");
  if (m.tta == "none") {
    if (list) throw p.Bad("tta_axes", "needs tta = \"flips\"");
    return;
  }
  if (list) {
    m.tta_axes = TtaAxes(p, m, *list);
    return;
  }
  for (size_t i = 0; i < m.window.size(); ++i) {
    if (Flippable(m, i)) m.tta_axes.push_back(i);
  }
  if (m.tta_axes.empty()) {
    throw p.Bad("tta", "the window is 1 voxel on every axis: flips change nothing");
  }
}

}  // namespace

std::vector<std::string> AxisNames(size_t rank) {
  const std::vector<std::string> zyx = {"z", "y", "x"};
  if (rank <= 3) return std::vector<std::string>(zyx.end() - static_cast<long>(rank), zyx.end());
  std::vector<std::string> names;
  for (size_t i = 0; i < rank; ++i) names.push_back(std::to_string(i));
  return names;
}

nlohmann::json ModelSpec::ToJson() const {
  std::vector<double> scale_values;
  for (size_t i = 0; i < scale.rank(); ++i) {
    scale_values.push_back(static_cast<double>(scale.up[i]) / static_cast<double>(scale.down[i]));
  }
  nlohmann::json j = {{"type", "torch"},
                      {"model", model},
                      {"window", window},
                      {"output_window", output_window},
                      {"crop", crop},
                      {"scale", scale_values},
                      {"device", device},
                      {"precision", precision},
                      {"batch", batch},
                      {"normalize", normalize},
                      {"output", output},
                      {"channels", channels},
                      {"denormalize", denormalize}};
  if (!normalize_values.empty()) j["normalize_values"] = normalize_values;
  if (output_range) j["output_range"] = *output_range;
  if (!rdf.empty()) j["rdf"] = rdf;
  // Only when on: jobs without tta keep the fingerprint they had before tta existed.
  if (tta != "none") {
    const std::vector<std::string> names = AxisNames(window.size());
    std::vector<std::string> axes;
    for (size_t a : tta_axes) axes.push_back(names[a]);
    j["tta"] = tta;
    j["tta_axes"] = axes;
  }
  return j;
}

ModelSpec ParseModelSpec(OperatorParams& p) {
  ModelSpec m;
  m.model = p.String("model");
  if (!fs::is_regular_file(m.model)) {
    throw p.Bad("model", m.model + ": no such file (a TorchScript .pt)");
  }
  RdfGeometry rdf;
  const fs::path rdf_path = fs::path(m.model).parent_path() / "rdf.yaml";
  if (fs::is_regular_file(rdf_path)) {
    m.rdf = rdf_path.string();
    rdf = ReadRdf(m.rdf, p.spatial_rank());
  }
  ParseGeometry(p, rdf, m);
  ParseRuntime(p, m);
  ParseNormalize(p, m);
  ParseOutput(p, m);
  ParseTta(p, m);
  return m;
}

}  // namespace volbatch
