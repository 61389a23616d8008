// volbatch.Error and one subclass per ErrorCode, so Python code catches the library's failures
// by kind and with the library's message (which names the file, chunk key or job field). Each
// subclass also derives from the builtin exception a Python user would expect for that kind
// (NotFound is a FileNotFoundError, InvalidArgument a ValueError, ...), so `except ValueError`
// written for numpy-like code keeps working.
#include <Python.h>

#include <array>

#include "bindings.h"
#include "volbatch/core/error.h"

namespace py = pybind11;

namespace volbatch::python {
namespace {

struct Kind {
  ErrorCode code;
  const char* name;
  PyObject* builtin;  // the second base (nullptr: volbatch.Error only)
  const char* doc;
};

// Strong references kept for the life of the process (a module is never unloaded), so the
// exception translator never touches a destroyed object at interpreter exit.
PyObject* g_error = nullptr;
std::array<PyObject*, 8> g_by_code{};

PyObject* NewException(const char* name, PyObject* bases, const char* doc) {
  const std::string qualified = std::string("volbatch.") + name;
  PyObject* type = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, bases, nullptr);
  if (type == nullptr) throw py::error_already_set();
  return type;
}

PyObject* ErrorType(ErrorCode code) {
  const auto i = static_cast<size_t>(code);
  return i < g_by_code.size() && g_by_code[i] != nullptr ? g_by_code[i] : g_error;
}

}  // namespace

void BindErrors(py::module_& m) {
  g_error = NewException("Error", PyExc_Exception,
                         "A failure reported by the volbatch library; its message names what to "
                         "fix. Subclasses say which kind (attribute `code`).");
  m.add_object("Error", py::handle(g_error));
  py::handle(g_error).attr("code") = py::none();
  const Kind kinds[] = {
      {ErrorCode::kInvalidArgument, "InvalidArgument", PyExc_ValueError,
       "Bad input: a value, shape, dtype, index or job field (also a ValueError)."},
      {ErrorCode::kNotFound, "NotFound", PyExc_FileNotFoundError,
       "A dataset, job file or job directory that does not exist (also a FileNotFoundError)."},
      {ErrorCode::kAlreadyExists, "AlreadyExists", PyExc_FileExistsError,
       "A destination that exists (pass overwrite=True) (also a FileExistsError)."},
      {ErrorCode::kDataLoss, "DataLoss", nullptr,
       "Stored bytes that cannot be decoded: a corrupt chunk, header or ledger."},
      {ErrorCode::kFailedPrecondition, "FailedPrecondition", nullptr,
       "The state on disk does not allow the operation (e.g. resuming a changed job)."},
      {ErrorCode::kIo, "IoError", PyExc_OSError,
       "The operating system refused a read, write or sync (also an OSError)."},
      {ErrorCode::kUnsupported, "Unsupported", PyExc_NotImplementedError,
       "A feature volbatch does not have (also a NotImplementedError)."},
      {ErrorCode::kInternal, "InternalError", PyExc_RuntimeError,
       "A bug in volbatch (also a RuntimeError); please report it with the message."},
  };
  for (const Kind& k : kinds) {
    py::tuple bases = k.builtin ? py::make_tuple(py::handle(g_error), py::handle(k.builtin))
                                : py::make_tuple(py::handle(g_error));
    PyObject* type = NewException(k.name, bases.ptr(), k.doc);
    py::handle(type).attr("code") = py::str(std::string(ErrorCodeName(k.code)));
    g_by_code[static_cast<size_t>(k.code)] = type;
    m.add_object(k.name, py::handle(type));
  }
  PyObject* job_failed = NewException(
      "JobFailed", py::make_tuple(py::handle(g_error), py::handle(PyExc_RuntimeError)).ptr(),
      "A job that ran but did not finish every block (failed blocks, workers that died); "
      "attribute `status` holds volbatch.status(jobdir). Running it again resumes it.");
  py::handle(job_failed).attr("code") = py::str("job failed");
  m.add_object("JobFailed", py::handle(job_failed));

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      PyErr_SetString(ErrorType(e.code()), e.what());
    }
  });
}

}  // namespace volbatch::python
