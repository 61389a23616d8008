#include "volbatch/cli/tiff.h"

#include <tiffio.h>

#include <algorithm>
#include <cstdarg>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "volbatch/core/checked.h"
#include "volbatch/core/error.h"

namespace volbatch {
namespace fs = std::filesystem;

namespace {

// libtiff reports errors through a handler rather than return values; keep the last message
// of this thread so the Error we throw can say what libtiff saw.
thread_local std::string t_tiff_error;

void CaptureError(const char* module, const char* fmt, va_list ap) {
  char buf[512];
  std::vsnprintf(buf, sizeof(buf), fmt, ap);
  t_tiff_error = module ? std::string(module) + ": " + buf : std::string(buf);
}

void InstallHandlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    TIFFSetErrorHandler(CaptureError);
    // tifffile and ImageJ write private tags libtiff warns about; they are not our business.
    TIFFSetWarningHandler(nullptr);
  });
}

std::string LibtiffSays() {
  if (t_tiff_error.empty()) return "";
  std::string s = " (libtiff: " + t_tiff_error + ")";
  t_tiff_error.clear();
  return s;
}

// The largest strip or tile we decode into one buffer: a header declaring more is hostile.
constexpr int64_t kMaxTileBytes = int64_t{1} << 30;

struct PageInfo {
  uint32_t width = 0, height = 0;
  DataType dtype = DataType::kUint8;
};

std::string PageName(const std::string& file, size_t page, bool multi) {
  return multi ? file + " page " + std::to_string(page) : file;
}

PageInfo InspectPage(TIFF* tif, const std::string& where, uint64_t file_size) {
  PageInfo p;
  uint16_t spp = 1, bps = 1, fmt = SAMPLEFORMAT_UINT, photometric = PHOTOMETRIC_MINISBLACK;
  uint32_t depth = 1;
  if (!TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &p.width) ||
      !TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &p.height)) {
    throw InvalidArgument(where + ": no image width or length" + LibtiffSays());
  }
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
  TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bps);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &fmt);
  TIFFGetFieldDefaulted(tif, TIFFTAG_IMAGEDEPTH, &depth);
  TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photometric);
  if (spp != 1 || photometric == PHOTOMETRIC_RGB || photometric == PHOTOMETRIC_YCBCR ||
      photometric == PHOTOMETRIC_SEPARATED) {
    throw Unsupported(where + ": " + std::to_string(spp) +
                      " samples per pixel (RGB or multi-channel); only grayscale pages (one "
                      "sample per pixel) are supported");
  }
  if (photometric == PHOTOMETRIC_PALETTE) {
    throw Unsupported(where + ": palette (color-mapped) images are not supported");
  }
  if (depth != 1) {
    throw Unsupported(where + ": volumetric (ImageDepth " + std::to_string(depth) +
                      ") pages are not supported");
  }
  auto bad_type = [&]() {
    return Unsupported(where + ": " + std::to_string(bps) + "-bit samples of format " +
                       std::to_string(fmt) +
                       " are not supported (8/16/32/64-bit unsigned or signed integers, "
                       "16/32/64-bit floats)");
  };
  switch (fmt) {
    case SAMPLEFORMAT_UINT:
    case SAMPLEFORMAT_INT: {
      const bool s = fmt == SAMPLEFORMAT_INT;
      switch (bps) {
        case 8:
          p.dtype = s ? DataType::kInt8 : DataType::kUint8;
          break;
        case 16:
          p.dtype = s ? DataType::kInt16 : DataType::kUint16;
          break;
        case 32:
          p.dtype = s ? DataType::kInt32 : DataType::kUint32;
          break;
        case 64:
          p.dtype = s ? DataType::kInt64 : DataType::kUint64;
          break;
        default:
          throw bad_type();
      }
      break;
    }
    case SAMPLEFORMAT_IEEEFP:
      switch (bps) {
        case 16:
          p.dtype = DataType::kFloat16;
          break;
        case 32:
          p.dtype = DataType::kFloat32;
          break;
        case 64:
          p.dtype = DataType::kFloat64;
          break;
        default:
          throw bad_type();
      }
      break;
    default:
      throw bad_type();
  }
  if (p.width == 0 || p.height == 0) throw InvalidArgument(where + ": empty page");
  // The header alone decides how much we allocate, so hold it to the bytes the page really
  // stores: all of them when uncompressed, and a ratio no real codec reaches otherwise.
  uint16_t compression = COMPRESSION_NONE;
  TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &compression);
  const uint32_t striles = TIFFIsTiled(tif) ? TIFFNumberOfTiles(tif) : TIFFNumberOfStrips(tif);
  uint64_t stored = 0;
  for (uint32_t i = 0; i < striles; ++i) {
    const uint64_t count = TIFFGetStrileByteCount(tif, i);
    const uint64_t offset = TIFFGetStrileOffset(tif, i);
    // libtiff "repairs" short single strips by re-deriving their byte counts from the image
    // size; the file's real length is the bound it cannot invent.
    if (offset > file_size || count > file_size - offset) {
      throw DataLoss(where + ": strip or tile " + std::to_string(i) + " (bytes " +
                     std::to_string(offset) + "+" + std::to_string(count) +
                     ") lies past the end of the " + std::to_string(file_size) + "-byte file");
    }
    stored += count;
  }
  const uint64_t page_bytes = uint64_t{p.width} * p.height * ByteSize(p.dtype);
  if (compression == COMPRESSION_NONE && stored < page_bytes) {
    throw DataLoss(where + ": stores " + std::to_string(stored) + " bytes for a " +
                   std::to_string(p.width) + "x" + std::to_string(p.height) + " " +
                   std::string(DataTypeName(p.dtype)) + " page of " + std::to_string(page_bytes) +
                   " bytes (truncated or corrupt)");
  }
  constexpr uint64_t kMaxRatio = 100000, kSmallPage = uint64_t{64} << 20;
  if (page_bytes > kSmallPage && page_bytes / kMaxRatio > stored) {
    throw InvalidArgument(where + ": a " + std::to_string(p.width) + "x" +
                          std::to_string(p.height) + " page in " + std::to_string(stored) +
                          " compressed bytes is implausible (corrupt header?)");
  }
  return p;
}

