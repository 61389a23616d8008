// NumPy .npy files, read and written as a stream of slabs along axis 0 so that a file far
// larger than memory can be imported or exported.
//
// Byte layout (format versions 1.0, 2.0 and 3.0): the magic "\x93NUMPY", major and minor
// version bytes, the header length (uint16 little-endian for 1.0, uint32 for 2.0/3.0), then
// the header: a Python dict literal {'descr': '<u2', 'fortran_order': False, 'shape': (3, 4), }
// padded with spaces and a newline so the data starts at a multiple of 64 bytes. The data
// follows: the elements in C or Fortran order, in the byte order the descr names.
//
// Cost: a C-order slab is one contiguous read. A Fortran-order file stores axis 0 fastest, so
// a slab of axis 0 is scattered over the whole file: each slab reads every run of axis-0
// elements (one pass over the file's span per slab) and transposes in memory. Importing a
// Fortran-order file in k slabs therefore reads it about k times; memory stays one slab.
#pragma once

#include <memory>
#include <string>

#include "volbatch/cli/output_file.h"
#include "volbatch/core/array.h"

namespace volbatch {

struct NpyHeader {
  DataType dtype = DataType::kUint8;
  Shape shape;
  bool fortran_order = false;
  bool big_endian = false;  // the file's byte order (false for one-byte types)
  size_t data_offset = 0;   // where the elements begin
};

// Parses and checks the header of `path`: magic, version, descr, shape and that the file
// holds all the bytes the header announces. Errors name the file: InvalidArgument for a bad
// or unsupported header, DataLoss for a truncated file, NotFound/IoError otherwise.
NpyHeader ReadNpyHeader(const std::string& path);

// The descr for `dtype` in little-endian ("|b1", "|u1", "<i2", "<f2", ...).
std::string NpyDescr(DataType dtype);

class NpyReader {
 public:
  explicit NpyReader(const std::string& path);
  ~NpyReader();
  NpyReader(const NpyReader&) = delete;
  NpyReader& operator=(const NpyReader&) = delete;

  const std::string& path() const { return path_; }
  const NpyHeader& header() const { return header_; }
  // Planes [begin, end) of axis 0 as a C-order, native-endian array of shape
  // (end - begin, shape[1], ...).
  Array ReadSlab(Index begin, Index end) const;

 private:
  void ReadAt(uint64_t offset, std::byte* out, size_t n) const;

  std::string path_;
  NpyHeader header_;
  int fd_ = -1;
};

class NpyWriter {
 public:
  // Writes the header at once (version 1.0, or 2.0 when the header needs more than 64 KiB),
  // little-endian C order, to a temporary file beside `path`.
  NpyWriter(const std::string& path, DataType dtype, Shape shape);
  // Without Close(), the temporary file is removed and `path` is untouched.
  ~NpyWriter() = default;

  // The next planes along axis 0: shape (k, shape[1], ...), in native byte order.
  void WriteSlab(const Array& slab);
  // Checks every plane was written, syncs and renames into place.
  void Close();

 private:
  std::string path_;
  DataType dtype_;
  Shape shape_;
  Index rows_written_ = 0;
  std::unique_ptr<OutputFile> file_;
};

// The header bytes (magic through padding) for a little-endian C-order array.
std::string NpyHeaderBytes(DataType dtype, const Shape& shape);

}  // namespace volbatch
