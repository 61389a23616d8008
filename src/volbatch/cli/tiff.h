// TIFF volumes: a multi-page TIFF (one page per z) or a folder of single-page slices, read as
// a (z, y, x) array slab by slab, and written as a multi-page TIFF.
//
// Byte layout is TIFF's (libtiff does the decoding): each page is an IFD with its own strips
// or tiles, compressed or not. Pages must be grayscale (one sample per pixel) of 8, 16, 32 or
// 64 bits, unsigned, signed or IEEE float, and all alike. Writing produces uncompressed
// strips, one page per z plane; BigTIFF when the file would pass 4 GiB.
//
// Cost: opening visits every page's IFD once (to check sizes and types, and to remember the
// IFD offsets so a slab jumps straight to its pages); reading a slab decodes only its pages.
// A folder of slices opens each file once at start and once per read.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "volbatch/cli/output_file.h"
#include "volbatch/core/array.h"

namespace volbatch {

// True for a name ending in .tif or .tiff (any case).
bool IsTiffName(const std::string& path);
// The .tif/.tiff files of `dir` (hidden files skipped) in natural order ("s2" before "s10").
// Throws NotFound naming the folder when it holds none.
std::vector<std::string> ListTiffSlices(const std::string& dir);
// "a2.tif" < "a10.tif": digit runs compare as numbers.
bool NaturalLess(const std::string& a, const std::string& b);

class TiffReader {
 public:
  // `path` is a TIFF file (every page is a z plane) or a folder of single-page slices.
  // Throws InvalidArgument/Unsupported naming the file and page for pages that are not
  // grayscale, or that differ in size or type.
  explicit TiffReader(const std::string& path);
  ~TiffReader();
  TiffReader(const TiffReader&) = delete;
  TiffReader& operator=(const TiffReader&) = delete;

  const std::string& path() const { return path_; }
  DataType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }  // (z, y, x)
  // Planes [z0, z1) as a C-order native-endian array of shape (z1 - z0, y, x).
  Array ReadSlab(Index z0, Index z1);

 private:
  struct Page {
    size_t file;      // index into files_
    uint64_t offset;  // IFD offset inside that file
    size_t number;    // page number inside that file, for messages
  };
  struct Handle;
  void ReadPage(const Page& page, std::byte* out);
  Handle& OpenFile(size_t file);

  std::string path_;
  std::vector<std::string> files_;
  std::vector<Page> pages_;
  DataType dtype_ = DataType::kUint8;
  Shape shape_;
  std::unique_ptr<Handle> handle_;  // the one file currently open
};

struct TiffWriteOptions {
  bool force_bigtiff = false;  // BigTIFF even when the file would fit in 4 GiB
};

class TiffWriter {
 public:
  // `shape` is (z, y, x) or (y, x) for a single page. bool is written as 8-bit unsigned.
  TiffWriter(const std::string& path, DataType dtype, Shape shape, TiffWriteOptions options = {});
  ~TiffWriter();
  TiffWriter(const TiffWriter&) = delete;
  TiffWriter& operator=(const TiffWriter&) = delete;

  // The next slab along axis 0: (k, y, x) for a volume, (k, x) rows for a single page.
  void WriteSlab(const Array& slab);
  // Checks every plane was written, finishes the file, syncs and renames into place.
  void Close();
  bool bigtiff() const { return bigtiff_; }

 private:
  void StartPage();

  std::string path_;
  DataType dtype_;
  Shape shape_;  // as given
  Index pages_ = 1, height_ = 0, width_ = 0;
  Index rows_written_ = 0;  // over all pages
  bool bigtiff_ = false;
  std::unique_ptr<OutputFile> file_;
  void* tif_ = nullptr;  // TIFF*
};

}  // namespace volbatch