uint64_t FileSize(const std::string& path) {
  std::error_code ec;
  const uint64_t size = fs::file_size(path, ec);
  if (ec) throw IoError(path + ": " + ec.message());
  return size;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

TIFF* OpenTiff(const std::string& path, const char* mode) {
  InstallHandlers();
  t_tiff_error.clear();
  TIFF* tif = TIFFOpen(path.c_str(), mode);
  if (!tif) {
    if (!fs::exists(path)) throw NotFound(path + ": no such file");
    throw InvalidArgument(path + ": cannot open as TIFF" + LibtiffSays());
  }
  return tif;
}

}  // namespace

bool IsTiffName(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return ext == ".tif" || ext == ".tiff";
}

bool NaturalLess(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (IsDigit(a[i]) && IsDigit(b[j])) {
      size_t ie = i, je = j;
      while (ie < a.size() && IsDigit(a[ie])) ++ie;
      while (je < b.size() && IsDigit(b[je])) ++je;
      size_t is = i, js = j;  // skip leading zeros, then longer means larger
      while (is + 1 < ie && a[is] == '0') ++is;
      while (js + 1 < je && b[js] == '0') ++js;
      if (ie - is != je - js) return ie - is < je - js;
      const int c = a.compare(is, ie - is, b, js, je - js);
      if (c != 0) return c < 0;
      i = ie;
      j = je;
    } else {
      if (a[i] != b[j]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
      ++i;
      ++j;
    }
  }
  if (a.size() - i != b.size() - j) return a.size() - i < b.size() - j;
  return a < b;  // "s01" vs "s1": some fixed order
}

std::vector<std::string> ListTiffSlices(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.' || !IsTiffName(name)) continue;
    if (!entry.is_regular_file()) continue;
    names.push_back(name);
  }
  if (ec) throw IoError(dir + ": cannot list: " + ec.message());
  if (names.empty()) throw NotFound(dir + ": no .tif or .tiff slices in this folder");
  std::sort(names.begin(), names.end(), NaturalLess);
  std::vector<std::string> out;
  for (const auto& n : names) out.push_back((fs::path(dir) / n).string());
  return out;
}

