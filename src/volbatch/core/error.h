// Errors: every failure a user can act on is a volbatch::Error with a code and a message that
// names the file, chunk key, dataset or JSON field involved.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace volbatch {

enum class ErrorCode {
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kDataLoss,
  kFailedPrecondition,
  kIo,
  kUnsupported,
  kInternal,
};

std::string_view ErrorCodeName(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

inline Error InvalidArgument(const std::string& m) { return Error(ErrorCode::kInvalidArgument, m); }
inline Error NotFound(const std::string& m) { return Error(ErrorCode::kNotFound, m); }
inline Error AlreadyExists(const std::string& m) { return Error(ErrorCode::kAlreadyExists, m); }
inline Error DataLoss(const std::string& m) { return Error(ErrorCode::kDataLoss, m); }
inline Error FailedPrecondition(const std::string& m) {
  return Error(ErrorCode::kFailedPrecondition, m);
}
inline Error IoError(const std::string& m) { return Error(ErrorCode::kIo, m); }
// The system's text for an errno value, for IoError messages.
std::string ErrnoText(int err);
inline Error Unsupported(const std::string& m) { return Error(ErrorCode::kUnsupported, m); }
inline Error Internal(const std::string& m) { return Error(ErrorCode::kInternal, m); }

// Prefixes the message of an Error with context ("chunk 0/1/2: ...") keeping its code.
Error WithContext(const Error& e, std::string_view context);

}  // namespace volbatch
