// WindowLoader: random training windows read from one or many aligned N5/Zarr datasets (raw +
// labels, a low-res input + a high-res target), with a foreground rule, class balancing,
// augmentation, and a prefetch queue filled by its own threads so that a training loop finds
// its next window decoded.
//
// Determinism: window i (a global index, see WindowSampler's streams) is a pure function of
// (options, seed, i) — its class, positions tried, augmentation — and windows are delivered
// in index order whatever thread computed them, so a run does not depend on timing, on the
// number of threads, or on how the indices are split over DataLoader workers.
//
// Rejection (foreground, min_foreground): attempt a of window i draws a position (uniform, or
// a voxel of the window's class, see below) from (seed, i, a); the window is the first attempt
// whose foreground fraction — voxels != background in a label source, > 0 in a mask source,
// over the foreground source's whole window — is >= min_foreground. Every delivered window
// meets the rule; accepted positions are uniform over the positions that meet it. After
// max_tries rejected attempts Next() throws FailedPrecondition naming the window and the best
// fraction seen (nothing is silently accepted).
//
// Balancing (balance, classes, class_weights): window i first draws its class c with
// probability weight_c / sum(weights), then a voxel of class c uniformly among all voxels of c
// in the region windows can reach (a ClassIndex: exact, no rejection), and takes the valid
// window containing that voxel closest to centring it (the voxel sits at window / 2 in the
// reference grid unless the volume's edge or the scales' alignment shifts it). So every window
// contains its class, and class frequencies over windows follow the weights exactly in
// expectation. With a foreground rule as well, attempts redraw the voxel of the same class.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "volbatch/core/array.h"
#include "volbatch/tile/window_sampler.h"
#include "volbatch/train/chunk_cache.h"
#include "volbatch/train/class_index.h"
#include "volbatch/train/window_transform.h"

namespace volbatch {

enum class SourceKind { kImage, kLabel, kMask };
SourceKind ParseSourceKind(const std::string& s, const std::string& what);
std::string_view SourceKindName(SourceKind k);

struct SourceSpec {
  std::string name = {};  // the key of its array in a window; unique
  std::string path = {};  // a dataset (N5, Zarr v2, Zarr v3)
  SourceKind kind = SourceKind::kImage;
  // Source coordinate = reference coordinate * up / down; empty: the reference grid itself.
  std::optional<Scale> scale = {};
  // Images: map [lo, hi] to [0, 1] (before intensity jitter).
  std::optional<std::pair<double, double>> normalize = {};
  // The delivered dtype. Default: float32 for images that are normalized or jittered, else the
  // stored dtype. Labels and masks are cast with a range check.
  std::optional<DataType> dtype = {};
};

// A quarter of the memory this process may still use (AvailableMemoryBytes: MemAvailable
// under the cgroup's limit), shared by `processes` loaders (a DataLoader's workers), and at
// least 64 MiB. A training process's model and batches need the rest.
size_t DefaultCacheBytes(int processes = 1);

struct WindowLoaderOptions {
  std::vector<SourceSpec> sources = {};
  Shape window = {};  // in the reference grid (spatial axes; channel axes are read whole)
  uint64_t seed = 0;
  std::vector<bool> flip = {};  // per spatial axis; empty: no flips
  bool rotate = false;          // 90-degree rotations in the last two axes
  double gain_jitter = 0;       // images: gain in [1 - g, 1 + g]
  double offset_jitter = 0;     // images: offset in [-o, o] (in the delivered units)

  std::string foreground = {};  // a label or mask source; empty: no rule
  double min_foreground = 0;
  int64_t background = 0;  // of a label foreground source
  int max_tries = 100;

  std::string balance = {};  // a label source; empty: no class balancing
  std::vector<int64_t> classes = {};
  std::vector<double> class_weights = {};  // empty: uniform