struct TiffReader::Handle {
  size_t file = 0;
  TIFF* tif = nullptr;
  ~Handle() {
    if (tif) TIFFClose(tif);
  }
};

TiffReader::TiffReader(const std::string& path) : path_(path) {
  const bool folder = fs::is_directory(path);
  if (folder) {
    files_ = ListTiffSlices(path);
  } else {
    if (!fs::exists(path)) throw NotFound(path + ": no such file or folder");
    files_ = {path};
  }
  PageInfo first;
  std::string first_where;
  for (size_t f = 0; f < files_.size(); ++f) {
    TIFF* tif = OpenTiff(files_[f], "r");
    Handle h{f, tif};
    const uint64_t file_size = FileSize(files_[f]);
    size_t number = 0;
    do {
      const std::string where = PageName(files_[f], number, !folder);
      const PageInfo info = InspectPage(tif, where, file_size);
      if (pages_.empty()) {
        first = info;
        first_where = where;
      } else if (info.width != first.width || info.height != first.height ||
                 info.dtype != first.dtype) {
        throw InvalidArgument(
            where + " is " + std::to_string(info.width) + "x" + std::to_string(info.height) + " " +
            std::string(DataTypeName(info.dtype)) + " but " + first_where + " is " +
            std::to_string(first.width) + "x" + std::to_string(first.height) + " " +
            std::string(DataTypeName(first.dtype)) +
            "; all pages must have the same size and type");
      }
      pages_.push_back({f, TIFFCurrentDirOffset(tif), number});
      ++number;
      if (folder) {
        if (TIFFReadDirectory(tif)) {
          throw InvalidArgument(files_[f] +
                                ": has more than one page; a folder must hold single-page slices");
        }
        break;
      }
    } while (TIFFReadDirectory(tif));
    t_tiff_error.clear();
  }
  dtype_ = first.dtype;
  shape_ = {static_cast<Index>(pages_.size()), static_cast<Index>(first.height),
            static_cast<Index>(first.width)};
}

TiffReader::~TiffReader() = default;

TiffReader::Handle& TiffReader::OpenFile(size_t file) {
  if (!handle_ || handle_->file != file) {
    handle_.reset();
    handle_ = std::make_unique<Handle>();
    handle_->file = file;
    handle_->tif = OpenTiff(files_[file], "r");
  }
  return *handle_;
}

void TiffReader::ReadPage(const Page& page, std::byte* out) {
  Handle& h = OpenFile(page.file);
  TIFF* tif = h.tif;
  const std::string where = PageName(files_[page.file], page.number, files_.size() == 1);
  t_tiff_error.clear();
  if (!TIFFSetSubDirectory(tif, page.offset)) {
    throw DataLoss(where + ": cannot read the page directory" + LibtiffSays());
  }
  // The file may have changed since we inspected it; never trust the first look.
  const PageInfo info = InspectPage(tif, where, FileSize(files_[page.file]));
  if (info.dtype != dtype_ || info.width != static_cast<uint32_t>(shape_[2]) ||
      info.height != static_cast<uint32_t>(shape_[1])) {
    throw DataLoss(where + ": page changed since the file was opened");
  }
  const size_t es = ByteSize(dtype_);
  const size_t width = info.width, height = info.height;
  const size_t row_bytes = width * es;
  if (TIFFIsTiled(tif)) {
    uint32_t tw = 0, th = 0;
    TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw);
    TIFFGetField(tif, TIFFTAG_TILELENGTH, &th);
    const tmsize_t tile_size = TIFFTileSize(tif);
    if (tw == 0 || th == 0 || tile_size <= 0 ||
        static_cast<int64_t>(tw) * th * static_cast<int64_t>(es) != tile_size ||
        tile_size > kMaxTileBytes) {
      throw InvalidArgument(where + ": bad tile size " + std::to_string(tw) + "x" +
                            std::to_string(th) + LibtiffSays());
    }
    std::vector<std::byte> tile(static_cast<size_t>(tile_size));
    for (size_t y = 0; y < height; y += th) {
      for (size_t x = 0; x < width; x += tw) {
        const ttile_t t =
            TIFFComputeTile(tif, static_cast<uint32_t>(x), static_cast<uint32_t>(y), 0, 0);
        if (TIFFReadEncodedTile(tif, t, tile.data(), tile_size) != tile_size) {
          throw DataLoss(where + ": cannot decode tile " + std::to_string(t) + LibtiffSays());
        }
        const size_t rows = std::min<size_t>(th, height - y);
        const size_t cols = std::min<size_t>(tw, width - x);
        for (size_t r = 0; r < rows; ++r) {
          std::memcpy(out + (y + r) * row_bytes + x * es, tile.data() + r * tw * es, cols * es);
        }
      }
    }
    return;
  }
  uint32_t rps = 0;
  TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &rps);
  if (rps == 0 || rps > height) rps = static_cast<uint32_t>(height);
  const uint32_t strips = TIFFNumberOfStrips(tif);
  const size_t expected_strips = (height + rps - 1) / rps;
  if (strips != expected_strips) {
    throw DataLoss(where + ": has " + std::to_string(strips) + " strips, expected " +
                   std::to_string(expected_strips) + LibtiffSays());
  }
  for (uint32_t s = 0; s < strips; ++s) {
    const size_t rows = std::min<size_t>(rps, height - static_cast<size_t>(s) * rps);
    const tmsize_t want = static_cast<tmsize_t>(rows * row_bytes);
    const tmsize_t got =
        TIFFReadEncodedStrip(tif, s, out + static_cast<size_t>(s) * rps * row_bytes, want);
    if (got != want) {
      throw DataLoss(where + ": strip " + std::to_string(s) + " decodes to " + std::to_string(got) +
                     " bytes, expected " + std::to_string(want) + LibtiffSays());
    }
  }
}

