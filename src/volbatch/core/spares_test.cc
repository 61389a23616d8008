#include "volbatch/core/spares.h"

#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <thread>
#include <vector>

namespace volbatch {
namespace {

TEST(Spares, TakeGivesBackWhatWasPutOrAnEmptyValue) {
  Spares<std::vector<float>> spares;
  EXPECT_EQ(spares.Take().capacity(), 0u);
  std::vector<float> v(1000);
  const float* memory = v.data();
  spares.Put(std::move(v));
  std::vector<float> again = spares.Take();
  EXPECT_EQ(again.data(), memory);  // the same memory, not a copy
  EXPECT_EQ(spares.Take().capacity(), 0u);
}

TEST(Spares, ThreadsTakingAndPuttingNeverShareAValue) {
  Spares<std::unique_ptr<int>> spares;
  constexpr int kThreads = 4, kRounds = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        std::unique_ptr<int> p = spares.Take();
        if (!p) p = std::make_unique<int>(0);
        *p = t;  // a value shared between two takers would be a race TSan reports
        ASSERT_EQ(*p, t);
        spares.Put(std::move(p));
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<int*> distinct;
  for (std::unique_ptr<int> p = spares.Take(); p; p = spares.Take()) {
    EXPECT_TRUE(distinct.insert(p.get()).second);
  }
  EXPECT_GE(distinct.size(), 1u);
  EXPECT_LE(distinct.size(), static_cast<size_t>(kThreads));
}

}  // namespace
}  // namespace volbatch
