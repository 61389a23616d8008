#include "volbatch/engine/job_dataset.h"

#include "volbatch/core/error.h"

namespace volbatch {

std::shared_ptr<Dataset> PrepareJobDataset(const std::string& where, const std::string& path,
                                           const CreateOptions& want, const std::string& jobdir,
                                           bool owned, bool create) {
  const DatasetOptions deferred{.sync = SyncMode::kDeferred};
  if (Dataset::Exists(path)) {
    auto out = std::make_shared<Dataset>(Dataset::Open(path, deferred));
    const ArrayLayout& l = out->layout();
    const Shape write_chunks = want.shards.value_or(want.chunks);
    std::string diff;
    if (out->format() != want.format) {
      diff = "format " + out->format() + ", the job's " + want.format;
    } else if (l.shape != want.shape) {
      diff = "shape " + ShapeToString(l.shape) + ", the job's " + ShapeToString(want.shape);
    } else if (l.dtype != want.dtype) {
      diff = "dtype " + std::string(DataTypeName(l.dtype)) + ", the job's " +
             std::string(DataTypeName(want.dtype));
    } else if (l.chunks != want.chunks || l.write_chunks != write_chunks) {
      diff = "chunks " + ShapeToString(l.chunks) +
             (l.write_chunks != l.chunks ? " in shards " + ShapeToString(l.write_chunks) : "") +
             ", the job's " + ShapeToString(want.chunks) +
             (want.shards ? " in shards " + ShapeToString(*want.shards) : "");
    }
    if (!diff.empty()) {
      throw FailedPrecondition(where + " exists with a different layout (" + diff +
                               "); remove it or choose another output path");
    }
    if (!owned) {
      throw FailedPrecondition(where + " exists and was not written by this job (no job " +
                               "directory at " + jobdir + "); pass --force to write into it");
    }
    return out;
  }
  if (!create) return nullptr;
  try {
    return std::make_shared<Dataset>(Dataset::Create(path, want, deferred));
  } catch (const Error& e) {
    throw WithContext(e, where);
  }
}

}  // namespace volbatch
