// Writes of parts of units on object stores: by compare-and-swap where the store has
// conditional writes, by one writer at a time where it has not (partial_writer.h). The stores
// here keep values in memory behind a URL scheme; S3's own conditional writes are probed in
// remote_test.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "volbatch/core/error.h"
#include "volbatch/kvstore/location.h"
#include "volbatch/store/dataset.h"

namespace volbatch {
namespace {

// Values in memory with a version per write, shared by every store of the scheme (each a view
// below its URL's path); conditional writes when `cas` is true. Another writer can be made to
// slip in right before a conditional write (Interfere).
struct Memory {
  bool cas = true;
  std::mutex mu;
  std::map<std::string, std::pair<Bytes, int64_t>> values;
  int64_t version = 0;
  std::function<void()> interfere;
  std::atomic<int> conflicts{0};
};

class MemoryStore final : public KvStore {
 public:
  MemoryStore(std::shared_ptr<Memory> m, std::string prefix)
      : m_(std::move(m)), prefix_(std::move(prefix)) {}
  bool ConditionalWrites() const override { return m_->cas; }
  int Concurrency() const override { return 8; }
  std::optional<Bytes> Get(std::string_view key) const override {
    std::lock_guard lock(m_->mu);
    auto it = m_->values.find(Full(key));
    if (it == m_->values.end()) return std::nullopt;
    return it->second.first;
  }
  std::optional<Bytes> GetRange(std::string_view key, ByteRange range) const override {
    auto v = Get(key);
    if (!v) return v;
    const size_t begin = range.offset < 0 ? v->size() - static_cast<size_t>(-range.offset)
                                          : static_cast<size_t>(range.offset);
    const size_t end = range.offset < 0 || range.length < 0
                           ? v->size()
                           : begin + static_cast<size_t>(range.length);
    return Bytes(v->begin() + static_cast<std::ptrdiff_t>(begin),
                 v->begin() + static_cast<std::ptrdiff_t>(end));
  }
  void Set(std::string_view key, ByteView value) override {
    std::lock_guard lock(m_->mu);
    m_->values[Full(key)] = {Bytes(value.begin(), value.end()), ++m_->version};
  }
  void Erase(std::string_view key) override {
    std::lock_guard lock(m_->mu);
    m_->values.erase(Full(key));
  }
  std::optional<Versioned> GetVersioned(std::string_view key) const override {
    std::lock_guard lock(m_->mu);
    auto it = m_->values.find(Full(key));
    if (it == m_->values.end()) return std::nullopt;
    return Versioned{it->second.first, std::to_string(it->second.second)};
  }
  bool SetIfVersion(std::string_view key, ByteView value,
                    const std::optional<std::string>& version) override {
    std::function<void()> hook;
    {
      std::lock_guard lock(m_->mu);
      hook = std::exchange(m_->interfere, nullptr);
    }
    if (hook) hook();
    std::lock_guard lock(m_->mu);
    auto it = m_->values.find(Full(key));
    const bool same = version
                          ? it != m_->values.end() && std::to_string(it->second.second) == *version
                          : it == m_->values.end();
    if (!same) {
      ++m_->conflicts;
      return false;
    }
    m_->values[Full(key)] = {Bytes(value.begin(), value.end()), ++m_->version};
    return true;
  }
  bool EraseIfVersion(std::string_view key, const std::string& version) override {
    std::lock_guard lock(m_->mu);
    auto it = m_->values.find(Full(key));
    if (it == m_->values.end() || std::to_string(it->second.second) != version) return false;
    m_->values.erase(it);
    return true;
  }
  std::vector<std::string> List(std::string_view prefix) const override {
    std::lock_guard lock(m_->mu);
    std::vector<std::string> keys;
    const std::string full = Full(prefix);
    for (const auto& [k, v] : m_->values) {
      if (k.starts_with(full)) keys.push_back(k.substr(prefix_.size() + 1));
    }
    return keys;
  }
  std::string Describe(std::string_view key) const override { return "memtest://" + Full(key); }
  std::shared_ptr<KvStore> Sub(std::string_view p) const override {
    return std::make_shared<MemoryStore>(m_, Full(p));
  }

