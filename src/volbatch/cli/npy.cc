#include "volbatch/cli/npy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <numeric>

#include "volbatch/core/checked.h"
#include "volbatch/core/error.h"

namespace volbatch {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
constexpr size_t kAlign = 64;
// A rank-32 shape of 20-digit extents needs well under 1 KiB; anything near this cap is not a
// header numpy would write.
constexpr size_t kMaxHeaderLen = size_t{1} << 20;
constexpr bool kHostBigEndian = std::endian::native == std::endian::big;

std::string ErrnoText() { return std::strerror(errno); }

int OpenForRead(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) throw NotFound(path + ": no such file");
    throw IoError(path + ": cannot open: " + ErrnoText());
  }
  struct stat st;
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw InvalidArgument(path + ": is a directory, not a .npy file");
  }
  return fd;
}

// Reads exactly n bytes at offset; a short file is DataLoss naming `path`.
void PreadExact(int fd, const std::string& path, uint64_t offset, std::byte* out, size_t n) {
  while (n > 0) {
    const ssize_t r = ::pread(fd, out, n, static_cast<off_t>(offset));
    if (r < 0) {
      if (errno == EINTR) continue;
      throw IoError(path + ": read failed at byte " + std::to_string(offset) + ": " + ErrnoText());
    }
    if (r == 0) {
      throw DataLoss(path + ": file ends at byte " + std::to_string(offset) +
                     " but the header announces more data");
    }
    out += r;
    n -= static_cast<size_t>(r);
    offset += static_cast<uint64_t>(r);
  }
}

struct DescrInfo {
  DataType dtype;
  bool big_endian;
};

DescrInfo ParseDescr(const std::string& descr, const std::string& path) {
  auto bad = [&]() {
    return InvalidArgument(path + ": unsupported dtype descr '" + descr +
                           "' (volbatch reads b1, i1..i8, u1..u8, f2, f4, f8 in either byte "
                           "order)");
  };
  if (descr.size() != 3) throw bad();
  const char order = descr[0];
  const char kind = descr[1];
  const char size = descr[2];
  if (order != '<' && order != '>' && order != '|' && order != '=') throw bad();
  DataType t;
  switch (kind) {
    case 'b':
      if (size != '1') throw bad();
      t = DataType::kBool;
      break;
    case 'i':
    case 'u': {
      const bool s = kind == 'i';
      switch (size) {
        case '1':
          t = s ? DataType::kInt8 : DataType::kUint8;
          break;
        case '2':
          t = s ? DataType::kInt16 : DataType::kUint16;
          break;
        case '4':
          t = s ? DataType::kInt32 : DataType::kUint32;
          break;
        case '8':
          t = s ? DataType::kInt64 : DataType::kUint64;
          break;
        default:
          throw bad();
      }
      break;
    }
    case 'f':
      switch (size) {
        case '2':
          t = DataType::kFloat16;
          break;
        case '4':
          t = DataType::kFloat32;
          break;
        case '8':
          t = DataType::kFloat64;
          break;
        default:
          throw bad();
      }
      break;
    default:
      throw bad();
  }
  // '|' means "byte order does not apply", which numpy only writes for one-byte types.
  if (order == '|' && ByteSize(t) != 1) throw bad();
  const bool big = ByteSize(t) > 1 && (order == '>' || (order == '=' && kHostBigEndian));
  return {t, big};
}

