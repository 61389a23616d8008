#include "volbatch/core/error.h"

#include <system_error>

namespace volbatch {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid argument";
    case ErrorCode::kNotFound:
      return "not found";
    case ErrorCode::kAlreadyExists:
      return "already exists";
    case ErrorCode::kDataLoss:
      return "data loss";
    case ErrorCode::kFailedPrecondition:
      return "failed precondition";
    case ErrorCode::kIo:
      return "I/O error";
    case ErrorCode::kUnsupported:
      return "unsupported";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "unknown";
}

std::string ErrnoText(int err) { return std::system_category().message(err); }

Error WithContext(const Error& e, std::string_view context) {
  return Error(e.code(), std::string(context) + ": " + e.what());
}

}  // namespace volbatch
