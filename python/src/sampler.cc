// volbatch.WindowSampler: random training windows (train/window_loader.h) as dicts of numpy
// arrays that own the loader's buffers (no copy). The GIL is released while a window is waited
// for or computed, so Python threads (and a torch training step) run meanwhile; the prefetch
// threads never touch Python.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "bindings.h"
#include "volbatch/core/error.h"
#include "volbatch/train/window_loader.h"

namespace py = pybind11;

namespace volbatch::python {
namespace {

py::dtype SamplerDtype(DataType t) { return py::dtype(std::string(DataTypeName(t))); }

py::tuple SamplerTuple(const Shape& s) {
  py::tuple t(s.size());
  for (size_t i = 0; i < s.size(); ++i) t[i] = py::int_(s[i]);
  return t;
}

py::array OwningArray(Array&& a) {
  const py::dtype dtype = SamplerDtype(a.dtype());
  const std::vector<py::ssize_t> shape(a.shape().begin(), a.shape().end());
  if (a.num_elements() == 0) return py::array(dtype, shape);
  auto* owned = new Array(std::move(a));
  py::capsule base(owned, [](void* p) { delete static_cast<Array*>(p); });
  return py::array(dtype, shape, owned->data(), base);
}

DataType ParseDtype(const py::handle& h, const std::string& what) {
  std::string name;
  try {
    name = py::str(py::dtype::from_args(py::reinterpret_borrow<py::object>(h)).attr("name"));
  } catch (const py::error_already_set&) {
    throw InvalidArgument(what + ": not a dtype");
  }
  return ParseDataType(name, what);
}

// One axis of a scale: 2 or "2" (source has 2 voxels per reference voxel), 0.5 or "1/2".
std::pair<Index, Index> ParseFactor(const py::handle& h, const std::string& what) {
  if (py::isinstance<py::str>(h)) {
    const std::string s = py::str(h);
    const auto slash = s.find('/');
    try {
      size_t used = 0;
      if (slash == std::string::npos) {
        const Index up = std::stoll(s, &used);
        if (used == s.size()) return {up, 1};
      } else {
        const Index up = std::stoll(s.substr(0, slash), &used);
        size_t used2 = 0;
        const Index down = std::stoll(s.substr(slash + 1), &used2);
        if (used == slash && used2 == s.size() - slash - 1) return {up, down};
      }
    } catch (const std::exception&) {
    }
    throw InvalidArgument(what + ": \"" + s + "\" is not an integer or 1/integer");
  }
  const double f = py::cast<double>(h);
  if (f >= 1 && f == std::floor(f) && f < 1e15) return {static_cast<Index>(f), 1};
  if (f > 0 && f < 1) {
    const double inv = 1 / f;
    const double down = std::round(inv);
    if (std::abs(inv - down) < 1e-9 * inv) return {1, static_cast<Index>(down)};
  }
  throw InvalidArgument(what + ": " + std::to_string(f) +
                        " is not an integer factor or the inverse of one");
}

SourceSpec ParseSource(const py::handle& h, size_t i) {
  const std::string what = "sources[" + std::to_string(i) + "]";
  SourceSpec spec;
  if (py::isinstance<py::str>(h) || py::hasattr(h, "__fspath__")) {
    spec.path = py::str(py::module_::import("os").attr("fspath")(h));
  } else if (py::isinstance<py::dict>(h)) {
    const py::dict d = py::reinterpret_borrow<py::dict>(h);
    for (const auto& [k, v] : d) {
      const std::string key = py::str(k);
      const std::string field = what + "." + key;
      if (key == "path") {
        spec.path = py::str(py::module_::import("os").attr("fspath")(v));
      } else if (key == "name") {
        spec.name = py::str(v);
      } else if (key == "kind") {
        spec.kind = ParseSourceKind(py::str(v), field);
      } else if (key == "scale") {
        if (v.is_none()) continue;
        Scale s;
        for (const auto& f : py::reinterpret_borrow<py::sequence>(v)) {
          const auto [up, down] = ParseFactor(f, field);
          s.up.push_back(up);
          s.down.push_back(down);
        }
        spec.scale = s;
      } else if (key == "normalize") {
        if (v.is_none()) continue;
        const auto range = py::cast<std::vector<double>>(v);
        if (range.size() != 2) throw InvalidArgument(field + ": expected [lo, hi]");
        spec.normalize = std::make_pair(range[0], range[1]);
      } else if (key == "dtype") {
        if (!v.is_none()) spec.dtype = ParseDtype(v, field);
      } else {
        throw InvalidArgument(field + ": unknown key (path, name, kind, scale, normalize, dtype)");
      }
    }
    if (spec.path.empty()) throw InvalidArgument(what + ": no path");
  } else {
    throw InvalidArgument(what + ": expected a path or a dict with a path");
  }
  if (spec.name.empty()) {
    std::filesystem::path p(spec.path);
    while (!p.empty() && p.filename().empty()) p = p.parent_path();
    spec.name = p.filename().string();
  }
  return spec;
}

std::vector<bool> ParseFlip(const py::object& flip, size_t rank) {
  if (flip.is_none() || (py::isinstance<py::bool_>(flip) && !flip.cast<bool>())) return {};
  if (py::isinstance<py::bool_>(flip)) return std::vector<bool>(rank, true);
  std::vector<bool> out(rank, false);
  for (const auto& a : py::reinterpret_borrow<py::sequence>(flip)) {
    Index axis = py::cast<Index>(a);
    if (axis < 0) axis += static_cast<Index>(rank);
    if (axis < 0 || axis >= static_cast<Index>(rank)) {
      throw InvalidArgument("flip: axis " + std::to_string(py::cast<Index>(a)) +
                            " is not a spatial axis of a rank-" + std::to_string(rank) + " window");
    }
    out[static_cast<size_t>(axis)] = true;
  }
  return out;
}

// The Python object: the loader plus what Python asks about the windows it returned.
struct PySampler {
  std::unique_ptr<WindowLoader> loader;
  bool with_info = false;
  std::vector<Shape> positions;  // of the windows returned since the stream started
  py::object last_info = py::none();

