// Raw export: the elements in C order and native byte order, nothing else (no header, so the
// reader must know dtype and shape; `volbatch export` prints them). Written as a stream of
// axis-0 slabs to a temporary file renamed into place on Close.
#pragma once

#include <memory>
#include <string>

#include "volbatch/cli/output_file.h"
#include "volbatch/core/array.h"

namespace volbatch {

class RawWriter {
 public:
  // Slabs of any dtype and shape are appended as given.
  explicit RawWriter(const std::string& path);
  // Slabs are checked against dtype and shape, and Close() against the number of planes.
  RawWriter(const std::string& path, DataType dtype, Shape shape);
  // The next planes along axis 0.
  void WriteSlab(const Array& slab);
  // Checks every plane was written, syncs and renames into place.
  void Close();

 private:
  std::string path_;
  DataType dtype_;
  Shape shape_;  // empty: unchecked
  Index rows_written_ = 0;
  std::unique_ptr<OutputFile> file_;
};

// The whole array at once.
void WriteRaw(const std::string& path, const Array& array);

}  // namespace volbatch
