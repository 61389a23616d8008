// The `torch` operator: a TorchScript model run through LibTorch on windows of the volume.
// This is the only translation unit that includes LibTorch headers (they cost ~7 s and
// 0.8 GB to compile).
//
// The model is loaded once per process. Windows from every block in flight go through one
// queue and run in batches of exactly `batch` (short batches are padded with zeros, so every
// forward pass has the same shape and a window's result does not depend on which windows shared
// its batch: the output stays bit-identical however blocks are cut), so blocks batch together
// while the pipeline reads and writes others. Who runs the batches depends on the device:
//  - on a GPU, one inference thread owns the device and keeps two batches in flight
//    (device_batches.h), so uploads and downloads overlap the forward passes;
//  - on the CPU, the block threads waiting in ComputeBatch run them, each a whole batch on its
//    own staging buffers with one intra-op thread. A handoff to one inference thread made every
//    block thread wait on it, and that thread shared the cores with them: from 1 to 2 block
//    threads the window path gained only 1.30x (bench/feed). A block thread takes whatever
//    windows are queued, its own or another block's, and returns when its own have landed.
// With `tta = "flips"` a window is queued once per flip of its input (tta.h) and its prediction
// is the mean of the flipped-back outputs, taken before cropping, channel selection and softmax.
#include <ATen/Parallel.h>
#include <malloc.h>
#include <torch/cuda.h>
#include <torch/script.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <thread>

#include "volbatch/core/error.h"
#include "volbatch/core/spares.h"
#include "volbatch/model/device_batches.h"
#include "volbatch/model/model_spec.h"
#include "volbatch/model/register.h"
#include "volbatch/model/tta.h"

namespace volbatch {
namespace {

// LibTorch's messages carry a C++ backtrace and, for TorchScript, the interpreter's traceback;
// the user needs the error itself ("RuntimeError: boom"), on one line.
std::string ShortMessage(std::string m) {
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  const size_t err = m.rfind("Error: ");
  if (err != std::string::npos) {
    const size_t start = m.rfind('\n', err);
    m = m.substr(start == std::string::npos ? 0 : start + 1);
  } else if (const size_t nl = m.find('\n'); nl != std::string::npos) {
    m = m.substr(0, nl);
  }
  std::replace(m.begin(), m.end(), '\n', ' ');
  return m;
}

std::string ShortTorchMessage(const c10::Error& e) {
  return ShortMessage(e.what_without_backtrace());
}

Error Float16Unsupported() {
  return Unsupported("float16 data cannot be computed on; cast it to float32 first");
}

std::string SizesText(const std::vector<int64_t>& s) {
  std::string t = "[";
  for (size_t i = 0; i < s.size(); ++i) t += (i ? "," : "") + std::to_string(s[i]);
  return t + "]";
}

struct Request {
  const Array* input = nullptr;  // C_in x window voxels, normalized and flipped when staged
  const Flip* flip = nullptr;
  float* output = nullptr;  // C_model x output_window voxels
  bool taken = false;       // out of the queue (under the operator's mutex)
  std::promise<void> done;
};

// One LibTorch intra-op thread on the calling thread while it runs forward passes on the CPU, so
// that as many batches run at once as there are block threads. Setting it also clears the
// thread's oneDNN primitive cache, so the pipeline's own threads keep it (set once); the
// process's main thread, which may be a Python user's, gets its own setting back.
class OneIntraOpThread {
 public:
  OneIntraOpThread() {
    const int now = at::get_num_threads();
    if (now == 1) return;
    if (::gettid() == ::getpid()) restore_ = now;
    at::set_num_threads(1);
  }
  ~OneIntraOpThread() {
    if (restore_ > 0) at::set_num_threads(restore_);
  }
  OneIntraOpThread(const OneIntraOpThread&) = delete;
  OneIntraOpThread& operator=(const OneIntraOpThread&) = delete;