  int threads = 2;                         // prefetch threads (0: compute in Next)
  int prefetch = 8;                        // windows computed ahead, at most
  // Decoded chunks kept, split between the sources; empty: DefaultCacheBytes(1). The cache
  // never takes more than the sources' data, whatever this says.
  std::optional<size_t> cache_bytes = {};
};

struct Window {
  Index index = 0;         // global window index
  Shape position;          // start in the reference grid
  std::vector<Box> boxes;  // per source, in its own coordinates (channel axes included)
  Augmentation augmentation;
  std::optional<int64_t> label_class;  // the class drawn when balancing
  Index attempts = 1;                  // positions tried (rejection rule)
  std::optional<double> foreground;    // fraction in the accepted window, with a rule
  std::vector<Array> arrays;           // per source, augmented and converted
};

class WindowLoader {
 public:
  // Opens the sources and checks every option (InvalidArgument naming the field). Builds the
  // class index when balancing unless one is given (it must match: ClassIndex::CheckMatches).
  explicit WindowLoader(WindowLoaderOptions options,
                        std::shared_ptr<const ClassIndex> class_index = nullptr);
  ~WindowLoader();
  WindowLoader(const WindowLoader&) = delete;
  WindowLoader& operator=(const WindowLoader&) = delete;

  const WindowLoaderOptions& options() const { return options_; }
  const WindowSampler& sampler() const { return sampler_; }
  size_t num_sources() const { return options_.sources.size(); }
  const SourceSpec& source(size_t s) const { return options_.sources[s]; }
  const Dataset& dataset(size_t s) const { return readers_[s]->dataset(); }
  // What Next() delivers for source s.
  DataType output_dtype(size_t s) const { return out_dtype_[s]; }
  Shape output_shape(size_t s) const;
  std::shared_ptr<const ClassIndex> class_index() const { return class_index_; }
  ChunkCache::Stats cache_stats() const { return cache_->stats(); }

  // Restarts at local window 0 of the stream (see WindowSampler::SetStream).
  void SetStream(Index worker, Index num_workers, Index start = 0, Index block = 1);
  // The stream's next window, in order. Rethrows a window's error (then moves past it).
  // Throws FailedPrecondition in a forked child of the process whose Next() started the
  // threads, unless SetStream was called there first (two processes would otherwise draw the
  // same windows: give each DataLoader worker its own stream, as volbatch.torch does).
  Window Next();
  // Local index of the window Next() returns next.
  Index next_local() const;
  // Window `global` computed in the calling thread (no prefetch; same result as Next()'s).
  Window Compute(Index global) const;

 private:
  struct Result {
    std::optional<Window> window;
    std::exception_ptr error;
  };
  void StopThreads();
  void Produce();
  double ForegroundFraction(const Array& a) const;

  WindowLoaderOptions options_;
  std::shared_ptr<ChunkCache> cache_;
  std::vector<std::unique_ptr<SourceReader>> readers_;
  std::vector<DataType> out_dtype_;
  std::vector<size_t> lead_;  // channel axes per source
  WindowSampler sampler_;
  std::optional<size_t> foreground_, balance_;
  std::shared_ptr<const ClassIndex> class_index_;
  std::vector<double> class_cumulative_;

  // The prefetch queue. A forked child of the process that started the threads holds a copy
  // whose threads do not exist and whose locks and condition variables may look held or
  // waited on forever; it abandons that copy (leaks it) rather than join or destroy it.
  struct Prefetch {
    std::mutex mu;
    std::condition_variable produced, consumed;
    std::vector<std::thread> threads;
    int pid = 0;  // the process that started them
    bool stop = false;
    Index next_claim = 0, next_deliver = 0;
    std::map<Index, Result> ready;
  };
  // True (after abandoning the copy) in a forked child of the threads' process.
  bool AbandonForkedThreads();
  std::unique_ptr<Prefetch> pf_ = std::make_unique<Prefetch>();
};

}  // namespace volbatch
