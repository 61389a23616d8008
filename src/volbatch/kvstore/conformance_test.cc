// The conformance tests every KvStore backend instantiates (see conformance.h).
#include "volbatch/kvstore/conformance.h"

#include <algorithm>
#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {

Bytes B(std::string_view s) {
  Bytes b(s.size());
  std::transform(s.begin(), s.end(), b.begin(), [](char c) { return std::byte(c); });
  return b;
}

Bytes Iota(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = std::byte(i & 255);
  return b;
}

template <typename F>
void ExpectError(ErrorCode code, const std::string& needle, F&& f) {
  try {
    f();
    ADD_FAILURE() << "expected an error containing \"" << needle << "\"";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << "\"" << e.what() << "\" does not mention \"" << needle << "\"";
  }
}

TEST_P(KvStoreConformance, AbsentKeys) {
  EXPECT_FALSE(store().Get("missing").has_value());
  EXPECT_FALSE(store().Get("no/such/nested/key").has_value());
  EXPECT_FALSE(store().GetRange("missing", {0, 1}).has_value());
  EXPECT_FALSE(store().GetRange("missing", {-4, -1}).has_value());
  EXPECT_TRUE(store().List("").empty());
  store().Erase("missing");  // not an error
  store().Erase("no/such/nested/key");
}

TEST_P(KvStoreConformance, SetGetOverwrite) {
  store().Set("k", B("hello"));
  EXPECT_EQ(store().Get("k"), B("hello"));
  store().Set("k", B("a longer value than before"));
  EXPECT_EQ(store().Get("k"), B("a longer value than before"));
  store().Set("k", B("s"));  // shorter: no stale tail
  EXPECT_EQ(store().Get("k"), B("s"));
}

TEST_P(KvStoreConformance, EmptyValueIsPresent) {
  store().Set("empty", {});
  auto v = store().Get("empty");
  ASSERT_TRUE(v.has_value());
  EXPECT_TRUE(v->empty());
  EXPECT_EQ(store().List(""), std::vector<std::string>{"empty"});
  EXPECT_EQ(store().GetRange("empty", {0, -1}), Bytes{});
  EXPECT_EQ(store().GetRange("empty", {0, 0}), Bytes{});
}

TEST_P(KvStoreConformance, BinaryAndLargeValues) {
  store().Set("bin", Iota(256 * 3));
  EXPECT_EQ(store().Get("bin"), Iota(256 * 3));
  Bytes big(5 << 20);
  std::mt19937 rng(7);
  for (auto& b : big) b = std::byte(rng() & 255);
  store().Set("big", big);
  EXPECT_EQ(store().Get("big"), big);
  EXPECT_EQ(store().GetRange("big", {1 << 20, 3}),
            Bytes(big.begin() + (1 << 20), big.begin() + (1 << 20) + 3));
}

// A value given in pieces is their concatenation: small pieces (gathered by the file store),
// pieces of 256 KiB and more (written as they are), empty ones, and a single piece.
TEST_P(KvStoreConformance, SetPiecesStoresTheirConcatenation) {
  const Bytes all = Iota(1 << 20);
  const std::vector<size_t> cuts = {0, 0, 7, 512, 1024, 1536, 300000, 700000, 700001, 1 << 20};
  std::vector<ByteView> pieces;
  for (size_t i = 0; i + 1 < cuts.size(); ++i) {
    pieces.push_back(ByteView(all).subspan(cuts[i], cuts[i + 1] - cuts[i]));
  }
  store().SetPieces("p/many", pieces);
  EXPECT_EQ(store().Get("p/many"), all);
  const ByteView one[] = {ByteView(all).first(100)};
  store().SetPieces("p/one", one);
  EXPECT_EQ(store().Get("p/one"), Iota(100));
  store().SetPieces("p/none", {});
  EXPECT_EQ(store().Get("p/none"), Bytes{});
}