 private:
  int restore_ = 0;
};

class TorchOperator : public Operator {
 public:
  TorchOperator(size_t rank, ModelSpec spec)
      : Operator(rank),
        spec_(std::move(spec)),
        flips_(spec_.tta == "flips" ? Flips(spec_.tta_axes) : std::vector<Flip>{Flip{}}) {
    // oneDNN's activations are tens of MiB; glibc would map and unmap them on every forward
    // pass and fault every page in again, which measured 2-5x slower inference here
    // (models/denoise3d/README.md). Keep freed memory in the heap instead.
    ::mallopt(M_MMAP_MAX, 0);
    // The inference thread would get its own arena, whose heaps hold at most 64 MiB: one
    // layer's activations of a batch then still come from fresh mappings (3x slower, measured).
    ::mallopt(M_ARENA_MAX, 1);
    ::mallopt(M_TRIM_THRESHOLD, 1 << 30);
    try {
      module_ = torch::jit::load(spec_.model);
    } catch (const c10::Error& e) {
      throw InvalidArgument("[operator] model: " + spec_.model + ": not a TorchScript file (" +
                            ShortTorchMessage(e) + ")");
    } catch (const std::exception& e) {
      throw InvalidArgument("[operator] model: " + spec_.model + ": cannot load (" +
                            ShortMessage(e.what()) + ")");
    }
    module_.eval();
    std::string device = spec_.device;
    if (device == "auto") device = torch::cuda::is_available() ? "cuda" : "cpu";
    if (device.rfind("cuda", 0) == 0 && !torch::cuda::is_available()) {
      throw InvalidArgument("[operator] device: \"" + spec_.device +
                            "\" asked for, but this LibTorch build or machine has no CUDA "
                            "device (use device = \"cpu\" or \"auto\")");
    }
    try {
      device_ = torch::Device(device);
    } catch (const c10::Error& e) {
      throw InvalidArgument("[operator] device: \"" + spec_.device + "\": " + ShortTorchMessage(e));
    }
    dtype_ = spec_.precision == "float16"    ? torch::kFloat16
             : spec_.precision == "bfloat16" ? torch::kBFloat16
                                             : torch::kFloat32;
    module_.to(device_, dtype_);
  }

  ~TorchOperator() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (worker_.joinable()) worker_.join();
  }

  std::string name() const override { return "torch"; }
  nlohmann::json Parameters() const override { return spec_.ToJson(); }
  Shape Context() const override { return spec_.context; }
  Scale GetScale() const override { return spec_.scale; }
  Shape DefaultWindow() const override { return spec_.effective; }
  bool Exact() const override { return false; }
  // Two batches of forward passes; with tta each window is flips_.size() of them.
  size_t WindowsPerCall() const override {
    const size_t passes = static_cast<size_t>(spec_.batch) * 2;
    return std::max<size_t>(1, (passes + flips_.size() - 1) / flips_.size());
  }
  void SetThreads(int threads) override { threads_ = std::max(1, threads); }

  Index ComputeChannels(Index input_channels) const override {
    const Index c = SelectedChannels(input_channels);
    return (c == 1 && spec_.output != "argmax") ? 0 : c;
  }
  Index OutputChannels(Index input_channels) const override {
    if (spec_.output == "argmax") {
      SelectedChannels(input_channels);
      return 0;
    }
    return ComputeChannels(input_channels);
  }
  DataType ComputeDType(DataType) const override { return DataType::kFloat32; }
  void CheckOutputDType(DataType input, DataType output) const override {
    Operator::CheckOutputDType(input, output);
    if (spec_.output == "argmax" && (IsFloat(output) || output == DataType::kBool)) {
      throw InvalidArgument("output = \"argmax\" writes labels: use an integer type such as uint8");
    }
    if (spec_.output != "argmax" && output == DataType::kBool) {
      throw InvalidArgument("a model's output cannot be stored as bool");
    }
  }

  nlohmann::json StatisticsRequest() const override {
    if (spec_.normalize != "percentiles") return nullptr;
    return {{"percentiles", spec_.normalize_values}};
  }
  void SetStatistics(const nlohmann::json& s) override {
    if (spec_.normalize == "percentiles") range_ = s.at("values").get<std::vector<double>>();
  }

  Array Compute(const Array& input, const WindowInfo& info) const override {
    return std::move(ComputeBatch({input}, {info})[0]);
  }

