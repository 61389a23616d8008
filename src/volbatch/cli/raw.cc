#include "volbatch/cli/raw.h"

#include <algorithm>

#include "volbatch/core/checked.h"
#include "volbatch/core/error.h"

namespace volbatch {

RawWriter::RawWriter(const std::string& path)
    : path_(path), dtype_(DataType::kUint8), file_(std::make_unique<OutputFile>(path)) {}

RawWriter::RawWriter(const std::string& path, DataType dtype, Shape shape)
    : path_(path), dtype_(dtype), shape_(std::move(shape)) {
  CheckRank(shape_.size(), "raw shape");
  CheckedMul(NumElements(shape_, "raw shape"), static_cast<int64_t>(ByteSize(dtype_)),
             path_ + ": array bytes");
  file_ = std::make_unique<OutputFile>(path_);
}

void RawWriter::WriteSlab(const Array& slab) {
  if (!file_) throw FailedPrecondition(path_ + ": write after Close");
  if (shape_.empty()) {
    file_->Append(slab.bytes());
    return;
  }
  if (slab.dtype() != dtype_ || slab.rank() != shape_.size() ||
      !std::equal(shape_.begin() + 1, shape_.end(), slab.shape().begin() + 1) ||
      slab.shape()[0] > shape_[0] - rows_written_) {
    throw InvalidArgument(path_ + ": slab " + std::string(DataTypeName(slab.dtype())) + " " +
                          ShapeToString(slab.shape()) + " does not fit the remaining planes of " +
                          std::string(DataTypeName(dtype_)) + " " + ShapeToString(shape_));
  }
  file_->Append(slab.bytes());
  rows_written_ += slab.shape()[0];
}

void RawWriter::Close() {
  if (!file_) return;
  if (!shape_.empty() && rows_written_ != shape_[0]) {
    throw FailedPrecondition(path_ + ": only " + std::to_string(rows_written_) + " of " +
                             std::to_string(shape_[0]) + " planes were written");
  }
  file_->Commit();
  file_.reset();
}

void WriteRaw(const std::string& path, const Array& array) {
  RawWriter w(path, array.dtype(), array.shape());
  w.WriteSlab(array);
  w.Close();
}

}  // namespace volbatch