Array TiffReader::ReadSlab(Index z0, Index z1) {
  if (z0 < 0 || z1 < z0 || z1 > shape_[0]) {
    throw InvalidArgument(path_ + ": slab [" + std::to_string(z0) + ", " + std::to_string(z1) +
                          ") lies outside the " + std::to_string(shape_[0]) + " pages");
  }
  Array out(dtype_, {z1 - z0, shape_[1], shape_[2]});
  const size_t page_bytes = static_cast<size_t>(shape_[1] * shape_[2]) * ByteSize(dtype_);
  for (Index z = z0; z < z1; ++z) {
    ReadPage(pages_[static_cast<size_t>(z)], out.data() + static_cast<size_t>(z - z0) * page_bytes);
  }
  return out;
}

TiffWriter::TiffWriter(const std::string& path, DataType dtype, Shape shape,
                       TiffWriteOptions options)
    : path_(path), dtype_(dtype), shape_(std::move(shape)) {
  if (shape_.size() == 3) {
    pages_ = shape_[0];
    height_ = shape_[1];
    width_ = shape_[2];
  } else if (shape_.size() == 2) {
    height_ = shape_[0];
    width_ = shape_[1];
  } else {
    throw InvalidArgument(path_ + ": a TIFF holds (z, y, x) or (y, x) arrays, not shape " +
                          ShapeToString(shape_));
  }
  if (pages_ < 1 || height_ < 1 || width_ < 1 || height_ > 0xffffffffLL || width_ > 0xffffffffLL) {
    throw InvalidArgument(path_ + ": cannot write an array of shape " + ShapeToString(shape_) +
                          " as TIFF (every extent must be at least 1)");
  }
  const int64_t bytes = CheckedMul(NumElements(shape_), static_cast<int64_t>(ByteSize(dtype_)),
                                   path_ + ": array bytes");
  // Classic TIFF addresses 4 GiB; leave room for the IFDs and strip tables.
  const int64_t overhead = CheckedAdd(CheckedMul(pages_, 4096, "tiff overhead"), 1 << 20, "tiff");
  bigtiff_ = options.force_bigtiff || CheckedAdd(bytes, overhead, "tiff size") > 0xffffffffLL;
  file_ = std::make_unique<OutputFile>(path_);
  file_->CloseDescriptor();
  tif_ = OpenTiff(file_->temp_path(), bigtiff_ ? "w8" : "w");
  StartPage();
}

TiffWriter::~TiffWriter() {
  if (tif_) TIFFClose(static_cast<TIFF*>(tif_));
}