  // Each window is queued once per flip (the flipped input), so the flips of a window fill
  // batches like other windows do; the flipped-back predictions are averaged before Crop.
  std::vector<Array> ComputeBatch(const std::vector<Array>& inputs,
                                  const std::vector<WindowInfo>& infos) const override {
    if (!OnCpu()) EnsureWorker();
    const Index c_in = std::max<Index>(1, input_channels_);
    const Index in_vox = NumElements(spec_.window, "window");
    const Index out_vox = NumElements(spec_.output_window, "output window");
    const size_t nf = flips_.size();
    std::vector<Bytes> ys(inputs.size() * nf);  // float32 outputs (see Crop)
    std::vector<Request> requests(ys.size());
    std::vector<std::future<void>> futures;
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (inputs[i].num_elements() != c_in * in_vox) {
        throw Internal("torch: window input " + ShapeToString(inputs[i].shape()) +
                       " does not match the model window " + ShapeToString(spec_.window));
      }
      // Checked here too, so a float16 window fails before it shares a batch with others.
      if (inputs[i].dtype() == DataType::kFloat16) throw Float16Unsupported();
      for (size_t f = 0; f < nf; ++f) {
        const size_t k = i * nf + f;
        ys[k].resize(sizeof(float) * static_cast<size_t>(model_channels_ * out_vox));
        requests[k].input = &inputs[i];
        requests[k].flip = &flips_[f];
        requests[k].output = Floats(ys[k]);
        futures.push_back(requests[k].done.get_future());
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& r : requests) queue_.push_back(&r);
    }
    if (OnCpu()) {
      cv_.notify_all();  // a block thread may be waiting to fill a short batch
      RunQueued(requests);
    } else {
      cv_.notify_one();
    }
    for (auto& f : futures) f.wait();
    for (auto& f : futures) f.get();  // rethrows a failed forward pass
    std::vector<Array> out;
    for (size_t i = 0; i < inputs.size(); ++i) out.push_back(Crop(Unflipped(ys, i), infos[i]));
    return out;
  }

  Array Finalize(Array blended) const override {
    if (spec_.output == "argmax") {
      const Index c = blended.shape()[0];
      Shape spatial(blended.shape().begin() + 1, blended.shape().end());
      Array labels(DataType::kUint32, spatial);
      const size_t n = static_cast<size_t>(labels.num_elements());
      const float* p = blended.data_as<float>();
      uint32_t* o = labels.data_as<uint32_t>();
      for (size_t v = 0; v < n; ++v) {
        float best = p[v];
        uint32_t arg = 0;
        for (Index k = 1; k < c; ++k) {
          if (p[static_cast<size_t>(k) * n + v] > best) {
            best = p[static_cast<size_t>(k) * n + v];
            arg = static_cast<uint32_t>(k);
          }
        }
        o[v] = arg;
      }
      return labels;
    }
    std::optional<std::vector<double>> r = spec_.output_range;
    if (spec_.denormalize) r = range_;
    if (r) {
      const float lo = static_cast<float>((*r)[0]), span = static_cast<float>((*r)[1] - (*r)[0]);
      float* p = blended.data_as<float>();
      for (Index i = 0; i < blended.num_elements(); ++i) p[i] = lo + p[i] * span;
    }
    return blended;
  }

 private:
  // On the CPU the block threads run the forward passes; there is no inference thread.
  bool OnCpu() const { return device_.is_cpu(); }

  // Runs the model once on zeros and checks its output against the job's geometry; returns
  // the number of output channels the job keeps.
  Index SelectedChannels(Index input_channels) const {
    std::call_once(dry_run_once_, [&] { DryRun(input_channels); });
    return spec_.channels.empty() ? model_channels_ : static_cast<Index>(spec_.channels.size());
  }

  // On a GPU the dry run is the inference thread's first job: it leaves that thread warm (its
  // intra-op threads, allocator, the device's kernels for the batch shape), so the first real
  // batch is not another cold start. On the CPU it runs on the calling thread.
  void DryRun(Index input_channels) const {
    if (OnCpu()) {
      DryRunHere(input_channels);  // its result does not depend on the threads
      return;
    }
    std::promise<void> done;
    std::future<void> result = done.get_future();
    const bool started = EnsureWorker([&] {
      try {
        DryRunHere(input_channels);
        done.set_value();
      } catch (...) {
        done.set_exception(std::current_exception());
      }
    });
    if (started) {
      result.get();
    } else {
      DryRunHere(input_channels);  // the worker was already running
    }
  }