 private:
  std::string Full(std::string_view key) const { return prefix_ + "/" + std::string(key); }
  std::shared_ptr<Memory> m_;
  std::string prefix_;
};

std::shared_ptr<Memory> g_memory;

void UseMemory(bool cas) {
  g_memory = std::make_shared<Memory>();
  g_memory->cas = cas;
  static const bool registered = [] {
    RegisterKvStoreScheme("memtest", [](const std::string& url) {
      return std::make_shared<MemoryStore>(g_memory, url.substr(std::string("memtest://").size()));
    });
    return true;
  }();
  (void)registered;
}

CreateOptions OneUnit() {
  CreateOptions o;
  o.format = "zarr3";
  o.shape = {16, 16};
  o.chunks = {16, 16};  // one unit: every write below is a part of it
  o.dtype = DataType::kUint8;
  return o;
}

Array Filled(uint8_t v, const Shape& shape) {
  Array a(DataType::kUint8, shape);
  std::fill(a.bytes().begin(), a.bytes().end(), static_cast<std::byte>(v));
  return a;
}

TEST(PartialWrites, ConditionalWritesMergeConcurrentWritersOfOneUnit) {
  UseMemory(true);
  Dataset d = Dataset::Create("memtest://a.zarr/x", OneUnit());
  // 16 threads each write their own row of the one unit, 5 times over.
  std::vector<std::thread> writers;
  for (int t = 0; t < 16; ++t) {
    writers.emplace_back([&, t] {
      Dataset mine = Dataset::Open("memtest://a.zarr/x");
      for (int k = 0; k < 5; ++k) mine.Write(Box({t, 0}, {1, 16}), Filled(t + 1, {1, 16}));
    });
  }
  for (auto& w : writers) w.join();
  const Array back = d.Read(Box::FromShape({16, 16}));
  for (int t = 0; t < 16; ++t) {
    for (int x = 0; x < 16; ++x) {
      ASSERT_EQ(static_cast<int>(back.bytes()[static_cast<size_t>(t * 16 + x)]), t + 1)
          << "row " << t << " lost its update";
    }
  }
}

TEST(PartialWrites, AWriterThatCameFirstIsReadAgainNotOverwritten) {
  UseMemory(true);
  Dataset d = Dataset::Create("memtest://a.zarr/x", OneUnit());
  d.Write(Box({0, 0}, {1, 16}), Filled(7, {1, 16}));
  // Between this write's read and its conditional write, another writer writes row 15.
  g_memory->interfere = [] {
    Dataset::Open("memtest://a.zarr/x").Write(Box({15, 0}, {1, 16}), Filled(9, {1, 16}));
  };
  d.Write(Box({5, 0}, {1, 16}), Filled(3, {1, 16}));
  EXPECT_GE(g_memory->conflicts.load(), 1);
  const Array back = d.Read(Box::FromShape({16, 16}));
  EXPECT_EQ(static_cast<int>(back.bytes()[0]), 7);
  EXPECT_EQ(static_cast<int>(back.bytes()[5 * 16]), 3);
  EXPECT_EQ(static_cast<int>(back.bytes()[15 * 16]), 9);
}

TEST(PartialWrites, WithoutConditionalWritesASecondProcessIsRefused) {
  UseMemory(false);
  Dataset d = Dataset::Create("memtest://a.zarr/x", OneUnit());
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  std::string h = host;
  std::replace(h.begin(), h.end(), '.', '_');
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  // A stale marker (an hour old) and a dead process's do not count.
  const auto array = OpenKvStore("memtest://a.zarr/x");
  array->Set(".volbatch-partial-writer.elsewhere.77." + std::to_string(now_ms - 3600000), {});
  pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ::waitpid(dead, nullptr, 0);
  array->Set(
      ".volbatch-partial-writer." + h + "." + std::to_string(dead) + "." + std::to_string(now_ms),
      {});
  d.Write(Box({0, 0}, {1, 16}), Filled(1, {1, 16}));
  // Threads of this process take turns; its marker is there while it writes.
  std::vector<std::thread> writers;
  for (int t = 1; t < 16; ++t) {
    writers.emplace_back([&, t] { d.Write(Box({t, 0}, {1, 16}), Filled(t + 1, {1, 16})); });
  }
  for (auto& w : writers) w.join();
  const Array back = d.Read(Box::FromShape({16, 16}));
  for (int t = 0; t < 16; ++t) EXPECT_EQ(static_cast<int>(back.bytes()[t * 16]), t + 1);
  // A live writer elsewhere (a fresh marker of another host) refuses a new handle's writes.
  array->Set(".volbatch-partial-writer.elsewhere.42." + std::to_string(now_ms), {});
  Dataset other = Dataset::Open("memtest://a.zarr/x");
  try {
    other.Write(Box({0, 0}, {1, 16}), Filled(5, {1, 16}));
    FAIL() << "a second partial writer was let in";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("memtest://a.zarr/x: another process (elsewhere pid 42) writes parts of "
                     "this array's chunks"),
              std::string::npos)
        << m;
  }
  EXPECT_EQ(static_cast<int>(other.Read(Box::FromShape({16, 16})).bytes()[0]), 1);
}

}  // namespace
}  // namespace volbatch
