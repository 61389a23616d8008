#include "volbatch/train/window_loader.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <type_traits>
#include <utility>

#include "volbatch/core/error.h"
#include "volbatch/core/memory_info.h"

namespace volbatch {

SourceKind ParseSourceKind(const std::string& s, const std::string& what) {
  if (s == "image") return SourceKind::kImage;
  if (s == "label" || s == "labels") return SourceKind::kLabel;
  if (s == "mask") return SourceKind::kMask;
  throw InvalidArgument(what + ": kind \"" + s + "\" is not image, label or mask");
}

std::string_view SourceKindName(SourceKind k) {
  switch (k) {
    case SourceKind::kImage:
      return "image";
    case SourceKind::kLabel:
      return "label";
    case SourceKind::kMask:
      return "mask";
  }
  return "image";
}

namespace {

std::string Field(size_t s, const SourceSpec& spec) {
  return "sources[" + std::to_string(s) + "] ('" + spec.name + "')";
}

std::vector<std::unique_ptr<SourceReader>> OpenSources(const WindowLoaderOptions& o,
                                                       const std::shared_ptr<ChunkCache>& cache) {
  if (o.sources.empty()) throw InvalidArgument("sources: at least one source is needed");
  std::set<std::string> names;
  std::vector<std::unique_ptr<SourceReader>> readers;
  for (size_t s = 0; s < o.sources.size(); ++s) {
    const SourceSpec& spec = o.sources[s];
    if (spec.name.empty()) throw InvalidArgument("sources[" + std::to_string(s) + "]: no name");
    if (!names.insert(spec.name).second) {
      throw InvalidArgument("sources: the name '" + spec.name + "' is used twice");
    }
    try {
      readers.push_back(std::make_unique<SourceReader>(Dataset::Open(spec.path), cache));
    } catch (const Error& e) {
      throw WithContext(e, Field(s, spec));
    }
  }
  return readers;
}

WindowSampler MakeSampler(const WindowLoaderOptions& o,
                          const std::vector<std::unique_ptr<SourceReader>>& readers) {
  const size_t rank = o.window.size();
  CheckRank(rank, "window");
  std::vector<SampledSource> sources;
  for (size_t s = 0; s < o.sources.size(); ++s) {
    const Shape& shape = readers[s]->dataset().shape();
    if (shape.size() < rank) {
      throw InvalidArgument(Field(s, o.sources[s]) + ": " + readers[s]->dataset().path() +
                            " has rank " + std::to_string(shape.size()) +
                            ", less than the window's " + std::to_string(rank));
    }
    const Scale scale = o.sources[s].scale.value_or(Scale::Identity(rank));
    sources.push_back(
        SampledSource{o.sources[s].name,
                      Shape(shape.end() - static_cast<std::ptrdiff_t>(rank), shape.end()), scale});
  }
  WindowSamplerOptions so;
  so.window = o.window;
  so.seed = o.seed;
  so.flip = o.flip;
  so.rotate = o.rotate;
  so.gain_jitter = o.gain_jitter;
  so.offset_jitter = o.offset_jitter;
  return WindowSampler(std::move(sources), std::move(so));
}

std::optional<size_t> FindSource(const WindowLoaderOptions& o, const std::string& name,
                                 const char* field) {
  if (name.empty()) return std::nullopt;
  for (size_t s = 0; s < o.sources.size(); ++s) {
    if (o.sources[s].name == name) return s;
  }
  throw InvalidArgument(std::string(field) + ": no source is named '" + name + "'");
}

bool Jitters(const WindowLoaderOptions& o) { return o.gain_jitter > 0 || o.offset_jitter > 0; }

WindowLoaderOptions WithCacheBytes(WindowLoaderOptions o) {
  if (!o.cache_bytes) o.cache_bytes = DefaultCacheBytes(1);
  return o;
}

}  // namespace

size_t DefaultCacheBytes(int processes) {
  const int64_t quarter = AvailableMemoryBytes() / 4 / std::max(1, processes);
  return static_cast<size_t>(std::max<int64_t>(quarter, int64_t{64} << 20));
}

WindowLoader::WindowLoader(WindowLoaderOptions options,
                           std::shared_ptr<const ClassIndex> class_index)
    : options_(WithCacheBytes(std::move(options))),
      cache_(std::make_shared<ChunkCache>(*options_.cache_bytes)),
      readers_(OpenSources(options_, cache_)),
      sampler_(MakeSampler(options_, readers_)) {
  const WindowLoaderOptions& o = options_;
  const size_t rank = o.window.size();
  if (o.threads < 0 || o.threads > 256) throw InvalidArgument("threads must be in [0, 256]");
  if (o.prefetch < 1 || o.prefetch > 4096) throw InvalidArgument("prefetch must be in [1, 4096]");
  if (o.max_tries < 1) throw InvalidArgument("max_tries must be >= 1");
  if (!(o.min_foreground >= 0 && o.min_foreground <= 1)) {
    throw InvalidArgument("min_foreground must be in [0, 1]");
  }
  for (size_t s = 0; s < num_sources(); ++s) {
    const SourceSpec& spec = o.sources[s];
    const DataType stored = readers_[s]->dataset().dtype();
    lead_.push_back(readers_[s]->dataset().rank() - rank);
    ValueMap map;
    if (spec.kind == SourceKind::kImage) {
      if (spec.normalize) {
        const auto [lo, hi] = *spec.normalize;
        if (!(std::isfinite(lo) && std::isfinite(hi) && hi != lo)) {
          throw InvalidArgument(Field(s, spec) + ": normalize range must be finite, lo != hi");
        }
      }
      map.affine = spec.normalize.has_value() || Jitters(o);
      map.dtype = spec.dtype.value_or(map.affine ? DataType::kFloat32 : stored);
    } else {
      if (spec.normalize) {
        throw InvalidArgument(Field(s, spec) + ": normalize applies to images, not " +
                              std::string(SourceKindName(spec.kind)) + "s");
      }
      map.dtype = spec.dtype.value_or(stored);
    }
    CheckValueMap(stored, map, Field(s, spec));
    out_dtype_.push_back(map.dtype);
  }

  foreground_ = FindSource(o, o.foreground, "foreground");
  if (foreground_) {
    const SourceSpec& spec = o.sources[*foreground_];
    if (spec.kind == SourceKind::kImage) {
      throw InvalidArgument("foreground: '" + spec.name + "' is an image; name a label or mask");
    }
    if (readers_[*foreground_]->dataset().dtype() == DataType::kFloat16) {
      throw Unsupported("foreground: '" + spec.name + "' is float16");
    }
  } else if (o.min_foreground > 0) {
    throw InvalidArgument("min_foreground is set but foreground names no source");
  }

  balance_ = FindSource(o, o.balance, "balance");
  if (balance_) {
    const size_t b = *balance_;
    if (o.sources[b].kind != SourceKind::kLabel) {
      throw InvalidArgument("balance: '" + o.sources[b].name + "' is not a label source");
    }
    if (lead_[b] != 0) {
      throw InvalidArgument("balance: '" + o.sources[b].name + "' has a channel axis");
    }
    if (!o.class_weights.empty() && o.class_weights.size() != o.classes.size()) {
      throw InvalidArgument("class_weights: " + std::to_string(o.class_weights.size()) +
                            " weights for " + std::to_string(o.classes.size()) + " classes");
    }
    const Box region = sampler_.ReachableIn(b);
    if (class_index) {
      class_index->CheckMatches(*readers_[b], o.classes, region);
      class_index_ = std::move(class_index);
    } else {
      class_index_ = std::make_shared<const ClassIndex>(
          ClassIndex::Build(*readers_[b], o.classes, region, std::max(1, o.threads)));
    }
    double total = 0;
    for (size_t c = 0; c < o.classes.size(); ++c) {
      const double w = o.class_weights.empty() ? 1.0 : o.class_weights[c];
      if (!(w >= 0 && std::isfinite(w))) {
        throw InvalidArgument("class_weights: weight " + std::to_string(w) + " of class " +
                              std::to_string(o.classes[c]) + " must be finite and >= 0");
      }
      if (w > 0 && class_index_->Count(c) == 0) {
        throw FailedPrecondition("classes: class " + std::to_string(o.classes[c]) +
                                 " does not occur in " + readers_[b]->dataset().path() +
                                 " within the region windows can reach " + region.ToString());
      }
      total += w;
      class_cumulative_.push_back(total);
    }
    if (!(total > 0)) throw InvalidArgument("class_weights: all weights are zero");
  } else if (!o.classes.empty() || !o.class_weights.empty()) {
    throw InvalidArgument("classes are given but balance names no label source");
  }
}

WindowLoader::~WindowLoader() { StopThreads(); }

Shape WindowLoader::output_shape(size_t s) const {
  const Shape& full = readers_[s]->dataset().shape();
  Shape out(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(lead_[s]));
  const Shape w = sampler_.SourceWindow(s);
  out.insert(out.end(), w.begin(), w.end());
  return out;
}

double WindowLoader::ForegroundFraction(const Array& a) const {
  const bool mask = options_.sources[*foreground_].kind == SourceKind::kMask;
  const int64_t background = options_.background;
  Index n = 0;
  VisitDataType(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!std::is_same_v<T, Float16>) {
      const T* p = a.data_as<T>();
      const Index total = a.num_elements();
      if (mask) {
        for (Index i = 0; i < total; ++i) n += p[i] > T{};
      } else if constexpr (std::is_floating_point_v<T>) {
        const T b = static_cast<T>(background);
        for (Index i = 0; i < total; ++i) n += p[i] != b;
      } else if constexpr (std::is_same_v<T, bool>) {
        for (Index i = 0; i < total; ++i) n += p[i] != (background != 0);
      } else {
        if (!std::in_range<T>(background)) {  // no voxel can be background
          n = total;
          return;
        }
        const T b = static_cast<T>(background);
        for (Index i = 0; i < total; ++i) n += p[i] != b;
      }
    }
  });
  return a.num_elements() ? static_cast<double>(n) / static_cast<double>(a.num_elements()) : 0.0;
}