// A strict parser for the dict literal numpy writes; anything else is refused rather than
// guessed at.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& path) : s_(text), path_(path) {}

  void Parse(NpyHeader& h) {
    bool have_descr = false, have_order = false, have_shape = false;
    SkipSpace();
    Expect('{');
    while (true) {
      SkipSpace();
      if (Peek() == '}') {
        ++i_;
        break;
      }
      const std::string key = ParseString();
      SkipSpace();
      Expect(':');
      SkipSpace();
      if (key == "descr") {
        if (have_descr) throw Bad("duplicate key 'descr'");
        have_descr = true;
        if (Peek() == '[') throw Bad("structured dtypes are not supported");
        const DescrInfo d = ParseDescr(ParseString(), path_);
        h.dtype = d.dtype;
        h.big_endian = d.big_endian;
      } else if (key == "fortran_order") {
        if (have_order) throw Bad("duplicate key 'fortran_order'");
        have_order = true;
        h.fortran_order = ParseBool();
      } else if (key == "shape") {
        if (have_shape) throw Bad("duplicate key 'shape'");
        have_shape = true;
        h.shape = ParseShape();
      } else {
        throw Bad("unexpected key '" + key + "'");
      }
      SkipSpace();
      if (Peek() == ',') {
        ++i_;
      } else if (Peek() != '}') {
        throw Bad("expected ',' or '}' at offset " + std::to_string(i_));
      }
    }
    SkipSpace();
    if (i_ != s_.size()) throw Bad("unexpected text after the dict");
    if (!have_descr) throw Bad("missing key 'descr'");
    if (!have_order) throw Bad("missing key 'fortran_order'");
    if (!have_shape) throw Bad("missing key 'shape'");
  }

 private:
  Error Bad(const std::string& why) const {
    return InvalidArgument(path_ + ": bad .npy header: " + why);
  }
  char Peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void SkipSpace() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t' || s_[i_] == '\r'))
      ++i_;
  }
  void Expect(char c) {
    if (Peek() != c) throw Bad(std::string("expected '") + c + "' at offset " + std::to_string(i_));
    ++i_;
  }
  std::string ParseString() {
    const char q = Peek();
    if (q != '\'' && q != '"') throw Bad("expected a string at offset " + std::to_string(i_));
    ++i_;
    std::string out;
    while (i_ < s_.size() && s_[i_] != q) {
      if (s_[i_] == '\\' || s_[i_] == '\n') throw Bad("unsupported character in a string");
      out += s_[i_++];
    }
    Expect(q);
    return out;
  }
  bool ParseBool() {
    if (s_.substr(i_, 4) == "True") {
      i_ += 4;
      return true;
    }
    if (s_.substr(i_, 5) == "False") {
      i_ += 5;
      return false;
    }
    throw Bad("'fortran_order' must be True or False");
  }
  Index ParseInt() {
    if (Peek() < '0' || Peek() > '9') throw Bad("shape extents must be non-negative integers");
    Index v = 0;
    while (Peek() >= '0' && Peek() <= '9') {
      if (__builtin_mul_overflow(v, Index{10}, &v) ||
          __builtin_add_overflow(v, Index{Peek() - '0'}, &v)) {
        throw Bad("shape extent overflows 64 bits");
      }
      ++i_;
    }
    if (Peek() == 'L') ++i_;  // Python 2 longs, as old numpy wrote them
    return v;
  }
  Shape ParseShape() {
    Expect('(');
    Shape shape;
    bool trailing_comma = false;
    while (true) {
      SkipSpace();
      if (Peek() == ')') {
        ++i_;
        break;
      }
      if (shape.size() >= kMaxRank) throw Bad("shape has more than 32 axes");
      shape.push_back(ParseInt());
      trailing_comma = false;
      SkipSpace();
      if (Peek() == ',') {
        ++i_;
        trailing_comma = true;
      } else if (Peek() != ')') {
        throw Bad("expected ',' or ')' in shape");
      }
    }
    // Python needs "(5,)" for a 1-tuple; "(5)" is the integer 5.
    if (shape.size() == 1 && !trailing_comma) throw Bad("shape (n) is not a tuple");
    return shape;
  }

  std::string_view s_;
  const std::string& path_;
  size_t i_ = 0;
};

NpyHeader ParseHeaderFromFd(int fd, const std::string& path) {
  std::byte prefix[12];
  const ssize_t got = ::pread(fd, prefix, sizeof(prefix), 0);
  if (got < 0) throw IoError(path + ": read failed: " + ErrnoText());
  if (got < 10 || std::memcmp(prefix, kMagic, kMagicLen) != 0) {
    throw InvalidArgument(path + ": not a .npy file (bad magic)");
  }
  const int major = static_cast<int>(prefix[6]);
  const int minor = static_cast<int>(prefix[7]);
  if (minor != 0 || major < 1 || major > 3) {
    throw InvalidArgument(path + ": unsupported .npy format version " + std::to_string(major) +
                          "." + std::to_string(minor));
  }
  auto u8 = [&](int i) { return static_cast<uint64_t>(prefix[i]); };
  uint64_t header_len;
  size_t len_field;
  if (major == 1) {
    header_len = u8(8) | u8(9) << 8;
    len_field = 2;
  } else {
    if (got < 12) throw DataLoss(path + ": file ends inside the .npy header");
    header_len = u8(8) | u8(9) << 8 | u8(10) << 16 | u8(11) << 24;
    len_field = 4;
  }
  if (header_len > kMaxHeaderLen) {
    throw InvalidArgument(path + ": .npy header length " + std::to_string(header_len) +
                          " is implausibly large");
  }
  std::string text(header_len, '\0');
  PreadExact(fd, path, kMagicLen + 2 + len_field, reinterpret_cast<std::byte*>(text.data()),
             header_len);
  NpyHeader h;
  HeaderParser(text, path).Parse(h);
  if (h.shape.empty()) throw InvalidArgument(path + ": 0-d arrays (scalars) are not supported");
  h.data_offset = kMagicLen + 2 + len_field + header_len;
  Index n;
  try {
    n = NumElements(h.shape, "shape");
  } catch (const Error& e) {
    throw WithContext(e, path);
  }
  int64_t data_bytes;
  if (__builtin_mul_overflow(n, static_cast<int64_t>(ByteSize(h.dtype)), &data_bytes) ||
      data_bytes > (int64_t{1} << 62)) {
    throw InvalidArgument(path + ": shape " + ShapeToString(h.shape) + " overflows 64 bits");
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) throw IoError(path + ": stat failed: " + ErrnoText());
  const uint64_t need = h.data_offset + static_cast<uint64_t>(data_bytes);
  if (static_cast<uint64_t>(st.st_size) < need) {
    throw DataLoss(path + ": file is " + std::to_string(st.st_size) + " bytes but its header (" +
                   std::string(DataTypeName(h.dtype)) + " " + ShapeToString(h.shape) + ") needs " +
                   std::to_string(need));
  }
  return h;
}

}  // namespace

