// libFuzzer target: the key -> path mapping of the file store (kvstore/key.cc, file_store.cc).
// The property the store promises is that no key it accepts names a location outside its root:
// for every key ValidateKey accepts, the path the store maps it to (Describe), normalized
// lexically, stays strictly under the root, also through a Sub store; and reading such a key
// (which resolves its directories against the real, empty root) fails only with a
// volbatch::Error, never reaching outside.
//
// Input: [sub-store prefix '\n'] key. Without a newline the prefix is empty.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "fuzz/fuzz_util.h"
#include "volbatch/kvstore/kvstore.h"

namespace volbatch::fuzz {
namespace {

namespace fs = std::filesystem;

const std::string& Root() {
  static const std::string* root = [] {
    const fs::path dir = fs::temp_directory_path() / "volbatch-key-fuzz";
    fs::create_directories(dir / "root");
    return new std::string((dir / "root").string());
  }();
  return *root;
}

// True if `path`, normalized, is `root` followed by at least one more component (or, unless
// `strict`, `root` itself).
bool Under(const std::string& path, const std::string& root, bool strict = true) {
  const fs::path normal = fs::path(path).lexically_normal();
  if (!strict && normal == fs::path(root)) return true;
  const fs::path rel = normal.lexically_relative(root);
  if (rel.empty() || rel == ".") return false;
  for (const auto& part : rel) {
    if (part == "..") return false;
  }
  return normal.string().rfind(root + "/", 0) == 0;
}

void CheckUnder(const KvStore& store, std::string_view key, const std::string& root,
                const char* which) {
  const std::string path = store.Describe(key);
  Check(Under(path, root),
        std::string(which) + ": accepted key maps to \"" + path + "\", not under \"" + root + "\"");
}

}  // namespace
}  // namespace volbatch::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace volbatch;
  using namespace volbatch::fuzz;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  const std::string_view prefix =
      newline == std::string_view::npos ? std::string_view() : input.substr(0, newline);
  const std::string_view key =
      newline == std::string_view::npos ? input : input.substr(newline + 1);
  static const auto store = OpenFileStore(Root());

  bool accepted = false;
  RejectOnError([&] {
    ValidateKey(key);
    accepted = true;
  });
  if (accepted) {
    CheckUnder(*store, key, Root(), "root store");
    RejectOnError([&] { (void)store->Get(key); });
  }
  if (prefix.empty()) return 0;
  RejectOnError([&] {
    const auto sub = store->Sub(prefix);
    // A Sub store's root is the prefix's path, itself under the root (or the root for "/").
    const std::string sub_root = fs::path(sub->Describe("k")).parent_path().string();
    Check(Under(sub_root, Root(), /*strict=*/false),
          "Sub(\"" + std::string(prefix) + "\") is rooted at \"" + sub_root + "\"");
    if (accepted) {
      CheckUnder(*sub, key, fs::path(sub_root).lexically_normal().string(), "sub store");
      RejectOnError([&] { (void)sub->Get(key); });
    }
  });
  return 0;
}