Window WindowLoader::Compute(Index global) const {
  const WindowLoaderOptions& o = options_;
  Window w;
  w.index = global;
  std::optional<size_t> cls;
  if (balance_) {
    CounterRng r = sampler_.Rng(global, WindowSampler::Purpose::kClass);
    const double u = r.UniformReal() * class_cumulative_.back();
    size_t c = 0;
    while (c + 1 < class_cumulative_.size() && !(u < class_cumulative_[c])) ++c;
    cls = c;
    w.label_class = o.classes[c];
  }
  auto source_box = [&](size_t s, const Shape& pos) {
    Box spatial = sampler_.SourceBox(s, pos);
    const Shape& full = readers_[s]->dataset().shape();
    Box b(Shape(lead_[s], 0),
          Shape(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(lead_[s])));
    b.begin.insert(b.begin.end(), spatial.begin.begin(), spatial.begin.end());
    b.shape.insert(b.shape.end(), spatial.shape.begin(), spatial.shape.end());
    return b;
  };
  auto read = [&](size_t s, const Box& box) {
    Array a = Array::Uninitialized(readers_[s]->dataset().dtype(), box.shape);
    try {
      readers_[s]->Read(box, a);
    } catch (const Error& e) {
      throw WithContext(e, "window " + std::to_string(global) + ", source '" + o.sources[s].name +
                               "' " + box.ToString());
    }
    return a;
  };

  std::optional<Array> fg_window;
  double best = -1;
  bool accepted = false;
  for (Index attempt = 0; attempt < (foreground_ ? o.max_tries : 1); ++attempt) {
    if (cls) {
      CounterRng r = sampler_.Rng(global, WindowSampler::Purpose::kVoxel, attempt);
      const Shape voxel = class_index_->DrawVoxel(*readers_[*balance_], *cls, r);
      w.position = sampler_.PositionContaining(sampler_.ToReference(*balance_, voxel));
    } else {
      w.position = sampler_.Position(global, attempt);
    }
    w.attempts = attempt + 1;
    if (!foreground_) {
      accepted = true;
      break;
    }
    Array a = read(*foreground_, source_box(*foreground_, w.position));
    const double f = ForegroundFraction(a);
    best = std::max(best, f);
    if (f >= o.min_foreground) {
      w.foreground = f;
      fg_window = std::move(a);
      accepted = true;
      break;
    }
  }
  if (!accepted) {
    throw FailedPrecondition(
        "min_foreground " + std::to_string(o.min_foreground) + " on source '" +
        o.sources[*foreground_].name + "': window " + std::to_string(global) + " found no " +
        "position meeting it in max_tries = " + std::to_string(o.max_tries) +
        " tries (best fraction " + std::to_string(best) + ")" +
        (w.label_class ? " for class " + std::to_string(*w.label_class) : std::string()));
  }
  w.augmentation = sampler_.DrawAugmentation(global);
  for (size_t s = 0; s < num_sources(); ++s) {
    const SourceSpec& spec = o.sources[s];
    w.boxes.push_back(source_box(s, w.position));
    Array raw = (foreground_ && s == *foreground_) ? std::move(*fg_window) : read(s, w.boxes[s]);
    ValueMap map;
    map.dtype = out_dtype_[s];
    if (spec.kind == SourceKind::kImage && (spec.normalize || Jitters(o))) {
      const double lo = spec.normalize ? spec.normalize->first : 0.0;
      const double hi = spec.normalize ? spec.normalize->second : 1.0;
      const double g = w.augmentation.gain / (hi - lo);
      map.affine = true;
      map.scale = g;
      map.shift = w.augmentation.offset - lo * g;
    }
    w.arrays.push_back(TransformWindow(raw, w.augmentation, map, Field(s, spec)));
  }
  return w;
}

