#include "volbatch/engine/block_levels.h"

#include "volbatch/core/error.h"
#include "volbatch/engine/job_dataset.h"

namespace volbatch {
namespace {

// Level k's part of a block whose level k - 1 part is `prev`: origins divide by the factor
// (ResolveJob checked), and a ragged end rounds up as the level's shape does.
Box Reduced(const Box& prev, const Shape& factor) {
  Box b = prev;
  for (size_t a = 0; a < factor.size(); ++a) {
    b.begin[a] = prev.begin[a] / factor[a];
    b.shape[a] = (prev.begin[a] + prev.shape[a] + factor[a] - 1) / factor[a] - b.begin[a];
  }
  return b;
}

}  // namespace

std::vector<std::shared_ptr<Dataset>> PrepareBlockLevels(const ResolvedJob& job, bool owned,
                                                         MissingLevel missing) {
  std::vector<std::shared_ptr<Dataset>> out;
  for (const auto& level : job.block_levels) {
    const std::string where = job.spec.source + ": [output] pyramid: level " + level.path;
    CreateOptions o;
    o.format = job.output_format;
    o.shape = level.shape;
    o.chunks = job.output_chunks;
    o.dtype = job.output_dtype;
    o.codecs = job.output_codecs;
    auto d = PrepareJobDataset(where, level.path, o, job.jobdir, owned,
                               missing == MissingLevel::kCreate);
    if (d) {
      out.push_back(std::move(d));
    } else if (missing == MissingLevel::kRefuse) {
      throw NotFound(where + " does not exist; prepare the job again (volbatch run --prepare)");
    }
  }
  return out;
}

BlockLevels::BlockLevels(const ResolvedJob& job, std::vector<std::shared_ptr<Dataset>> datasets)
    : job_(job), datasets_(std::move(datasets)) {
  if (datasets_.size() != job.block_levels.size()) {
    throw Internal("BlockLevels: " + std::to_string(datasets_.size()) + " datasets for " +
                   std::to_string(job.block_levels.size()) + " levels");
  }
  spatial_.push_back(job.output_spatial);
  const size_t rank = job.output_spatial.size();
  for (const auto& level : job.block_levels) {
    reducers_.push_back(MakeOperator({{"type", "downsample"},
                                      {"factor", level.factor},
                                      {"method", job.spec.output.pyramid_method}},
                                     rank));
    reducers_.back()->SetThreads(1);
    spatial_.emplace_back(level.shape.end() - static_cast<std::ptrdiff_t>(rank), level.shape.end());
  }
}

std::vector<Array> BlockLevels::Reduce(const Box& region, const Array& data) const {
  std::vector<Array> levels;
  const Index c = job_.output_channels;
  Box prev = region;
  for (size_t k = 0; k < reducers_.size(); ++k) {
    const Shape& f = job_.block_levels[k].factor;
    const Box out = Reduced(prev, f);
    // The reduction reads whole groups; a ragged edge is padded (the padding is ignored: the
    // operator reduces only the voxels inside the level's volume).
    Box in{prev.begin, out.shape};
    for (size_t a = 0; a < f.size(); ++a) in.shape[a] *= f[a];
    const Array& source = k == 0 ? data : levels.back();
    Array padded;
    if (in.shape != prev.shape) {
      padded = Array(source.dtype(), FullBox(in, c).shape);
      CopyRegion(source, Shape(source.rank(), 0), padded, Shape(source.rank(), 0), source.shape());
    }
    const Array& input = in.shape != prev.shape ? padded : source;
    Array reduced = reducers_[k]->Compute(input, WindowInfo{out, in, spatial_[k]});
    levels.push_back(CastArray(std::move(reduced), job_.output_dtype));
    prev = out;
  }
  return levels;
}

void BlockLevels::Write(const Box& region, const std::vector<Array>& levels) const {
  Box box = region;
  for (size_t k = 0; k < levels.size(); ++k) {
    box = Reduced(box, job_.block_levels[k].factor);
    datasets_[k]->Write(FullBox(box, job_.output_channels), levels[k]);
  }
}

void BlockLevels::Sync() const {
  for (const auto& d : datasets_) d->Sync();
}

}  // namespace volbatch