  void DryRunHere(Index input_channels) const {
    input_channels_ = input_channels;
    if (spec_.normalize == "range") range_ = spec_.normalize_values;
    std::vector<int64_t> in_sizes = {spec_.batch, std::max<Index>(1, input_channels)};
    for (Index w : spec_.window) in_sizes.push_back(w);
    torch::Tensor y;
    try {
      c10::InferenceMode guard;
      auto x = torch::zeros(in_sizes, torch::TensorOptions().dtype(dtype_).device(device_));
      y = module_.forward({x}).toTensor();
    } catch (const c10::Error& e) {
      throw InvalidArgument("[operator] model: " + spec_.model + ": a dry forward pass on " +
                            SizesText(in_sizes) + " zeros (" + spec_.precision + " on " +
                            device_.str() + ") failed: " + ShortTorchMessage(e));
    } catch (const std::exception& e) {
      throw InvalidArgument("[operator] model: " + spec_.model + ": a dry forward pass on " +
                            SizesText(in_sizes) + " zeros (" + spec_.precision + " on " +
                            device_.str() + ") failed: " + ShortMessage(e.what()) +
                            (spec_.precision == "float32"
                                 ? std::string()
                                 : " (try precision = \"float32\" on this device)"));
    }
    const std::vector<int64_t> got = y.sizes().vec();
    std::vector<int64_t> want = {spec_.batch, got.size() > 1 ? got[1] : -1};
    for (Index w : spec_.output_window) want.push_back(w);
    if (got.size() != want.size() || got[0] != want[0] ||
        !std::equal(got.begin() + 2, got.end(), want.begin() + 2)) {
      throw InvalidArgument("[operator] model: " + spec_.model + " returned " + SizesText(got) +
                            " for input " + SizesText(in_sizes) + ", the job expects " +
                            SizesText(want) + Suggestion(got));
    }
    model_channels_ = got[1];
    if (OnCpu()) {
      spare_batches_.Put(NewBatches());
    } else {
      batches_ = NewBatches();
    }
    for (Index c : spec_.channels) {
      if (c >= model_channels_) {
        throw InvalidArgument("[operator] channels: channel " + std::to_string(c) +
                              " does not exist; the model returns " +
                              std::to_string(model_channels_) + " channels");
      }
    }
  }

  // What the user probably meant, from the shape the model returned.
  std::string Suggestion(const std::vector<int64_t>& got) const {
    const size_t r = spec_.window.size();
    if (got.size() != r + 2) return "";
    std::string scale, window;
    bool scale_ok = true, valid_ok = true;
    for (size_t i = 0; i < r; ++i) {
      const int64_t g = got[i + 2], w = spec_.window[i];
      if (g >= w && g % w == 0) {
        scale += (i ? ", " : "") + std::to_string(g / w);
      } else if (g < w && g > 0 && w % g == 0) {
        scale += (i ? ", " : "") + std::string("1/") + std::to_string(w / g);
      } else {
        scale_ok = false;
      }
      if (g > w || (w - g) % 2 != 0) valid_ok = false;
      window += (i ? ", " : "") + std::to_string(g);
    }
    if (scale_ok) {
      bool identity = true;
      for (size_t i = 0; i < r; ++i) identity = identity && got[i + 2] == spec_.window[i];
      if (identity && !spec_.scale.IsIdentity()) {
        // A "same" model under a job that expects it to rescale: the scale is what is wrong.
        return ": the model returns its input's shape, it does not rescale by " +
               spec_.scale.ToString() + "; a model that does is needed, or no scale?";
      }
      if (!identity) {
        return ": set scale = [" + scale + "]" +
               (valid_ok ? " or output_window = [" + window + "]" : "") + "?";
      }
    }
    if (valid_ok) return ": set output_window = [" + window + "]?";
    return "";
  }

