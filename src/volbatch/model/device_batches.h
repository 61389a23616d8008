// Batches of windows on their way through a TorchScript model on a device, two in flight.
//
// On a GPU the model is fast and the host is the bottleneck: while the device runs batch k's
// forward pass, batch k+1 must already be staged and on its way, and batch k-1's output on its
// way back. So a batch is Launched (its windows copied into a host staging buffer, uploaded,
// the forward pass queued) before the previous one is Landed (its output downloaded and copied
// out to the windows). On CUDA:
//  - the two staging buffers each way are pinned host memory, allocated once and reused
//    alternately (a buffer is reused two launches later, after its batch landed), so the copies
//    are true asynchronous DMA;
//  - uploads and downloads run on their own streams, the forward passes on a third, ordered by
//    events: upload(k+1) and download(k-1) overlap forward(k);
//  - a download is waited for by synchronizing its own stream only, so the next batch's forward
//    pass keeps the device busy meanwhile.
// On the CPU (what runs here) the same calls are synchronous: Launch runs the forward pass,
// Land copies the output out. The stream code uses only c10's device-generic Stream, Event and
// guard interfaces, which LibTorch implements for CUDA when its CUDA libraries are present
// (Debian's LibTorch is CPU-only: it compiles and links here, and has not run on a GPU).
//
// Errors: a forward pass that fails, or returns another shape than its dry run, throws from
// Launch (nothing is left in flight for it); on CUDA an asynchronous device error surfaces
// from Land, and the device is then unusable, as LibTorch's CUDA errors are.
#pragma once

#include <c10/core/Event.h>
#include <c10/core/Stream.h>
#include <torch/script.h>

#include <array>
#include <deque>
#include <functional>
#include <optional>
#include <vector>

namespace volbatch {

class DeviceBatches {
 public:
  // `module` runs on `device` in `dtype`; a batch is `batch` windows of `c_in` x `window`
  // float32 voxels in, `c_out` x `output_window` out.
  DeviceBatches(torch::jit::Module& module, torch::Device device, torch::Dtype dtype, int64_t batch,
                int64_t c_in, const std::vector<int64_t>& window, int64_t c_out,
                const std::vector<int64_t>& output_window);

  // Writes window i's c_in x window float32 voxels to `to`, in the staging buffer.
  using Fill = std::function<void(size_t i, float* to)>;

  // Stages `n` windows (at most `batch`; the rest is zeros), each written by `fill` where the
  // batch holds it (no copy of a window on its way in), uploads them and starts the forward
  // pass.
  void Launch(size_t n, const Fill& fill);
  // The same with window i copied from inputs[i].
  void Launch(const std::vector<const float*>& inputs);

  // Waits for the oldest launched batch and copies each window's output to `outputs` (as many
  // as its Launch had inputs).
  void Land(const std::vector<float*>& outputs);

  size_t InFlight() const { return flights_.size(); }

 private:
  struct Buffers {
    torch::Tensor in, out;  // host staging, pinned on CUDA
  };
  struct Flight {
    torch::Tensor y;  // the model's output, float32, on the device
    size_t slot = 0;
    std::optional<c10::Event> computed;  // CUDA: recorded after its forward pass
  };

  torch::Tensor Stage(Buffers& b, size_t n, const Fill& fill);
  torch::Tensor Forward(const torch::Tensor& host_in, Flight& f);
  const float* Download(Flight& f);

  torch::jit::Module& module_;
  torch::Device device_;
  torch::Dtype dtype_;
  std::vector<int64_t> in_sizes_, out_sizes_;
  size_t per_in_ = 0, per_out_ = 0;
  std::array<Buffers, 2> buffers_;
  size_t next_slot_ = 0;
  std::deque<Flight> flights_;
  // CUDA: the upload, forward and download streams.
  std::optional<c10::Stream> upload_, compute_, download_;
};

}  // namespace volbatch