// GetInto either reads the pieces asked for (any store may) or declines and touches nothing;
// it never reads a value of another size, nor an absent one.
TEST_P(KvStoreConformance, GetIntoReadsThePiecesOrDeclines) {
  const Bytes all = Iota(1 << 19);
  store().Set("v", all);
  Bytes a(100, std::byte{0xee}), b(300000, std::byte{0xee}), c(10, std::byte{0xee});
  const KvStore::ReadPiece pieces[] = {{5, a}, {105, b}, {400000, c}};
  const auto result = store().GetInto("v", all.size(), pieces);
  if (result == KvStore::GetIntoResult::kRead) {
    EXPECT_EQ(a, Bytes(all.begin() + 5, all.begin() + 105));
    EXPECT_EQ(b, Bytes(all.begin() + 105, all.begin() + 300105));
    EXPECT_EQ(c, Bytes(all.begin() + 400000, all.begin() + 400010));
  } else {
    EXPECT_EQ(result, KvStore::GetIntoResult::kDeclined);
    EXPECT_EQ(a, Bytes(100, std::byte{0xee}));
  }
  Bytes d(4, std::byte{0xee});
  const KvStore::ReadPiece one[] = {{0, d}};
  EXPECT_NE(store().GetInto("v", all.size() + 1, one), KvStore::GetIntoResult::kRead);
  EXPECT_NE(store().GetInto("absent", 4, one), KvStore::GetIntoResult::kRead);
  EXPECT_EQ(d, Bytes(4, std::byte{0xee}));
}

TEST_P(KvStoreConformance, NestedKeysAndErase) {
  store().Set("a/b/c/d", B("deep"));
  store().Set("a/b/e", B("side"));
  EXPECT_EQ(store().Get("a/b/c/d"), B("deep"));
  EXPECT_FALSE(store().Get("a/b").has_value());  // a prefix is not a key
  store().Erase("a/b");                          // nor can it be erased as one
  store().Erase("a/b/c/d");
  EXPECT_FALSE(store().Get("a/b/c/d").has_value());
  EXPECT_EQ(store().Get("a/b/e"), B("side"));
  EXPECT_EQ(store().List(""), std::vector<std::string>{"a/b/e"});
  store().Set("a/b/c/d", B("again"));  // recreate below an erased key
  EXPECT_EQ(store().Get("a/b/c/d"), B("again"));
}

TEST_P(KvStoreConformance, ListIsRecursiveSortedAndPrefixFiltered) {
  for (const char* k :
       {"yy", "y/z/3", "x", "y/2", "y/1", ".zarray", "y/.zattrs", "0/1/2", "0/10"}) {
    store().Set(k, B(k));
  }
  using V = std::vector<std::string>;
  EXPECT_EQ(store().List(""),
            (V{".zarray", "0/1/2", "0/10", "x", "y/.zattrs", "y/1", "y/2", "y/z/3", "yy"}));
  EXPECT_EQ(store().List("y/"), (V{"y/.zattrs", "y/1", "y/2", "y/z/3"}));
  EXPECT_EQ(store().List("y"), (V{"y/.zattrs", "y/1", "y/2", "y/z/3", "yy"}));
  EXPECT_EQ(store().List("y/z"), (V{"y/z/3"}));
  EXPECT_EQ(store().List("0/1"), (V{"0/1/2", "0/10"}));
  EXPECT_EQ(store().List("x"), (V{"x"}));
  EXPECT_TRUE(store().List("q").empty());
  EXPECT_TRUE(store().List("nothing/here/").empty());
}