  py::dict Info(const Window& w) const {
    py::dict info;
    info["index"] = py::int_(w.index);
    info["position"] = OwningArray(Array::FromBytes(
        DataType::kInt64, {static_cast<Index>(w.position.size())},
        Bytes(reinterpret_cast<const std::byte*>(w.position.data()),
              reinterpret_cast<const std::byte*>(w.position.data() + w.position.size()))));
    py::dict boxes;
    for (size_t s = 0; s < w.boxes.size(); ++s) {
      py::list sl;
      for (size_t i = 0; i < w.boxes[s].rank(); ++i) {
        const py::int_ b(w.boxes[s].begin[i]), e(w.boxes[s].end(i));
        sl.append(py::reinterpret_steal<py::object>(PySlice_New(b.ptr(), e.ptr(), nullptr)));
      }
      boxes[py::str(loader->source(s).name)] = py::tuple(sl);
    }
    info["slices"] = boxes;
    py::tuple flip(w.augmentation.flip.size());
    for (size_t i = 0; i < w.augmentation.flip.size(); ++i) {
      flip[i] = py::bool_(w.augmentation.flip[i]);
    }
    info["flip"] = flip;
    info["rot90"] = w.augmentation.rot90;
    info["gain"] = w.augmentation.gain;
    info["offset"] = w.augmentation.offset;
    info["label_class"] = w.label_class ? py::object(py::int_(*w.label_class)) : py::none();
    info["attempts"] = w.attempts;
    info["foreground"] = w.foreground ? py::object(py::float_(*w.foreground)) : py::none();
    return info;
  }

  py::dict ToDict(Window&& w, bool record) {
    py::dict d;
    for (size_t s = 0; s < w.arrays.size(); ++s) {
      d[py::str(loader->source(s).name)] = OwningArray(std::move(w.arrays[s]));
    }
    py::dict info = Info(w);
    if (record) {
      positions.push_back(w.position);
      last_info = info;
    }
    if (with_info) d["info"] = info;
    return d;
  }