std::string NpyDescr(DataType dtype) {
  switch (dtype) {
    case DataType::kBool:
      return "|b1";
    case DataType::kInt8:
      return "|i1";
    case DataType::kUint8:
      return "|u1";
    case DataType::kInt16:
      return "<i2";
    case DataType::kInt32:
      return "<i4";
    case DataType::kInt64:
      return "<i8";
    case DataType::kUint16:
      return "<u2";
    case DataType::kUint32:
      return "<u4";
    case DataType::kUint64:
      return "<u8";
    case DataType::kFloat16:
      return "<f2";
    case DataType::kFloat32:
      return "<f4";
    case DataType::kFloat64:
      return "<f8";
  }
  throw Internal("NpyDescr: unknown data type");
}

std::string NpyHeaderBytes(DataType dtype, const Shape& shape) {
  std::string dict = "{'descr': '" + NpyDescr(dtype) + "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) {
    dict += std::to_string(shape[i]);
    if (i + 1 < shape.size() || shape.size() == 1) dict += ",";
    if (i + 1 < shape.size()) dict += " ";
  }
  dict += "), }";
  // numpy (>= 1.23) leaves room for axis 0 to grow to 21 digits in place; doing the same
  // makes our files byte-identical to np.save's.
  constexpr size_t kGrowthDigits = 21;
  const size_t digits = std::to_string(shape.empty() ? 0 : shape[0]).size();
  if (!shape.empty() && digits < kGrowthDigits) dict.append(kGrowthDigits - digits, ' ');
  // numpy's layout: the dict, spaces, '\n', with the data starting on a 64-byte boundary.
  auto build = [&](int major) {
    const size_t len_field = major == 1 ? 2 : 4;
    const size_t unpadded = kMagicLen + 2 + len_field + dict.size() + 1;
    const size_t pad = (kAlign - unpadded % kAlign) % kAlign;
    const size_t header_len = dict.size() + pad + 1;
    std::string out(kMagic, kMagicLen);
    out += static_cast<char>(major);
    out += '\0';
    for (size_t i = 0; i < len_field; ++i) out += static_cast<char>((header_len >> (8 * i)) & 0xff);
    out += dict;
    out.append(pad, ' ');
    out += '\n';
    return std::make_pair(out, header_len);
  };
  auto [v1, len1] = build(1);
  if (len1 <= 0xffff) return v1;
  return build(2).first;
}

NpyHeader ReadNpyHeader(const std::string& path) {
  const int fd = OpenForRead(path);
  try {
    NpyHeader h = ParseHeaderFromFd(fd, path);
    ::close(fd);
    return h;
  } catch (...) {
    ::close(fd);
    throw;
  }
}

NpyReader::NpyReader(const std::string& path) : path_(path) {
  fd_ = OpenForRead(path);
  try {
    header_ = ParseHeaderFromFd(fd_, path);
  } catch (...) {
    ::close(fd_);
    throw;
  }
}

NpyReader::~NpyReader() {
  if (fd_ >= 0) ::close(fd_);
}

void NpyReader::ReadAt(uint64_t offset, std::byte* out, size_t n) const {
  PreadExact(fd_, path_, header_.data_offset + offset, out, n);
}