void TiffWriter::StartPage() {
  TIFF* tif = static_cast<TIFF*>(tif_);
  const size_t es = ByteSize(dtype_);
  uint16_t fmt = SAMPLEFORMAT_UINT;
  if (IsFloat(dtype_)) {
    fmt = SAMPLEFORMAT_IEEEFP;
  } else if (IsSigned(dtype_)) {
    fmt = SAMPLEFORMAT_INT;
  }
  const uint32_t row_bytes = static_cast<uint32_t>(std::min<int64_t>(width_ * es, 1 << 30));
  const uint32_t rps = std::max<uint32_t>(1, static_cast<uint32_t>((1u << 20) / row_bytes));
  TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, static_cast<uint32_t>(width_));
  TIFFSetField(tif, TIFFTAG_IMAGELENGTH, static_cast<uint32_t>(height_));
  TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, static_cast<uint16_t>(8 * es));
  TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, static_cast<uint16_t>(1));
  TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, fmt);
  TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
  TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
  TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_NONE);
  TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, std::min<uint32_t>(rps, static_cast<uint32_t>(height_)));
  if (pages_ > 1) {
    TIFFSetField(tif, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
    const Index page = rows_written_ / height_;
    TIFFSetField(tif, TIFFTAG_PAGENUMBER, static_cast<uint16_t>(std::min<Index>(page, 0xffff)),
                 static_cast<uint16_t>(std::min<Index>(pages_, 0xffff)));
  }
}

void TiffWriter::WriteSlab(const Array& slab) {
  if (!tif_) throw FailedPrecondition(path_ + ": write after Close");
  if (slab.dtype() != dtype_) {
    throw InvalidArgument(path_ + ": slab of " + std::string(DataTypeName(slab.dtype())) +
                          " written to a " + std::string(DataTypeName(dtype_)) + " file");
  }
  if (slab.rank() != shape_.size() ||
      !std::equal(shape_.begin() + 1, shape_.end(), slab.shape().begin() + 1)) {
    throw InvalidArgument(path_ + ": slab of shape " + ShapeToString(slab.shape()) +
                          " does not fit planes of shape " + ShapeToString(shape_));
  }
  const Index rows = slab.rank() == 3 ? slab.shape()[0] * height_ : slab.shape()[0];
  if (rows > pages_ * height_ - rows_written_) {
    throw InvalidArgument(path_ + ": slab of shape " + ShapeToString(slab.shape()) +
                          " goes past the end of shape " + ShapeToString(shape_));
  }
  TIFF* tif = static_cast<TIFF*>(tif_);
  const size_t row_bytes = static_cast<size_t>(width_) * slab.element_size();
  std::vector<std::byte> row(row_bytes);  // libtiff may modify the buffer it is given
  for (Index r = 0; r < rows; ++r) {
    const Index y = rows_written_ % height_;
    std::memcpy(row.data(), slab.data() + static_cast<size_t>(r) * row_bytes, row_bytes);
    t_tiff_error.clear();
    if (TIFFWriteScanline(tif, row.data(), static_cast<uint32_t>(y), 0) < 0) {
      throw IoError(path_ + ": cannot write row " + std::to_string(y) + LibtiffSays());
    }
    ++rows_written_;
    if (rows_written_ % height_ == 0) {
      if (!TIFFWriteDirectory(tif)) {
        throw IoError(path_ + ": cannot write page " + std::to_string(rows_written_ / height_ - 1) +
                      LibtiffSays());
      }
      if (rows_written_ < pages_ * height_) StartPage();
    }
  }
}

void TiffWriter::Close() {
  if (!tif_) return;
  if (rows_written_ != pages_ * height_) {
    throw FailedPrecondition(path_ + ": only " + std::to_string(rows_written_ / height_) + " of " +
                             std::to_string(pages_) + " pages were written");
  }
  TIFF* tif = static_cast<TIFF*>(tif_);
  tif_ = nullptr;
  t_tiff_error.clear();
  TIFFClose(tif);
  if (!t_tiff_error.empty()) throw IoError(path_ + ": cannot finish the file" + LibtiffSays());
  file_->Commit();
}

}  // namespace volbatch
