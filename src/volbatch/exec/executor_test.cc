#include "volbatch/exec/executor.h"

#include <gtest/gtest.h>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {

ExecutorOptions Named(const std::string& name, int workers) {
  ExecutorOptions o;
  o.name = name;
  o.workers = workers;
  return o;
}

std::string ErrorOf(const ExecutorOptions& o, int fallback, int most, const std::string& what) {
  try {
    ResolveWorkers(o, fallback, most, what);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    return e.what();
  }
  return "";
}

TEST(ResolveWorkers, FlagElseTheExecutorsDefault) {
  EXPECT_EQ(ResolveWorkers(Named("processes", 0), 2, 4096, "worker processes"), 2);
  EXPECT_EQ(ResolveWorkers(Named("processes", 7), 2, 4096, "worker processes"), 7);
  EXPECT_EQ(ResolveWorkers(Named("k8s", 4096), 0, 4096, "pods"), 4096);
}

TEST(ResolveWorkers, OutOfRangeOrMissingNamesTheFlagTheExecutorAndTheBounds) {
  EXPECT_EQ(ErrorOf(Named("mpi", 70000), 2, 65535, "MPI workers"),
            "--workers: the mpi executor runs between 1 and 65535 MPI workers, got 70000");
  EXPECT_EQ(ErrorOf(Named("slurm", -3), 8, 100000, "array tasks"),
            "--workers: the slurm executor runs between 1 and 100000 array tasks, got -3");
  EXPECT_EQ(ErrorOf(Named("k8s", 0), 0, 4096, "pods"),
            "--workers: give the number of pods for the k8s executor (--workers N)");
}

}  // namespace
}  // namespace volbatch