Array NpyReader::ReadSlab(Index begin, Index end) const {
  const Shape& shape = header_.shape;
  if (begin < 0 || end < begin || end > shape[0]) {
    throw InvalidArgument(path_ + ": slab [" + std::to_string(begin) + ", " + std::to_string(end) +
                          ") lies outside axis 0 of shape " + ShapeToString(shape));
  }
  const size_t es = ByteSize(header_.dtype);
  const size_t rank = shape.size();
  const Index rows = end - begin;
  Shape out_shape = shape;
  out_shape[0] = rows;
  if (!header_.fortran_order || rank == 1) {
    Array out(header_.dtype, out_shape);
    const uint64_t plane =
        static_cast<uint64_t>(NumElements(Shape(shape.begin() + 1, shape.end()))) * es;
    if (out.num_bytes() > 0)
      ReadAt(static_cast<uint64_t>(begin) * plane, out.data(), out.num_bytes());
    if (header_.big_endian != kHostBigEndian) SwapBytes(out.bytes(), es);
    return out;
  }

  // Fortran order: the file is a C-order array of shape (a[n-1], ..., a[1], a[0]). Gather the
  // [begin, end) part of every axis-0 run into that reversed layout, then reverse the axes.
  Shape gathered_shape(shape.rbegin(), shape.rend());
  gathered_shape[rank - 1] = rows;
  Array gathered(header_.dtype, gathered_shape);
  const Index runs = NumElements(Shape(shape.begin() + 1, shape.end()));
  const uint64_t row_stride = static_cast<uint64_t>(shape[0]) * es;
  const uint64_t run_bytes = static_cast<uint64_t>(rows) * es;
  const uint64_t run_offset = static_cast<uint64_t>(begin) * es;
  if (run_bytes > 0 && runs > 0) {
    if (row_stride <= (uint64_t{1} << 20) && run_bytes < row_stride) {
      // Short runs: read windows of whole rows sequentially rather than one syscall per run.
      const Index window_rows =
          std::max<Index>(1, static_cast<Index>((uint64_t{16} << 20) / row_stride));
      std::vector<std::byte> window;
      for (Index r = 0; r < runs; r += window_rows) {
        const Index n = std::min(window_rows, runs - r);
        const uint64_t first = static_cast<uint64_t>(r) * row_stride + run_offset;
        const uint64_t span = static_cast<uint64_t>(n - 1) * row_stride + run_bytes;
        window.resize(span);
        ReadAt(first, window.data(), span);
        for (Index k = 0; k < n; ++k) {
          std::memcpy(gathered.data() + static_cast<uint64_t>(r + k) * run_bytes,
                      window.data() + static_cast<uint64_t>(k) * row_stride, run_bytes);
        }
      }
    } else {
      for (Index r = 0; r < runs; ++r) {
        ReadAt(static_cast<uint64_t>(r) * row_stride + run_offset,
               gathered.data() + static_cast<uint64_t>(r) * run_bytes, run_bytes);
      }
    }
  }
  if (header_.big_endian != kHostBigEndian) SwapBytes(gathered.bytes(), es);
  std::vector<size_t> perm(rank);
  std::iota(perm.rbegin(), perm.rend(), size_t{0});
  return Transpose(gathered, perm);
}

NpyWriter::NpyWriter(const std::string& path, DataType dtype, Shape shape)
    : path_(path), dtype_(dtype), shape_(std::move(shape)) {
  CheckRank(shape_.size(), "npy shape");
  NumElements(shape_, "npy shape");
  CheckedMul(NumElements(shape_), static_cast<int64_t>(ByteSize(dtype_)), path_ + ": array bytes");
  file_ = std::make_unique<OutputFile>(path_);
  const std::string header = NpyHeaderBytes(dtype_, shape_);
  file_->Append(std::as_bytes(std::span(header.data(), header.size())));
}

void NpyWriter::WriteSlab(const Array& slab) {
  if (!file_) throw FailedPrecondition(path_ + ": write after Close");
  if (slab.dtype() != dtype_) {
    throw InvalidArgument(path_ + ": slab of " + std::string(DataTypeName(slab.dtype())) +
                          " written to a " + std::string(DataTypeName(dtype_)) + " file");
  }
  if (slab.rank() != shape_.size() ||
      !std::equal(shape_.begin() + 1, shape_.end(), slab.shape().begin() + 1)) {
    throw InvalidArgument(path_ + ": slab of shape " + ShapeToString(slab.shape()) +
                          " does not fit planes of shape " + ShapeToString(shape_));
  }
  if (slab.shape()[0] > shape_[0] - rows_written_) {
    throw InvalidArgument(path_ + ": slab of " + std::to_string(slab.shape()[0]) +
                          " planes exceeds the " + std::to_string(shape_[0] - rows_written_) +
                          " planes left");
  }
  if (kHostBigEndian && slab.element_size() > 1) {
    std::vector<std::byte> copy(slab.bytes().begin(), slab.bytes().end());
    SwapBytes(copy, slab.element_size());
    file_->Append(copy);
  } else {
    file_->Append(slab.bytes());
  }
  rows_written_ += slab.shape()[0];
}

void NpyWriter::Close() {
  if (!file_) return;
  if (rows_written_ != shape_[0]) {
    throw FailedPrecondition(path_ + ": only " + std::to_string(rows_written_) + " of " +
                             std::to_string(shape_[0]) + " planes were written");
  }
  file_->Commit();
  file_.reset();
}

}  // namespace volbatch