  // Fills out[name][b] with the stream's next windows, b = 0 .. count - 1 (count: the arrays'
  // first extent), straight from the loader's buffers into the caller's (e.g. shared memory).
  py::object NextInto(const py::dict& out) {
    const size_t n = loader->num_sources();
    std::vector<std::byte*> dst(n);
    std::vector<size_t> bytes(n);
    Index count = -1;
    for (size_t s = 0; s < n; ++s) {
      const std::string& name = loader->source(s).name;
      const std::string what = "next_into: out['" + name + "']";
      if (!out.contains(name)) throw InvalidArgument(what + " is missing");
      py::object o = out[py::str(name)];
      if (!py::isinstance<py::array>(o)) throw InvalidArgument(what + " is not a numpy array");
      py::array a = py::reinterpret_borrow<py::array>(o);
      const Shape window = loader->output_shape(s);
      Shape shape(a.shape(), a.shape() + a.ndim());
      if (shape.empty() || Shape(shape.begin() + 1, shape.end()) != window) {
        throw InvalidArgument(what + " has shape " + ShapeToString(shape) + ", expected [N, " +
                              ShapeToString(window).substr(1));
      }
      if (!a.dtype().is(SamplerDtype(loader->output_dtype(s))) &&
          !a.dtype().equal(SamplerDtype(loader->output_dtype(s)))) {
        throw InvalidArgument(what + " has dtype " + std::string(py::str(a.dtype())) +
                              ", expected " + std::string(DataTypeName(loader->output_dtype(s))));
      }
      if (!(a.flags() & py::array::c_style) || !a.writeable()) {
        throw InvalidArgument(what + " must be C-contiguous and writable");
      }
      if (count >= 0 && shape[0] != count) {
        throw InvalidArgument("next_into: the arrays differ in their first extent");
      }
      count = shape[0];
      dst[s] = static_cast<std::byte*>(a.mutable_data());
      bytes[s] = static_cast<size_t>(NumElements(window)) * ByteSize(loader->output_dtype(s));
    }
    std::vector<Window> windows(static_cast<size_t>(std::max<Index>(count, 0)));
    {
      py::gil_scoped_release release;
      for (Index b = 0; b < count; ++b) {
        Window& w = windows[static_cast<size_t>(b)];
        w = loader->Next();
        for (size_t s = 0; s < n; ++s) {
          std::memcpy(dst[s] + static_cast<size_t>(b) * bytes[s], w.arrays[s].data(), bytes[s]);
        }
        w.arrays.clear();
      }
    }
    py::list infos;
    for (const Window& w : windows) {
      positions.push_back(w.position);
      last_info = Info(w);
      infos.append(last_info);
    }
    if (!with_info) return py::none();
    return infos;
  }

