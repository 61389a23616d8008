#include "volbatch/core/fork_generation.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <thread>
#include <vector>

namespace volbatch {
namespace {

// A child forked while another thread of the parent is inside With() (holding the mutex, in
// the middle of changing the state) gets a fresh mutex and an empty state, instead of waiting
// forever on a lock no thread of it will release. The parent's object is untouched.
TEST(ForkSafe, AChildForkedWhileTheLockIsHeldStartsAfresh) {
#ifdef VOLBATCH_TSAN
  GTEST_SKIP() << "TSan does not support fork() from a multi-threaded process";
#endif
  ForkSafe<std::vector<int>> safe;
  safe.With([](auto& v) { v.push_back(1); });
  std::mutex m;
  std::condition_variable cv;
  bool inside = false, release = false;
  std::thread holder([&] {
    safe.With([&](auto& v) {
      v.push_back(2);
      std::unique_lock lock(m);
      inside = true;
      cv.notify_all();
      cv.wait(lock, [&] { return release; });
    });
  });
  {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return inside; });
  }
  const uint64_t before = ForkGeneration();
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::alarm(10);  // a hang fails the test instead of blocking it
    int code = ForkGeneration() == before + 1 ? 0 : 3;
    const size_t size = safe.With([](auto& v) {
      v.push_back(3);
      return v.size();
    });
    if (code == 0 && size != 1) code = 4;
    ::_exit(code);
  }
  {
    std::lock_guard lock(m);
    release = true;
  }
  cv.notify_all();
  holder.join();
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "child killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(safe.With([](auto& v) { return v; }), (std::vector<int>{1, 2}));
  EXPECT_EQ(ForkGeneration(), before);
}

}  // namespace
}  // namespace volbatch
