#include "volbatch/codec/registry.h"

#include <map>
#include <mutex>

#include "volbatch/codec/builtin.h"
#include "volbatch/core/error.h"

namespace volbatch {
namespace {

struct Registry {
  std::mutex mu;
  std::map<std::string, BytesCodecFactory> bytes;
  std::map<std::string, ArrayCodecFactory> array;
  std::map<std::string, ArrayToBytesCodecFactory> array_to_bytes;
};

Registry& Storage() {
  static Registry r;
  return r;
}

// The built-in codecs register on first use rather than through static initializers, which a
// static library would drop.
Registry& Loaded() {
  static std::once_flag once;
  std::call_once(once, [] { RegisterBuiltinCodecs(); });
  return Storage();
}

template <typename Map>
auto Find(Map& map, std::mutex& mu, const std::string& name) -> typename Map::mapped_type {
  std::lock_guard lock(mu);
  auto it = map.find(name);
  if (it == map.end()) return nullptr;
  return it->second;
}

}  // namespace

void RegisterBytesCodec(const std::string& name, BytesCodecFactory f) {
  std::lock_guard lock(Storage().mu);
  Storage().bytes[name] = std::move(f);
}
void RegisterArrayCodec(const std::string& name, ArrayCodecFactory f) {
  std::lock_guard lock(Storage().mu);
  Storage().array[name] = std::move(f);
}
void RegisterArrayToBytesCodec(const std::string& name, ArrayToBytesCodecFactory f) {
  std::lock_guard lock(Storage().mu);
  Storage().array_to_bytes[name] = std::move(f);
}

CodecKind KindOfCodec(const std::string& name) {
  Registry& r = Loaded();
  std::lock_guard lock(r.mu);
  if (r.bytes.count(name)) return CodecKind::kBytesToBytes;
  if (r.array.count(name)) return CodecKind::kArrayToArray;
  if (r.array_to_bytes.count(name)) return CodecKind::kArrayToBytes;
  return CodecKind::kUnknown;
}

static Error UnknownCodec(const std::string& name) {
  std::string known;
  for (const auto& n : RegisteredCodecNames()) known += (known.empty() ? "" : ", ") + n;
  return Unsupported("unknown codec \"" + name + "\" (known: " + known + ")");
}

std::shared_ptr<const BytesCodec> MakeBytesCodec(const std::string& name,
                                                 const nlohmann::json& configuration) {
  Registry& r = Loaded();
  auto f = Find(r.bytes, r.mu, name);
  if (!f) throw UnknownCodec(name);
  return f(configuration);
}

std::shared_ptr<const ArrayCodec> MakeArrayCodec(const std::string& name,
                                                 const nlohmann::json& configuration) {
  Registry& r = Loaded();
  auto f = Find(r.array, r.mu, name);
  if (!f) throw UnknownCodec(name);
  return f(configuration);
}

std::shared_ptr<const ArrayToBytesCodec> MakeArrayToBytesCodec(
    const std::string& name, const nlohmann::json& configuration) {
  Registry& r = Loaded();
  auto f = Find(r.array_to_bytes, r.mu, name);
  if (!f) throw UnknownCodec(name);
  return f(configuration);
}

std::vector<std::string> RegisteredCodecNames() {
  Registry& r = Loaded();
  std::lock_guard lock(r.mu);
  std::vector<std::string> names;
  for (const auto& [n, f] : r.array) names.push_back(n);
  for (const auto& [n, f] : r.array_to_bytes) names.push_back(n);
  for (const auto& [n, f] : r.bytes) names.push_back(n);
  return names;
}

}  // namespace volbatch
