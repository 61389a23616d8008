// The `volbatch._volbatch` extension: each Bind* adds one part of the library to the module
// (bindings.cc files, one per part), so parts can grow without touching each other.
#pragma once

#include <pybind11/pybind11.h>

namespace volbatch::python {

void BindErrors(pybind11::module_& m);    // volbatch.Error and one subclass per error code
void BindDatasets(pybind11::module_& m);  // open, create, copy, Dataset (numpy in and out)
void BindJobs(pybind11::module_& m);      // run, work, blocks, status
void BindSampler(pybind11::module_& m);   // WindowSampler (training windows)

}  // namespace volbatch::python