TEST_P(KvStoreConformance, ByteRanges) {
  store().Set("r", Iota(100));
  auto sub = [](size_t b, size_t e) {
    Bytes all = Iota(100);
    return Bytes(all.begin() + b, all.begin() + e);
  };
  EXPECT_EQ(store().GetRange("r", {10, 5}), sub(10, 15));
  EXPECT_EQ(store().GetRange("r", {0, -1}), sub(0, 100));
  EXPECT_EQ(store().GetRange("r", {90, -1}), sub(90, 100));
  EXPECT_EQ(store().GetRange("r", {100, -1}), Bytes{});
  EXPECT_EQ(store().GetRange("r", {100, 0}), Bytes{});
  EXPECT_EQ(store().GetRange("r", {0, 100}), sub(0, 100));
  EXPECT_EQ(store().GetRange("r", {-10, -1}), sub(90, 100));
  EXPECT_EQ(store().GetRange("r", {-10, 3}), sub(90, 100));  // length ignored for suffixes
  EXPECT_EQ(store().GetRange("r", {-100, -1}), sub(0, 100));
  ExpectError(ErrorCode::kDataLoss, "r", [&] { store().GetRange("r", {95, 10}); });
  ExpectError(ErrorCode::kDataLoss, "r", [&] { store().GetRange("r", {101, -1}); });
  ExpectError(ErrorCode::kDataLoss, "r", [&] { store().GetRange("r", {-101, -1}); });
  ExpectError(ErrorCode::kDataLoss, "r", [&] { store().GetRange("r", {INT64_MAX, INT64_MAX}); });
  ExpectError(ErrorCode::kDataLoss, "r", [&] { store().GetRange("r", {INT64_MIN, -1}); });
}

TEST_P(KvStoreConformance, RangeErrorsNameTheKey) {
  store().Set("dir/chunk/0", Iota(4));
  ExpectError(ErrorCode::kDataLoss, store().Describe("dir/chunk/0"), [&] {
    store().GetRange("dir/chunk/0", {2, 8});
  });
  EXPECT_NE(store().Describe("dir/chunk/0").find("dir/chunk/0"), std::string::npos);
}

TEST_P(KvStoreConformance, InvalidKeysAreRefused) {
  const std::vector<std::string> bad = {"",      "/abs", "a/../b", "..",   ".",
                                        "a/./b", "a//b", "a/",     "a\\b", std::string("a\0b", 3),
                                        "../x",  "x/.."};
  for (const auto& k : bad) {
    SCOPED_TRACE(k);
    EXPECT_THROW(store().Get(k), Error);
    EXPECT_THROW(store().GetRange(k, {0, 1}), Error);
    EXPECT_THROW(store().Set(k, B("v")), Error);
    EXPECT_THROW(store().Erase(k), Error);
    ExpectError(ErrorCode::kInvalidArgument, "key", [&] { store().Set(k, B("v")); });
  }
  EXPECT_THROW(store().List("../"), Error);
  EXPECT_THROW(store().List("/"), Error);
  EXPECT_THROW(store().Sub(".."), Error);
  EXPECT_THROW(store().Sub("/etc"), Error);
  EXPECT_TRUE(store().List("").empty());
}

TEST_P(KvStoreConformance, SubStore) {
  auto sub = store().Sub("p/q");
  sub->Set("k", B("v"));
  sub->Set("n/m", B("w"));
  EXPECT_EQ(store().Get("p/q/k"), B("v"));
  EXPECT_EQ(sub->Get("n/m"), B("w"));
  EXPECT_EQ(sub->List(""), (std::vector<std::string>{"k", "n/m"}));
  EXPECT_EQ(store().List("p/"), (std::vector<std::string>{"p/q/k", "p/q/n/m"}));
  EXPECT_NE(sub->Describe("k").find("p/q/k"), std::string::npos);
  auto sub2 = store().Sub("p/q/");  // a trailing slash is the same prefix
  EXPECT_EQ(sub2->Get("k"), B("v"));
  sub->Erase("k");
  EXPECT_FALSE(store().Get("p/q/k").has_value());
}

