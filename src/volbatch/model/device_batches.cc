#include "volbatch/model/device_batches.h"

#include <ATen/Parallel.h>
#include <c10/core/StreamGuard.h>
#include <c10/core/impl/VirtualGuardImpl.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {

std::string SizesText(c10::IntArrayRef s) {
  std::string t = "[";
  for (size_t i = 0; i < s.size(); ++i) t += (i ? "," : "") + std::to_string(s[i]);
  return t + "]";
}

int64_t Product(const std::vector<int64_t>& v, size_t from) {
  int64_t n = 1;
  for (size_t i = from; i < v.size(); ++i) n *= v[i];
  return n;
}

// Window i's `per` floats between `a` (or a[i]) and `b` (or b[i]), the windows copied on the
// intra-op threads: on the one inference thread they would hold up every block's windows (a
// batch of 128^3 windows is 64 MiB each way).
template <typename F>
void ForEachWindow(size_t n, F&& f) {
  at::parallel_for(0, static_cast<int64_t>(n), 1, [&](int64_t b, int64_t e) {
    for (auto i = static_cast<size_t>(b); i < static_cast<size_t>(e); ++i) f(i);
  });
}

}  // namespace

DeviceBatches::DeviceBatches(torch::jit::Module& module, torch::Device device, torch::Dtype dtype,
                             int64_t batch, int64_t c_in, const std::vector<int64_t>& window,
                             int64_t c_out, const std::vector<int64_t>& output_window)
    : module_(module), device_(device), dtype_(dtype) {
  in_sizes_ = {batch, c_in};
  in_sizes_.insert(in_sizes_.end(), window.begin(), window.end());
  out_sizes_ = {batch, c_out};
  out_sizes_.insert(out_sizes_.end(), output_window.begin(), output_window.end());
  per_in_ = static_cast<size_t>(Product(in_sizes_, 1));
  per_out_ = static_cast<size_t>(Product(out_sizes_, 1));
  if (device_.is_cuda()) {
    c10::impl::VirtualGuardImpl impl(device_.type());
    upload_ = impl.getStreamFromGlobalPool(device_);
    compute_ = impl.getStreamFromGlobalPool(device_);
    download_ = impl.getStreamFromGlobalPool(device_);
  }
}

torch::Tensor DeviceBatches::Stage(Buffers& b, size_t n, const Fill& fill) {
  if (!b.in.defined()) {
    b.in = torch::empty(
        in_sizes_,
        torch::TensorOptions().dtype(torch::kFloat32).pinned_memory(upload_.has_value()));
  }
  float* xp = b.in.data_ptr<float>();
  ForEachWindow(n, [&](size_t i) { fill(i, xp + i * per_in_); });
  // Only a short batch's padding is zeroed: the rest is overwritten.
  std::fill(xp + n * per_in_, xp + static_cast<size_t>(in_sizes_[0]) * per_in_, 0.f);
  return b.in;
}

torch::Tensor DeviceBatches::Forward(const torch::Tensor& host_in, Flight& f) {
  if (!compute_) {
    return module_.forward({host_in.to(device_, dtype_)})
        .toTensor()
        .to(torch::kCPU, torch::kFloat32)
        .contiguous();
  }
  torch::Tensor x;
  {
    c10::StreamGuard on(*upload_);
    // Copied as float32 (from pinned memory: asynchronous), converted on the device.
    x = host_in.to(device_, torch::kFloat32, /*non_blocking=*/true);
  }
  c10::Event uploaded(device_.type());
  uploaded.record(*upload_);
  uploaded.block(*compute_);
  x.record_stream(*compute_);  // the allocator must not reuse it before the forward pass ran
  torch::Tensor y;
  {
    c10::StreamGuard on(*compute_);
    y = module_.forward({x.to(dtype_)}).toTensor().to(torch::kFloat32).contiguous();
  }
  f.computed.emplace(device_.type());
  f.computed->record(*compute_);
  return y;
}

void DeviceBatches::Launch(const std::vector<const float*>& inputs) {
  Launch(inputs.size(),
         [&](size_t i, float* to) { std::memcpy(to, inputs[i], sizeof(float) * per_in_); });
}

void DeviceBatches::Launch(size_t n, const Fill& fill) {
  if (n == 0 || n > static_cast<size_t>(in_sizes_[0])) {
    throw Internal("DeviceBatches: " + std::to_string(n) + " windows for a batch of " +
                   std::to_string(in_sizes_[0]));
  }
  Flight f;
  f.slot = next_slot_;
  f.y = Forward(Stage(buffers_[f.slot], n, fill), f);
  if (f.y.sizes() != c10::IntArrayRef(out_sizes_)) {
    throw InvalidArgument("the model returned " + SizesText(f.y.sizes()) +
                          ", unlike its dry run (" + SizesText(out_sizes_) + ")");
  }
  next_slot_ ^= 1;
  flights_.push_back(std::move(f));
}

const float* DeviceBatches::Download(Flight& f) {
  if (!download_) return f.y.data_ptr<float>();
  Buffers& b = buffers_[f.slot];
  if (!b.out.defined()) {
    b.out =
        torch::empty(out_sizes_, torch::TensorOptions().dtype(torch::kFloat32).pinned_memory(true));
  }
  f.computed->block(*download_);
  {
    c10::StreamGuard on(*download_);
    b.out.copy_(f.y, /*non_blocking=*/true);
  }
  f.y.record_stream(*download_);
  // This stream holds this download alone: the next batch's forward pass runs on meanwhile.
  c10::impl::VirtualGuardImpl(device_.type()).synchronizeStream(*download_);
  return b.out.data_ptr<float>();
}

void DeviceBatches::Land(const std::vector<float*>& outputs) {
  if (flights_.empty()) throw Internal("DeviceBatches: Land without a batch in flight");
  Flight f = std::move(flights_.front());
  flights_.pop_front();
  const float* yp = Download(f);
  ForEachWindow(outputs.size(), [&](size_t i) {
    std::memcpy(outputs[i], yp + i * per_out_, sizeof(float) * per_out_);
  });
}

}  // namespace volbatch