  // x' = (x - lo) / (hi - lo) in double, rounded to float once, to x[0, n); 8-bit input through
  // a table of its 256 values (the same floats, a fraction of the work).
  void NormalizeInto(const Array& a, float* x) const {
    const size_t n = static_cast<size_t>(a.num_elements());
    double lo = 0, scale = 1;
    if (range_.size() == 2) {
      lo = range_[0];
      scale = range_[1] > range_[0] ? 1.0 / (range_[1] - range_[0]) : 1.0;
    }
    VisitDataType(a.dtype(), [&](auto t) {
      using T = decltype(t);
      if constexpr (std::is_same_v<T, uint8_t> || std::is_same_v<T, int8_t>) {
        std::array<float, 256> table;
        for (int v = 0; v < 256; ++v) {
          table[static_cast<uint8_t>(static_cast<T>(v))] =
              static_cast<float>((static_cast<double>(static_cast<T>(v)) - lo) * scale);
        }
        const uint8_t* p = reinterpret_cast<const uint8_t*>(a.data());
        for (size_t i = 0; i < n; ++i) x[i] = table[p[i]];
      } else if constexpr (std::is_arithmetic_v<T>) {
        const T* p = a.data_as<T>();
        for (size_t i = 0; i < n; ++i) {
          x[i] = static_cast<float>((static_cast<double>(p[i]) - lo) * scale);
        }
      } else {
        throw Float16Unsupported();
      }
    });
  }

  // Stages window i of `batch` straight into the batch: normalized, then flipped.
  DeviceBatches::Fill StageInto(const std::vector<Request*>& batch) const {
    return [this, &batch](size_t i, float* to) {
      NormalizeInto(*batch[i]->input, to);
      FlipInPlace(to, std::max<Index>(1, input_channels_), spec_.window, *batch[i]->flip);
    };
  }

  static float* Floats(Bytes& b) { return reinterpret_cast<float*>(b.data()); }

  // Window i's prediction from its flips' outputs ys[i * nf + f]: each flipped back, then
  // their mean (the output as it is without tta).
  Bytes Unflipped(std::vector<Bytes>& ys, size_t i) const {
    const size_t nf = flips_.size();
    if (nf == 1) return std::move(ys[i]);
    std::vector<std::span<const float>> parts;
    for (size_t f = 0; f < nf; ++f) {
      Bytes& y = ys[i * nf + f];
      FlipInPlace(Floats(y), model_channels_, spec_.output_window, flips_[f]);
      parts.emplace_back(Floats(y), y.size() / sizeof(float));
    }
    const std::vector<float> mean = MeanOf(parts);
    Bytes out(mean.size() * sizeof(float));
    std::memcpy(out.data(), mean.data(), out.size());
    return out;
  }

  // Softmax over the channels of every voxel, in place.
  void Softmax(float* y, Index out_vox) const {
    for (Index v = 0; v < out_vox; ++v) {
      float m = -INFINITY;
      for (Index c = 0; c < model_channels_; ++c) m = std::max(m, y[c * out_vox + v]);
      float sum = 0;
      for (Index c = 0; c < model_channels_; ++c) {
        sum += y[c * out_vox + v] = std::exp(y[c * out_vox + v] - m);
      }
      for (Index c = 0; c < model_channels_; ++c) y[c * out_vox + v] /= sum;
    }
  }

  // The model's output of one window (float32 in `y`), cropped, channel-selected and
  // (softmax) normalised. Uncropped with every channel, `y` becomes the result as it is: the
  // window's output is not copied again on its way to the blend.
  Array Crop(Bytes y, const WindowInfo& info) const {
    const size_t r = spec_.output_window.size();
    const Index out_vox = NumElements(spec_.output_window, "output window");
    const Index c_keep =
        spec_.channels.empty() ? model_channels_ : static_cast<Index>(spec_.channels.size());
    float* src = Floats(y);
    if (spec_.output == "softmax") Softmax(src, out_vox);
    const Index c_out = ComputeChannels(input_channels_);
    Shape out_shape;
    if (c_out) out_shape.push_back(c_out);
    out_shape.insert(out_shape.end(), info.output.shape.begin(), info.output.shape.end());
    if (spec_.channels.empty() && info.output.shape == spec_.output_window) {
      return Array::FromBytes(DataType::kFloat32, std::move(out_shape), std::move(y));
    }
    Array out = Array::Uninitialized(DataType::kFloat32, out_shape);
    // Copy the cropped centre of each kept channel.
    Shape src_shape = spec_.output_window;
    Shape origin = spec_.crop;
    for (Index k = 0; k < c_keep; ++k) {
      const Index c = spec_.channels.empty() ? k : spec_.channels[static_cast<size_t>(k)];
      CopyRegion(reinterpret_cast<const std::byte*>(src + c * out_vox), src_shape, origin,
                 out.data() + static_cast<size_t>(k) *
                                  static_cast<size_t>(NumElements(info.output.shape, "w")) *
                                  sizeof(float),
                 info.output.shape, Shape(r, 0), info.output.shape, sizeof(float));
    }
    return out;
  }