bool WindowLoader::AbandonForkedThreads() {
  if (pf_->threads.empty() || pf_->pid == ::getpid()) return false;
  const Index next = pf_->next_deliver;
  (void)pf_.release();  // see Prefetch
  pf_ = std::make_unique<Prefetch>();
  pf_->next_claim = pf_->next_deliver = next;
  // The cache too: chunks the parent's threads were decoding at the fork never arrive here.
  new std::shared_ptr<ChunkCache>(cache_);
  cache_ = std::make_shared<ChunkCache>(*options_.cache_bytes);
  for (auto& r : readers_) r->set_cache(cache_);
  return true;
}

void WindowLoader::SetStream(Index worker, Index num_workers, Index start, Index block) {
  AbandonForkedThreads();
  StopThreads();
  std::lock_guard lock(pf_->mu);
  sampler_.SetStream(worker, num_workers, start, block);
  pf_->next_claim = pf_->next_deliver = 0;
  pf_->ready.clear();
  pf_->pid = 0;
}

Index WindowLoader::next_local() const {
  std::lock_guard lock(pf_->mu);
  return pf_->next_deliver;
}

void WindowLoader::StopThreads() {
  if (AbandonForkedThreads()) return;
  Prefetch& q = *pf_;
  {
    std::lock_guard lock(q.mu);
    q.stop = true;
  }
  q.consumed.notify_all();
  for (auto& t : q.threads) t.join();
  q.threads.clear();
  std::lock_guard lock(q.mu);
  q.stop = false;
  // Windows computed ahead are dropped; the next Next() recomputes from next_deliver.
  q.ready.clear();
  q.next_claim = q.next_deliver;
}