  py::dict Next() {
    Window w;
    {
      py::gil_scoped_release release;
      w = loader->Next();
    }
    return ToDict(std::move(w), true);
  }
};

std::unique_ptr<PySampler> MakeSampler(
    const py::sequence& sources, const py::sequence& window, uint64_t seed, const py::object& flip,
    bool rotate, double gain_jitter, double offset_jitter, const std::string& foreground,
    double min_foreground, int64_t background, int max_tries, const std::string& balance,
    const std::vector<int64_t>& classes, const std::vector<double>& class_weights, int threads,
    int prefetch, std::optional<int64_t> cache_bytes, bool with_info,
    const std::shared_ptr<ClassIndex>& class_index) {
  WindowLoaderOptions o;
  for (size_t i = 0; i < sources.size(); ++i) o.sources.push_back(ParseSource(sources[i], i));
  for (const auto& w : window) o.window.push_back(py::cast<Index>(w));
  o.seed = seed;
  o.flip = ParseFlip(flip, o.window.size());
  o.rotate = rotate;
  o.gain_jitter = gain_jitter;
  o.offset_jitter = offset_jitter;
  o.foreground = foreground;
  o.min_foreground = min_foreground;
  o.background = background;
  o.max_tries = max_tries;
  o.balance = balance;
  o.classes = classes;
  o.class_weights = class_weights;
  o.threads = threads;
  o.prefetch = prefetch;
  if (cache_bytes) {
    if (*cache_bytes < 0) throw InvalidArgument("cache_bytes must be >= 0");
    o.cache_bytes = static_cast<size_t>(*cache_bytes);
  }
  if (with_info) {
    for (const auto& s : o.sources) {
      if (s.name == "info") throw InvalidArgument("with_info: a source is named 'info'");
    }
  }
  auto p = std::make_unique<PySampler>();
  p->with_info = with_info;
  {
    py::gil_scoped_release release;  // opening and the class index scan
    p->loader = std::make_unique<WindowLoader>(std::move(o), class_index);
  }
  return p;
}

}  // namespace

void BindSampler(py::module_& m) {
  m.def(
      "default_cache_bytes", [](int processes) { return DefaultCacheBytes(processes); },
      py::arg("processes") = 1,
      "The chunk cache a WindowSampler takes when cache_bytes is None: a quarter of the memory "
      "this process may still use (MemAvailable under the cgroup's limit), split between "
      "`processes` samplers (a DataLoader's workers), at least 64 MiB.");
  py::class_<ClassIndex, std::shared_ptr<ClassIndex>>(
      m, "ClassIndex",
      "Per-chunk voxel counts of the balanced classes of a label volume (built once by a "
      "WindowSampler with balance=...; pass it to other samplers over the same data, e.g. "
      "DataLoader workers, with class_index=). Picklable.")
      .def_property_readonly("classes", &ClassIndex::classes)
      .def_property_readonly("counts",
                             [](const ClassIndex& c) {
                               std::vector<uint64_t> n;
                               for (size_t i = 0; i < c.classes().size(); ++i) {
                                 n.push_back(c.Count(i));
                               }
                               return n;
                             })
      .def(py::pickle(
          [](const ClassIndex& c) {
            const Bytes b = c.Serialize();
            return py::bytes(reinterpret_cast<const char*>(b.data()), b.size());
          },
          [](const py::bytes& b) {
            const std::string_view s = b;
            return std::make_shared<ClassIndex>(ClassIndex::Deserialize(
                std::span(reinterpret_cast<const std::byte*>(s.data()), s.size())));
          }));

  py::class_<PySampler>(m, "WindowSampler", R"doc(
Random training windows from one or many aligned N5/Zarr datasets, computed ahead by C++
threads and returned in order as dicts {source name: numpy array}.

sources: paths, or dicts {path, name, kind ('image' | 'label' | 'mask'), scale (per axis:
  source voxels per reference voxel, e.g. [1, 2, 2] or [1, 0.5, 0.5]), normalize ([lo, hi]
  -> [0, 1], images), dtype}. The name defaults to the path's last component.
window: the window in the reference grid (spatial axes; leading channel axes are read whole).
seed: windows are a pure function of (seed, window index): same seed, same windows.
flip: True (every axis), False, or a list of axes flipped with probability 1/2.
rotate: 90-degree rotations in the last two axes (needs a square window there).
gain_jitter, offset_jitter: images: value * U[1-g, 1+g] + U[-o, o] (after normalize).
foreground, min_foreground, background, max_tries: accept a window only if at least
  min_foreground of the `foreground` source (label != background, mask > 0) is foreground;
  at most max_tries positions per window, then the window raises FailedPrecondition.
balance, classes, class_weights: draw each window's class by weight, then a voxel of that
  class uniformly (a ClassIndex, built once), and centre the window on it where possible.
threads, prefetch, cache_bytes: prefetch threads, windows computed ahead, bytes of decoded
  chunks kept (0: none; None: default_cache_bytes(), a quarter of the available memory).
with_info: add an 'info' dict (index, position, slices, flip, rot90, gain, offset,
  label_class, attempts, foreground) to each window.
class_index: a ClassIndex from another sampler over the same labels (skips the scan).
)doc")
      .def(py::init(&MakeSampler), py::arg("sources"), py::arg("window"), py::kw_only(),
           py::arg("seed") = 0, py::arg("flip") = false, py::arg("rotate") = false,
           py::arg("gain_jitter") = 0.0, py::arg("offset_jitter") = 0.0, py::arg("foreground") = "",
           py::arg("min_foreground") = 0.0, py::arg("background") = 0, py::arg("max_tries") = 100,
           py::arg("balance") = "", py::arg("classes") = std::vector<int64_t>{},
           py::arg("class_weights") = std::vector<double>{}, py::arg("threads") = 2,
           py::arg("prefetch") = 8, py::arg("cache_bytes") = py::none(),
           py::arg("with_info") = false, py::arg("class_index") = nullptr)
      .def("next", &PySampler::Next, "The stream's next window (dict of numpy arrays).")
      .def("__next__", &PySampler::Next)
      .def("__iter__", [](py::object self) { return self; })
      .def(
          "window",
          [](PySampler& p, Index index) {
            Window w;
            {
              py::gil_scoped_release release;
              w = p.loader->Compute(index);
            }
            return p.ToDict(std::move(w), false);
          },
          py::arg("index"),
          "Window `index` (a global index) computed now, without the prefetch queue; equal to "
          "what the stream returns for that index.")
      .def(
          "set_stream",
          [](PySampler& p, Index worker_id, Index num_workers, Index start, Index block) {
            {
              py::gil_scoped_release release;
              p.loader->SetStream(worker_id, num_workers, start, block);
            }
            p.positions.clear();
            p.last_info = py::none();
          },
          py::arg("worker_id"), py::arg("num_workers"), py::arg("start") = 0, py::arg("block") = 1,
          "Restart as stream worker_id of num_workers: the stream takes blocks of `block` "
          "consecutive global windows in turn, window k being global index start + (worker_id "
          "+ num_workers * (k // block)) * block + k % block (workers together give the "
          "windows one stream gives; block = batch size keeps batches in order).")
      .def("next_into", &PySampler::NextInto, py::arg("out"),
           "Writes the next N windows into out[name][0..N-1] (preallocated C-contiguous arrays "
           "of the delivered dtype and shape [N, *shape]); returns their infos if with_info.")
      .def_property_readonly(
          "positions",
          [](const PySampler& p) {
            py::list l;
            for (const auto& s : p.positions) l.append(SamplerTuple(s));
            return l;
          },
          "Reference-grid starts of the windows next() returned since the stream started.")
      .def_readonly("last_info", &PySampler::last_info,
                    "The info of the last window next() returned.")
      .def_property_readonly("names",
                             [](const PySampler& p) {
                               std::vector<std::string> n;
                               for (size_t s = 0; s < p.loader->num_sources(); ++s) {
                                 n.push_back(p.loader->source(s).name);
                               }
                               return n;
                             })
      .def_property_readonly("dtypes",
                             [](const PySampler& p) {
                               py::dict d;
                               for (size_t s = 0; s < p.loader->num_sources(); ++s) {
                                 d[py::str(p.loader->source(s).name)] =
                                     SamplerDtype(p.loader->output_dtype(s));
                               }
                               return d;
                             })
      .def_property_readonly("shapes",
                             [](const PySampler& p) {
                               py::dict d;
                               for (size_t s = 0; s < p.loader->num_sources(); ++s) {
                                 d[py::str(p.loader->source(s).name)] =
                                     SamplerTuple(p.loader->output_shape(s));
                               }
                               return d;
                             })
      .def_property_readonly("stored_dtypes",
                             [](const PySampler& p) {
                               py::dict d;
                               for (size_t s = 0; s < p.loader->num_sources(); ++s) {
                                 d[py::str(p.loader->source(s).name)] =
                                     SamplerDtype(p.loader->dataset(s).dtype());
                               }
                               return d;
                             })
      .def_property_readonly(
          "window_shape",
          [](const PySampler& p) { return SamplerTuple(p.loader->options().window); })
      .def_property_readonly(
          "max_start",
          [](const PySampler& p) { return SamplerTuple(p.loader->sampler().max_start()); },
          "The largest window start per axis (starts are multiples of `align`).")
      .def_property_readonly(
          "align", [](const PySampler& p) { return SamplerTuple(p.loader->sampler().align()); })
      .def_property_readonly("num_positions",
                             [](const PySampler& p) { return p.loader->sampler().num_positions(); })
      .def_property_readonly("class_index",
                             [](const PySampler& p) -> py::object {
                               auto c = p.loader->class_index();
                               if (!c) return py::none();
                               return py::cast(std::const_pointer_cast<ClassIndex>(c));
                             })
      .def_property_readonly(
          "cache_bytes",
          [](const PySampler& p) { return p.loader->options().cache_bytes.value_or(0); },
          "The decoded-chunk cache's capacity (resolved when cache_bytes was None).")
      .def_property_readonly("cache_stats", [](const PySampler& p) {
        const ChunkCache::Stats s = p.loader->cache_stats();
        py::dict d;
        d["hits"] = s.hits;
        d["misses"] = s.misses;
        d["evictions"] = s.evictions;
        d["bytes"] = s.bytes;
        d["entries"] = s.entries;
        return d;
      });
}

}  // namespace volbatch::python