  // Starts the inference thread once, running `first` on it before the loop; returns whether
  // this call started it.
  bool EnsureWorker(std::function<void()> first = {}) const {
    bool started = false;
    std::call_once(worker_once_, [&] {
      started = true;
      worker_ = std::thread([this, first] {
        at::set_num_threads(threads_);
        if (first) first();
        Loop();
      });
    });
    return started;
  }

  // Two batches in flight (device_batches.h): the next batch is launched before the one in
  // flight lands, so on a GPU its upload and forward pass overlap the other's download.
  void Loop() const {
    std::vector<Request*> flying;  // launched, not landed
    while (true) {
      std::vector<Request*> next = Take(/*wait=*/flying.empty());
      if (next.empty() && flying.empty()) return;  // stopped, and nothing left
      bool launched = !next.empty() && TryLaunch(*batches_, next);
      if (!flying.empty() && !LandOrFail(*batches_, flying) && launched) {
        // A device error poisons what is in flight with it (see device_batches.h).
        Fail(next, InvalidArgument("the device failed with the batch before this one"));
        next.clear();
        launched = false;
      }
      if (!next.empty() && !launched) OneByOne(*batches_, next);
      flying = launched ? std::move(next) : std::vector<Request*>();
    }
  }

  // The next batch's windows; empty when stopped with an empty queue, or (not `wait`ing, a
  // batch in flight) when there are fewer than a batch: the one in flight lands first.
  std::vector<Request*> Take(bool wait) const {
    std::vector<Request*> batch;
    std::unique_lock<std::mutex> lock(mu_);
    if (!wait && static_cast<Index>(queue_.size()) < spec_.batch) return batch;
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (stop_ && queue_.empty()) return batch;
    // Give other blocks a moment to add windows to a short batch.
    if (static_cast<Index>(queue_.size()) < spec_.batch) {
      cv_.wait_for(lock, std::chrono::milliseconds(2),
                   [&] { return stop_ || static_cast<Index>(queue_.size()) >= spec_.batch; });
    }
    return TakeLocked();
  }

  // Up to a batch of the oldest queued windows, under mu_.
  std::vector<Request*> TakeLocked() const {
    std::vector<Request*> batch;
    while (!queue_.empty() && static_cast<Index>(batch.size()) < spec_.batch) {
      batch.push_back(queue_.front());
      batch.back()->taken = true;
      queue_.pop_front();
    }
    return batch;
  }

  // CPU: runs queued batches on this (block) thread until none of `mine` is left in the queue;
  // those another thread took land there. A short batch first waits a moment for other blocks'
  // windows, as the inference thread's does.
  void RunQueued(const std::vector<Request>& mine) const {
    OneIntraOpThread one_thread;
    auto any_mine_queued = [&] {
      return std::any_of(mine.begin(), mine.end(), [](const Request& r) { return !r.taken; });
    };
    while (true) {
      std::vector<Request*> batch;
      {
        std::unique_lock<std::mutex> lock(mu_);
        if (!any_mine_queued()) return;
        if (static_cast<Index>(queue_.size()) < spec_.batch) {
          cv_.wait_for(lock, std::chrono::milliseconds(2), [&] {
            return static_cast<Index>(queue_.size()) >= spec_.batch || !any_mine_queued();
          });
          if (!any_mine_queued()) return;
        }
        batch = TakeLocked();
      }
      cv_.notify_all();  // another block thread may be waiting for its windows to be taken
      RunTaken(batch);
    }
  }

  // Runs windows taken from the queue; every one of them completes, failed or not (their
  // callers wait for them).
  void RunTaken(const std::vector<Request*>& batch) const {
    std::optional<BatchesLease> lease;
    try {
      lease.emplace(*this);
    } catch (const std::exception& e) {  // the staging buffers could not be allocated
      Fail(batch, Internal(std::string("torch: a batch's staging buffers: ") + e.what()));
      return;
    }
    if (TryLaunch(lease->batches(), batch)) {
      LandOrFail(lease->batches(), batch);
    } else {
      OneByOne(lease->batches(), batch);
    }
  }