TEST_P(KvStoreConformance, ConcurrentSetOfOneKeyLeavesOneCompleteValue) {
  if (!GetParam().non_atomic_overwrite.empty()) {
    GTEST_SKIP() << "the server under test does not replace values atomically: "
                 << GetParam().non_atomic_overwrite;
  }
  constexpr int kThreads = 8;
  constexpr size_t kSize = 256 << 10;
  std::atomic<bool> torn{false};
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    while (!stop) {
      auto v = store().Get("c/k");
      if (!v) continue;
      if (v->size() != kSize ||
          std::any_of(v->begin(), v->end(), [&](std::byte b) { return b != v->front(); })) {
        torn = true;
      }
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      const Bytes value(kSize, std::byte(t + 1));
      for (int i = 0; i < 10; ++i) store().Set("c/k", value);
    });
  }
  for (auto& w : writers) w.join();
  stop = true;
  reader.join();
  EXPECT_FALSE(torn) << "a reader saw a partial or mixed value";
  auto v = store().Get("c/k");
  ASSERT_TRUE(v.has_value());
  ASSERT_EQ(v->size(), kSize);
  const int first = static_cast<int>(v->front());
  EXPECT_GE(first, 1);
  EXPECT_LE(first, kThreads);
  EXPECT_TRUE(std::all_of(v->begin(), v->end(), [&](std::byte b) { return b == v->front(); }));
  EXPECT_EQ(store().List(""), std::vector<std::string>{"c/k"});
}

TEST_P(KvStoreConformance, ConcurrentSetOfSiblingsInNewDirectories) {
  std::vector<std::thread> writers;
  for (int t = 0; t < 8; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < 8; ++i) {
        store().Set("n/" + std::to_string(i) + "/" + std::to_string(t), B(std::to_string(t)));
      }
    });
  }
  for (auto& w : writers) w.join();
  EXPECT_EQ(store().List("").size(), 64u);
  EXPECT_EQ(store().Get("n/7/3"), B("3"));
}

TEST_P(KvStoreConformance, SyncKeepsValuesAndIsIdempotent) {
  store().Sync();  // nothing written yet
  store().Set("s/a", B("1"));
  store().Set("s/b", B("2"));
  store().Erase("s/b");
  store().Sync();
  store().Sync();  // nothing new
  EXPECT_EQ(store().Get("s/a"), B("1"));
  EXPECT_FALSE(store().Get("s/b").has_value());
  auto sub = store().Sub("s");
  sub->Set("c", B("3"));
  sub->Sync();
  store().Sync();
  EXPECT_EQ(store().List(""), (std::vector<std::string>{"s/a", "s/c"}));
}

TEST_P(KvStoreConformance, ConcurrentSetsAndSyncs) {
  constexpr int kThreads = 6;
  constexpr int kKeys = 40;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto sub = store().Sub("t" + std::to_string(t % 2));
      for (int i = 0; i < kKeys; ++i) {
        const std::string key = std::to_string(t) + "/" + std::to_string(i);
        sub->Set(key, Iota(1000 + static_cast<size_t>(i)));
        // A Set is visible at once, before any Sync.
        EXPECT_EQ(sub->Get(key), Iota(1000 + static_cast<size_t>(i))) << key;
        if (i % 8 == t % 8) sub->Sync();
      }
      store().Sync();
    });
  }
  for (auto& th : threads) th.join();
  store().Sync();
  const auto keys = store().List("");
  EXPECT_EQ(keys.size(), static_cast<size_t>(kThreads * kKeys));
  for (const auto& k : keys) {
    const size_t i = static_cast<size_t>(std::stoi(k.substr(k.rfind('/') + 1)));
    EXPECT_EQ(store().Get(k), Iota(1000 + i)) << k;
  }
}

TEST_P(KvStoreConformance, SweepTemporariesNeverRemovesKeys) {
  for (const char* k : {"a", ".zarray", "d/.k.tmp.notours", "d/0.0.0", "d/e/f"}) {
    store().Set(k, B(k));
  }
  EXPECT_EQ(store().SweepTemporaries("", std::chrono::seconds(0)), 0u);
  EXPECT_EQ(store().List(""),
            (std::vector<std::string>{".zarray", "a", "d/.k.tmp.notours", "d/0.0.0", "d/e/f"}));
}

}  // namespace
}  // namespace volbatch
