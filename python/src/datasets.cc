// Datasets from Python: the native half of volbatch.open / create / copy and volbatch.Dataset
// (python/volbatch/_dataset.py does numpy's indexing rules and the dtype checks; this file moves
// the bytes).
//
// Reads are zero-copy: the library decodes chunks straight into an Array that the returned
// ndarray then owns through a capsule, so a read costs what the C++ read costs. Writes copy the
// caller's array once into an Array (Dataset::Write takes an owning Array), with numpy's copyto
// doing the broadcasting and the (already checked) cast in that same pass. The GIL is released
// around every read, write and copy: other Python threads, and a Dask worker's heartbeats, run
// while chunks are decoded and encoded on oneTBB's threads.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bindings.h"
#include "volbatch/cli/transfer.h"
#include "volbatch/codec/registry.h"
#include "volbatch/core/error.h"
#include "volbatch/store/dataset.h"
#include "volbatch/store/fill_value.h"

namespace py = pybind11;

namespace volbatch::python {
namespace {

py::dtype NumpyDtype(DataType t) { return py::dtype(std::string(DataTypeName(t))); }

py::tuple ToTuple(const Shape& s) {
  py::tuple t(s.size());
  for (size_t i = 0; i < s.size(); ++i) t[i] = py::int_(s[i]);
  return t;
}

std::vector<py::ssize_t> PyShape(const Shape& s) { return {s.begin(), s.end()}; }

// JSON travels between Python and C++ as text: Python's json module already knows which
// Python objects are JSON (the Python half converts numpy scalars before dumping).
py::object ToPython(const nlohmann::json& j) {
  return py::module_::import("json").attr("loads")(j.dump());
}
nlohmann::json FromText(const std::string& text, const char* what) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) throw InvalidArgument(std::string(what) + ": not JSON");
  return j;
}

// Hands an Array to numpy without copying: the ndarray's base is a capsule owning the Array.
py::array ToNumpy(Array&& a) {
  const py::dtype dtype = NumpyDtype(a.dtype());
  const std::vector<py::ssize_t> shape = PyShape(a.shape());
  if (a.num_elements() == 0) return py::array(dtype, shape);
  auto* owned = new Array(std::move(a));
  py::capsule base(owned, [](void* p) { delete static_cast<Array*>(p); });
  return py::array(dtype, shape, owned->data(), base);
}

Shape ToShape(const std::vector<int64_t>& v) { return Shape(v.begin(), v.end()); }

// A Dataset handle; shared so that numpy arrays and Python objects outlive nothing they need.
class PyDataset {
 public:
  explicit PyDataset(Dataset d) : d_(std::make_shared<Dataset>(std::move(d))) {}

  const Dataset& get() const { return *d_; }

  py::object Shards() const {
    const auto& l = d_->layout();
    if (l.write_chunks == l.chunks) return py::none();
    return ToTuple(l.write_chunks);
  }

  py::object FillValue() const {
    const auto& l = d_->layout();
    // One element's bytes in native order: numpy reads them as the exact stored value (NaN
    // payloads included).
    Bytes fill(ByteSize(l.dtype), std::byte{0});
    std::memcpy(fill.data(), l.fill_value.data(), std::min(fill.size(), l.fill_value.size()));
    py::array one = ToNumpy(Array::FromBytes(l.dtype, {1}, std::move(fill)));
    return one.attr("__getitem__")(0);
  }

  py::array Read(const std::vector<int64_t>& begin, const std::vector<int64_t>& shape) const {
    const Box region(ToShape(begin), ToShape(shape));
    Array out;
    {
      py::gil_scoped_release release;
      out = d_->Read(region);
    }
    return ToNumpy(std::move(out));
  }

  // `value`: an ndarray the Python half checked (dtype castable, shape broadcastable).
  void Write(const std::vector<int64_t>& begin, const std::vector<int64_t>& shape,
             const py::array& value) {
    const Box region(ToShape(begin), ToShape(shape));
    Array data = Array::Uninitialized(d_->dtype(), region.shape);
    if (data.num_elements() > 0) {
      // A view of `data` (the capsule only keeps numpy from copying; `data` outlives it).
      py::capsule no_owner(static_cast<void*>(&data), [](void*) {});
      py::array view(NumpyDtype(d_->dtype()), PyShape(region.shape), data.data(), no_owner);
      py::module_::import("numpy").attr("copyto")(view, value, py::arg("casting") = "unsafe");
    }
    py::gil_scoped_release release;
    d_->Write(region, data);
  }

