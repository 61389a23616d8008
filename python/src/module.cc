#include "bindings.h"

PYBIND11_MODULE(_volbatch, m) {
  m.doc() = "volbatch: chunked N5/Zarr volumes, block-wise jobs and training windows";
  volbatch::python::BindErrors(m);
  volbatch::python::BindDatasets(m);
  volbatch::python::BindJobs(m);
  volbatch::python::BindSampler(m);
}
