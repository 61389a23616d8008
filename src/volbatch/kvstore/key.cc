// Key validation shared by every backend: keys are relative '/'-separated paths, and anything
// that could name a location outside the store (absolute, "..", Windows separators, NUL) is
// refused before a backend turns the key into a path or a URL. Also the KvStore interface's
// defaults that every backend may keep.
#include <string>

#include "volbatch/core/bytes.h"
#include "volbatch/core/error.h"
#include "volbatch/kvstore/kvstore.h"

namespace volbatch {
namespace {

// Keys in messages are quoted with control characters escaped, so a NUL or newline in a
// hostile key cannot garble the one-line error the CLI prints.
std::string Quote(std::string_view key) {
  std::string out = "\"";
  for (char c : key) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 15];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

void ValidateKey(std::string_view key) {
  auto bad = [&](const char* why) {
    return InvalidArgument("invalid key " + Quote(key) + ": " + why);
  };
  if (key.empty()) throw bad("empty");
  if (key.front() == '/') throw bad("absolute paths are not allowed");
  for (char c : key) {
    if (c == '\0') throw bad("contains a NUL character");
    if (c == '\\') throw bad("contains a backslash");
  }
  size_t start = 0;
  while (true) {
    const size_t end = key.find('/', start);
    const std::string_view seg =
        key.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (seg.empty()) throw bad("empty path segment");
    if (seg == ".") throw bad("\".\" segments are not allowed");
    if (seg == "..") throw bad("\"..\" segments are not allowed");
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
}

Error NoConditionalWrites(std::string_view key) {
  return Unsupported(std::string(key) + ": this store has no conditional writes");
}

void KvStore::SetPieces(std::string_view key, std::span<const ByteView> pieces) {
  if (pieces.size() == 1) return Set(key, pieces[0]);
  size_t n = 0;
  for (ByteView p : pieces) n += p.size();
  Bytes value;
  value.reserve(n);
  for (ByteView p : pieces) AppendBytes(value, p);
  Set(key, value);
}

}  // namespace volbatch