void WindowLoader::Produce() {
  Prefetch& q = *pf_;
  std::unique_lock lock(q.mu);
  while (true) {
    q.consumed.wait(lock,
                    [&] { return q.stop || q.next_claim < q.next_deliver + options_.prefetch; });
    if (q.stop) return;
    const Index local = q.next_claim++;
    lock.unlock();
    Result r;
    try {
      r.window = Compute(sampler_.GlobalIndex(local));
    } catch (...) {
      r.error = std::current_exception();
    }
    lock.lock();
    q.ready.emplace(local, std::move(r));
    q.produced.notify_all();
  }
}

Window WindowLoader::Next() {
  if (AbandonForkedThreads()) {
    throw FailedPrecondition(
        "WindowLoader: its prefetch threads were started in the parent of this forked process, "
        "which draws the same windows; call SetStream (set_stream) here first, or build a "
        "sampler per process (volbatch.torch.WindowDataset does, per DataLoader worker)");
  }
  Prefetch& q = *pf_;
  std::unique_lock lock(q.mu);
  if (options_.threads == 0) {
    const Index global = sampler_.GlobalIndex(q.next_deliver++);
    q.next_claim = q.next_deliver;
    lock.unlock();
    return Compute(global);
  }
  if (q.threads.empty()) {
    q.pid = ::getpid();
    for (int t = 0; t < options_.threads; ++t) q.threads.emplace_back([this] { Produce(); });
  }
  q.produced.wait(lock, [&] { return q.ready.count(q.next_deliver) > 0; });
  auto node = q.ready.extract(q.next_deliver);
  ++q.next_deliver;
  lock.unlock();
  q.consumed.notify_all();
  Result& r = node.mapped();
  if (r.error) std::rethrow_exception(r.error);
  return std::move(*r.window);
}

}  // namespace volbatch