  std::unique_ptr<DeviceBatches> NewBatches() const {
    return std::make_unique<DeviceBatches>(module_, device_, dtype_, spec_.batch,
                                           std::max<Index>(1, input_channels_), spec_.window,
                                           model_channels_, spec_.output_window);
  }

  // A CPU runner's staging buffers, kept for the next runner (as many as ran at once).
  class BatchesLease {
   public:
    explicit BatchesLease(const TorchOperator& op) : op_(op) {
      batches_ = op_.spare_batches_.Take();
      if (!batches_) batches_ = op_.NewBatches();
    }
    ~BatchesLease() { op_.spare_batches_.Put(std::move(batches_)); }
    BatchesLease(const BatchesLease&) = delete;
    BatchesLease& operator=(const BatchesLease&) = delete;
    DeviceBatches& batches() { return *batches_; }

   private:
    const TorchOperator& op_;
    std::unique_ptr<DeviceBatches> batches_;
  };

  bool TryLaunch(DeviceBatches& batches, const std::vector<Request*>& batch) const {
    try {
      c10::InferenceMode guard;
      batches.Launch(batch.size(), StageInto(batch));
      return true;
    } catch (const std::exception&) {
      return false;  // each window again alone, for its own error
    }
  }

  // Lands the oldest batch in flight and completes its windows; false (and its windows
  // failed) when the device failed.
  bool LandOrFail(DeviceBatches& batches, const std::vector<Request*>& batch) const {
    std::vector<float*> outputs;
    for (Request* r : batch) outputs.push_back(r->output);
    try {
      c10::InferenceMode guard;
      batches.Land(outputs);
    } catch (const c10::Error& e) {
      Fail(batch, InvalidArgument("the model failed: " + ShortTorchMessage(e)));
      return false;
    } catch (const std::exception& e) {
      Fail(batch, InvalidArgument("the model failed: " + ShortMessage(e.what())));
      return false;
    }
    for (Request* r : batch) r->done.set_value();
    return true;
  }

  // One bad window must not fail the windows of other blocks that shared its batch: each runs
  // alone (still padded to the batch shape), and only those that fail fail.
  void OneByOne(DeviceBatches& batches, const std::vector<Request*>& batch) const {
    for (Request* r : batch) {
      try {
        c10::InferenceMode guard;
        const std::vector<Request*> one = {r};
        batches.Launch(1, StageInto(one));
        batches.Land({r->output});
        r->done.set_value();
      } catch (const c10::Error& e) {
        Fail({r}, InvalidArgument("the model failed: " + ShortTorchMessage(e)));
      } catch (const Error& e) {
        Fail({r}, e);
      } catch (const std::exception& e) {
        Fail({r}, InvalidArgument("the model failed: " + ShortMessage(e.what())));
      }
    }
  }

  static void Fail(const std::vector<Request*>& batch, const Error& e) {
    for (Request* r : batch) r->done.set_exception(std::make_exception_ptr(e));
  }

  ModelSpec spec_;
  std::vector<Flip> flips_;  // {{}} without tta
  mutable torch::jit::Module module_;
  torch::Device device_ = torch::kCPU;
  torch::Dtype dtype_ = torch::kFloat32;
  int threads_ = 1;
  mutable std::once_flag dry_run_once_, worker_once_;
  mutable Index input_channels_ = 0, model_channels_ = 0;
  mutable std::vector<double> range_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  mutable std::deque<Request*> queue_;
  mutable bool stop_ = false;
  mutable std::thread worker_;
  // After the dry run: the inference thread's (GPU), or the CPU runners' spares.
  mutable std::unique_ptr<DeviceBatches> batches_;
  mutable Spares<std::unique_ptr<DeviceBatches>> spare_batches_;
};

}  // namespace

void RegisterModelOperators() {
  static std::once_flag once;
  std::call_once(once, [] {
    RegisterOperator("torch", [](OperatorParams& p) -> std::unique_ptr<Operator> {
      return std::make_unique<TorchOperator>(p.spatial_rank(), ParseModelSpec(p));
    });
  });
}

}  // namespace volbatch

extern "C" __attribute__((visibility("default"))) void volbatch_register_operators() {
  volbatch::RegisterModelOperators();
}