 private:
  std::shared_ptr<Dataset> d_;
};

CreateOptions MakeCreateOptions(const std::vector<int64_t>& shape, const std::string& dtype,
                                const std::optional<std::vector<int64_t>>& chunks,
                                const std::string& codec,
                                const std::optional<std::vector<int64_t>>& shards,
                                const std::string& format, const std::string& fill_value,
                                bool overwrite, const std::string& attrs) {
  CreateOptions c;
  c.format = format;
  c.shape = ToShape(shape);
  c.dtype = ParseDataType(dtype, "dtype");
  c.chunks = chunks ? ToShape(*chunks) : DefaultChunks(c.shape, c.dtype);
  c.codecs = ParseCodecSpec(codec, c.dtype);
  if (shards) c.shards = ToShape(*shards);
  c.fill_value = FromText(fill_value, "fill_value");
  c.attributes = FromText(attrs, "attrs");
  if (!c.attributes.is_object()) throw InvalidArgument("attrs: must be a dict");
  c.overwrite = overwrite;
  return c;
}

}  // namespace

void BindDatasets(py::module_& m) {
  py::class_<PyDataset>(m, "_Dataset", "The native handle of a volbatch.Dataset.")
      .def_property_readonly("path", [](const PyDataset& d) { return d.get().path(); })
      .def_property_readonly("format", [](const PyDataset& d) { return d.get().format(); })
      .def_property_readonly("shape", [](const PyDataset& d) { return ToTuple(d.get().shape()); })
      .def_property_readonly("dtype",
                             [](const PyDataset& d) { return NumpyDtype(d.get().dtype()); })
      .def_property_readonly("chunks",
                             [](const PyDataset& d) { return ToTuple(d.get().layout().chunks); })
      .def_property_readonly("shards", &PyDataset::Shards)
      .def_property_readonly("fill_value", &PyDataset::FillValue)
      .def_property_readonly("codecs",
                             [](const PyDataset& d) { return d.get().driver().CodecSummary(); })
      .def_property_readonly(
          "attrs", [](const PyDataset& d) { return ToPython(d.get().driver().Attributes()); })
      .def("info", [](const PyDataset& d) { return ToPython(d.get().Info()); })
      .def("read", &PyDataset::Read, py::arg("begin"), py::arg("shape"))
      .def("write", &PyDataset::Write, py::arg("begin"), py::arg("shape"), py::arg("value"));

  m.def(
      "_open",
      [](const std::string& path) {
        py::gil_scoped_release release;
        return PyDataset(Dataset::Open(path));
      },
      py::arg("path"));
  m.def(
      "_create",
      [](const std::string& path, const std::vector<int64_t>& shape, const std::string& dtype,
         const std::optional<std::vector<int64_t>>& chunks, const std::string& codec,
         const std::optional<std::vector<int64_t>>& shards, const std::string& format,
         const std::string& fill_value, bool overwrite, const std::string& attrs) {
        const CreateOptions c = MakeCreateOptions(shape, dtype, chunks, codec, shards, format,
                                                  fill_value, overwrite, attrs);
        py::gil_scoped_release release;
        return PyDataset(Dataset::Create(path, c));
      },
      py::arg("path"), py::arg("shape"), py::arg("dtype"), py::arg("chunks"), py::arg("codec"),
      py::arg("shards"), py::arg("format"), py::arg("fill_value"), py::arg("overwrite"),
      py::arg("attrs"));
  m.def(
      "_copy",
      [](const std::string& src, const std::string& dst,
         const std::optional<std::vector<int64_t>>& chunks, const std::optional<std::string>& codec,
         const std::optional<std::vector<int64_t>>& shards, const std::string& format,
         const std::string& fill_value, bool overwrite) {
        TransferOptions o;
        if (chunks) o.chunks = ToShape(*chunks);
        o.codec = codec;
        if (shards) o.shards = ToShape(*shards);
        o.format = format;
        o.fill_value = FromText(fill_value, "fill_value");
        o.overwrite = overwrite;
        py::gil_scoped_release release;
        return PyDataset(CopyDataset(src, dst, o));
      },
      py::arg("src"), py::arg("dst"), py::arg("chunks"), py::arg("codec"), py::arg("shards"),
      py::arg("format"), py::arg("fill_value"), py::arg("overwrite"));
}

}  // namespace volbatch::python
