// An in-memory KvStore for the fuzz targets: the metadata parsers are reached only by opening an
// array from a store, and a map is much faster than files and leaves nothing behind. Keys are
// validated like every backend's; a Sub store shares the map under a key prefix.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "volbatch/core/error.h"
#include "volbatch/kvstore/kvstore.h"

namespace volbatch::fuzz {

class MemoryStore : public KvStore {
 public:
  MemoryStore() : values_(std::make_shared<std::map<std::string, Bytes>>()) {}

  std::optional<Bytes> Get(std::string_view key) const override {
    ValidateKey(key);
    const auto it = values_->find(Full(key));
    if (it == values_->end()) return std::nullopt;
    return it->second;
  }

  std::optional<Bytes> GetRange(std::string_view key, ByteRange range) const override {
    auto value = Get(key);
    if (!value) return std::nullopt;
    const uint64_t size = value->size();
    uint64_t begin, end;
    if (range.offset < 0) {
      const uint64_t n =
          range.offset == INT64_MIN ? uint64_t{1} << 63 : static_cast<uint64_t>(-range.offset);
      if (n > size) throw DataLoss(Describe(key) + ": suffix longer than the value");
      begin = size - n;
      end = size;
    } else {
      if (range.length < -1) throw InvalidArgument(Describe(key) + ": negative range length");
      begin = static_cast<uint64_t>(range.offset);
      end = range.length == -1 ? size : begin + static_cast<uint64_t>(range.length);
      if (begin > size || end > size || end < begin) {
        throw DataLoss(Describe(key) + ": range outside the value");
      }
    }
    return Bytes(value->begin() + static_cast<std::ptrdiff_t>(begin),
                 value->begin() + static_cast<std::ptrdiff_t>(end));
  }

  void Set(std::string_view key, ByteView value) override {
    ValidateKey(key);
    (*values_)[Full(key)] = Bytes(value.begin(), value.end());
  }

  void Erase(std::string_view key) override {
    ValidateKey(key);
    values_->erase(Full(key));
  }

  std::vector<std::string> List(std::string_view prefix) const override {
    const std::string full = prefix_ + std::string(prefix);
    std::vector<std::string> keys;
    for (auto it = values_->lower_bound(full); it != values_->end(); ++it) {
      if (it->first.compare(0, full.size(), full) != 0) break;
      keys.push_back(it->first.substr(prefix_.size()));
    }
    return keys;
  }

  std::string Describe(std::string_view key) const override { return "memory:" + Full(key); }

  std::shared_ptr<KvStore> Sub(std::string_view prefix) const override {
    auto sub = std::make_shared<MemoryStore>(*this);
    if (!prefix.empty()) {
      ValidateKey(prefix);
      sub->prefix_ = Full(prefix) + "/";
    }
    return sub;
  }

 private:
  std::string Full(std::string_view key) const { return prefix_ + std::string(key); }

  std::shared_ptr<std::map<std::string, Bytes>> values_;
  std::string prefix_;  // "" or "a/b/"
};

}  // namespace volbatch::fuzz
