#include "volbatch/engine/block_processor.h"

#include <algorithm>
#include <cstring>

#include "volbatch/core/error.h"
#include "volbatch/core/parallel.h"
#include "volbatch/tile/padding.h"

namespace volbatch {

BlockProcessor::BlockProcessor(const ResolvedJob& job, std::shared_ptr<const Dataset> input,
                               std::shared_ptr<Dataset> output,
                               std::vector<std::shared_ptr<Dataset>> levels)
    : job_(job),
      input_(std::move(input)),
      output_(std::move(output)),
      grid_(job.Grid()),
      lattice_(job.output_spatial, job.window, job.overlap, job.scale.up),
      levels_(job, std::move(levels)) {
  if (job.blend) weights_ = BlendWeights(job.blend_kind, job.window, job.overlap);
}

namespace {

Box WindowInput(const ResolvedJob& job, const Box& window) {
  return job.scale.InputBox(window).Grow(job.context);
}

// `a` with `n` leading axes of extent 1 added (n > 0) or removed (n < 0), its bytes moved.
Array Relead(Array a, int n) {
  Shape s = a.shape();
  if (n >= 0) {
    s.insert(s.begin(), static_cast<size_t>(n), 1);
  } else {
    s.erase(s.begin(), s.begin() - n);
  }
  const DataType t = a.dtype();
  return Array::FromBytes(t, std::move(s), a.release());
}

}  // namespace

BlockInput BlockProcessor::Read(Index block) const {
  BlockInput in;
  in.block = block;
  const size_t nb = job_.batch_shape.size();
  const Box cell = grid_.BlockBox(block);
  in.batch.assign(cell.begin.begin(), cell.begin.begin() + static_cast<std::ptrdiff_t>(nb));
  in.region = Box(Shape(cell.begin.begin() + static_cast<std::ptrdiff_t>(nb), cell.begin.end()),
                  Shape(cell.shape.begin() + static_cast<std::ptrdiff_t>(nb), cell.shape.end()));
  const Box hull = job_.block_windows ? in.region : lattice_.Hull(in.region);
  in.input_box = WindowInput(job_, hull);
  const Box source = PaddingSource(in.input_box, job_.input_spatial, job_.padding.mode);
  const Box full_source = WithBatch(in.batch, FullBox(source, job_.input_channels));
  in.bytes_read = full_source.num_elements() * static_cast<int64_t>(ByteSize(job_.input_dtype));
  const int lead = static_cast<int>(nb);
  // Read straight into the padded array and pad its border in place; a pad wider than the
  // volume (the source then reaches outside the box) takes the general path.
  if (source.empty() || Intersect(source, in.input_box) == source) {
    Array a = Array::Uninitialized(
        job_.input_dtype, WithBatch(in.batch, FullBox(in.input_box, job_.input_channels)).shape);
    if (!source.empty()) {
      input_->Read(
          full_source, a,
          WithBatch(Shape(nb, 0), FullBox(source.Relative(in.input_box.begin), job_.input_channels))
              .begin);
    }
    a = Relead(std::move(a), -lead);
    if (source != in.input_box &&
        !PadInPlace(a, in.input_box, source, job_.input_spatial, job_.padding)) {
      throw Internal("PadInPlace refused a source inside the box");
    }
    in.data = std::move(a);
    return in;
  }
  Array src = Array::Uninitialized(job_.input_dtype, full_source.shape);
  if (!source.empty()) input_->Read(full_source, src);
  in.data =
      Pad(Relead(std::move(src), -lead), source, in.input_box, job_.input_spatial, job_.padding);
  return in;
}

namespace {

// Adds w * y (as float) over `extent` of a window result into the accumulators.
template <typename T>
void Accumulate(const T* y, const Shape& ystrides_shape, const Shape& yorigin, float* acc,
                float* wsum, const Shape& acc_shape, const Shape& acc_origin, const Shape& extent,
                const float* w, Index channels, Index window_voxels, Index acc_voxels) {
  const size_t r = extent.size();
  const Index rows = NumElements(Shape(extent.begin(), extent.end() - 1), "extent");
  const Index len = extent[r - 1];
  Shape idx(r, 0);
  for (Index row = 0; row < rows; ++row) {
    Index yo = 0, ao = 0;
    for (size_t a = 0; a < r; ++a) {
      yo = yo * ystrides_shape[a] + (yorigin[a] + idx[a]);
      ao = ao * acc_shape[a] + (acc_origin[a] + idx[a]);
    }
    // The rows never overlap (restrict lets the compiler vectorize them).
    const float* __restrict wr = w + yo;
    float* __restrict sr = wsum + ao;
    for (Index x = 0; x < len; ++x) sr[x] += wr[x];
    for (Index c = 0; c < std::max<Index>(1, channels); ++c) {
      const T* __restrict yr = y + c * window_voxels + yo;
      float* __restrict ar = acc + c * acc_voxels + ao;
      for (Index x = 0; x < len; ++x) ar[x] += wr[x] * static_cast<float>(yr[x]);
    }
    for (size_t a = r - 1; a-- > 0;) {
      if (++idx[a] < extent[a]) break;
      idx[a] = 0;
    }
  }
}

}  // namespace

Array BlockProcessor::Compute(BlockInput in) const {
  if (job_.block_windows) {
    std::vector<Array> inputs;
    inputs.push_back(std::move(in.data));
    std::vector<Array> outs =
        job_.op->ComputeBatch(inputs, {WindowInfo{in.region, in.input_box, job_.input_spatial}});
    inputs.clear();
    const Shape want = FullBox(in.region, job_.output_channels).shape;
    if (outs.size() != 1 || outs[0].shape() != want || outs[0].dtype() != job_.compute_dtype) {
      throw Internal(job_.op->name() + " returned " +
                     (outs.size() == 1 ? ShapeToString(outs[0].shape()) + " " +
                                             std::string(DataTypeName(outs[0].dtype()))
                                       : std::to_string(outs.size()) + " results") +
                     " for block " + in.region.ToString() + "; expected " + ShapeToString(want) +
                     " " + std::string(DataTypeName(job_.compute_dtype)));
    }
    return CastArray(std::move(outs[0]), job_.output_dtype);
  }
  const std::vector<Shape> windows = lattice_.WindowsTouching(in.region);
  const Index c_out = job_.output_channels;
  const Index c_win = job_.compute_channels;
  const Index region_voxels = in.region.num_elements();
  const Index window_voxels = NumElements(job_.window, "window");

  Array result;  // without blending: the windows' results as they are
  std::vector<float> acc, wsum;
  if (job_.blend) {
    acc = spare_sums_.Take();
    wsum = spare_sums_.Take();
    acc.assign(static_cast<size_t>(region_voxels * std::max<Index>(1, c_win)), 0.f);
    wsum.assign(static_cast<size_t>(region_voxels), 0.f);
  } else {
    result = Array::Uninitialized(job_.compute_dtype, FullBox(in.region, c_out).shape);
  }
  // Windows are computed a group at a time (in parallel, or as a model's batch) and applied in
  // lattice order, which keeps the float sums identical however blocks, threads or groups are
  // arranged.
  const size_t group =
      std::max(static_cast<size_t>(std::max(1, job_.threads)) * 2, job_.op->WindowsPerCall());
  for (size_t g0 = 0; g0 < windows.size(); g0 += group) {
    const size_t g1 = std::min(windows.size(), g0 + group);
    std::vector<Array> inputs(g1 - g0);
    std::vector<WindowInfo> infos(g1 - g0);
    auto t = std::chrono::steady_clock::now();
    ParallelFor(g0, g1, [&](size_t k) {
      const Box wbox = lattice_.WindowBox(windows[k]);
      infos[k - g0] = WindowInfo{wbox, WindowInput(job_, wbox), job_.input_spatial};
      const Box local = infos[k - g0].input.Relative(in.input_box.begin);
      inputs[k - g0] = in.data.Slice(FullBox(local, job_.input_channels));
    });
    t = AddNs(gather_ns_, t);
    std::vector<Array> outs = job_.op->ComputeBatch(inputs, infos);
    t = AddNs(operator_ns_, t);
    inputs.clear();
    if (outs.size() != infos.size()) {
      throw Internal(job_.op->name() + " returned " + std::to_string(outs.size()) +
                     " results for " + std::to_string(infos.size()) + " windows");
    }
    for (size_t k = g0; k < g1; ++k) {
      const Box& wbox = infos[k - g0].output;
      const Array& y = outs[k - g0];
      const Shape want = FullBox(wbox, c_win).shape;
      if (y.shape() != want || y.dtype() != job_.compute_dtype) {
        throw Internal(job_.op->name() + " returned " + ShapeToString(y.shape()) + " " +
                       std::string(DataTypeName(y.dtype())) + " for window " + wbox.ToString() +
                       "; expected " + ShapeToString(want) + " " +
                       std::string(DataTypeName(job_.compute_dtype)));
      }
      const Box inter = Intersect(wbox, in.region);
      if (inter.empty()) continue;
      if (!job_.blend) {
        CopyRegion(y, FullBox(inter.Relative(wbox.begin), c_out).begin, result,
                   FullBox(inter.Relative(in.region.begin), c_out).begin,
                   FullBox(inter, c_out).shape);
        continue;
      }
      VisitDataType(y.dtype(), [&](auto t) {
        using T = decltype(t);
        if constexpr (std::is_arithmetic_v<T>) {
          Accumulate<T>(y.data_as<T>(), job_.window, inter.Relative(wbox.begin).begin, acc.data(),
                        wsum.data(), in.region.shape, inter.Relative(in.region.begin).begin,
                        inter.shape, weights_.data(), c_win, window_voxels, region_voxels);
        } else {
          throw Unsupported(job_.op->name() + ": float16 results cannot be blended");
        }
      });
    }
    AddNs(blend_ns_, t);
  }
  const auto finish = std::chrono::steady_clock::now();
  if (job_.blend) {
    Array blended = Array::Uninitialized(DataType::kFloat32, FullBox(in.region, c_win).shape);
    float* o = blended.data_as<float>();
    for (Index c = 0; c < std::max<Index>(1, c_win); ++c) {
      for (Index v = 0; v < region_voxels; ++v) {
        o[c * region_voxels + v] =
            acc[static_cast<size_t>(c * region_voxels + v)] / wsum[static_cast<size_t>(v)];
      }
    }
    spare_sums_.Put(std::move(acc));
    spare_sums_.Put(std::move(wsum));
    result = job_.op->Finalize(std::move(blended));
    if (result.shape() != FullBox(in.region, c_out).shape) {
      throw Internal(job_.op->name() + ": Finalize returned " + ShapeToString(result.shape()) +
                     " for region " + in.region.ToString());
    }
  }
  Array out = CastArray(std::move(result), job_.output_dtype);
  AddNs(blend_ns_, finish);
  return out;
}

void BlockProcessor::Write(const Shape& batch, const Box& region, Array data,
                           const std::vector<Array>& levels) const {
  output_->Write(WithBatch(batch, FullBox(region, job_.output_channels)),
                 Relead(std::move(data), static_cast<int>(batch.size())));
  if (!levels.empty()) levels_.Write(region, levels);
}

ComputeSplit BlockProcessor::Split() const {
  return {static_cast<double>(gather_ns_.load()) / 1e9,
          static_cast<double>(operator_ns_.load()) / 1e9,
          static_cast<double>(blend_ns_.load()) / 1e9};
}

void BlockProcessor::Sync() const {
  output_->Sync();
  levels_.Sync();
}

}  // namespace volbatch
