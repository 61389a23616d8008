#include "volbatch/engine/run.h"

#include <sys/resource.h>
#include <tbb/parallel_pipeline.h>
#include <tbb/task_arena.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "volbatch/core/error.h"
#include "volbatch/core/parallel.h"
#include "volbatch/engine/block_processor.h"
#include "volbatch/engine/claims.h"
#include "volbatch/engine/group_commit.h"
#include "volbatch/engine/job_dataset.h"
#include "volbatch/engine/job_dir.h"
#include "volbatch/engine/ledger.h"
#include "volbatch/engine/metrics_endpoint.h"
#include "volbatch/engine/progress.h"
#include "volbatch/engine/statistics.h"
#include "volbatch/store/dataset.h"

namespace volbatch {
namespace fs = std::filesystem;

namespace {

std::atomic<bool> g_stop{false};

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

uint64_t NowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// This process's own high-water mark. ru_maxrss would do, but Linux carries it across execve,
// so a volbatch started by a big parent (a Python launcher, a Dask worker) reports the parent's.
int64_t PeakRss() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;  // "... kB"
  }
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<int64_t>(u.ru_maxrss) * 1024;
}

// Blocks sync their chunks once, after all of them are written, then record themselves done.
const DatasetOptions kDeferred{.sync = SyncMode::kDeferred};

// The output dataset: created, or an existing one checked against the job's layout.
std::shared_ptr<Dataset> PrepareOutput(const ResolvedJob& job, bool owned_by_job, bool create) {
  CreateOptions o;
  o.format = job.output_format;
  o.shape = job.output_shape;
  o.chunks = job.output_chunks;
  o.dtype = job.output_dtype;
  o.codecs = job.output_codecs;
  o.shards = job.output_shards;
  // With batch axes the output's axes are not the usual (c,) z, y, x: name them.
  if (!job.batch_shape.empty()) {
    const std::string& a = job.axes.letters;
    std::string letters = a.substr(0, job.batch_shape.size());
    if (job.output_channels) letters += 'c';
    letters += a.substr(a.find_first_of("zyx"));
    for (char l : letters) o.dimension_names.emplace_back(1, l);
  }
  return PrepareJobDataset(job.spec.source + ": [output] path: " + job.output_path, job.output_path,
                           o, job.jobdir, owned_by_job, create);
}

struct Token {
  Index block = -1;
  Clock::time_point start;
  BlockInput input;
  Array output;
  std::vector<Array> levels;  // the block's pyramid levels, if it writes them
  Box region;
  Shape batch;
  std::string error;
};

// One run of a pipeline stage, with the hand-offs libtbb makes stated for TSan (see
// core/parallel.h): what the previous stage did to the token and the previous run of this
// (serial) stage did happen before this run; this run happens before the next stage's run on
// the token, the next run of this stage and the caller's return. No-ops without TSan.
class StageRun {
 public:
  StageRun(const void* token, const char* serial, const char& done)
      : token_(token), serial_(serial), done_(done) {
    if (token_) HappensAfter(token_);
    if (serial_) HappensAfter(serial_);
  }
  ~StageRun() {
    if (serial_) HappensBefore(serial_);
    if (token_) HappensBefore(token_);
    HappensBefore(&done_);
  }
  void SetToken(const void* token) { token_ = token; }
  StageRun(const StageRun&) = delete;
  StageRun& operator=(const StageRun&) = delete;

 private:
  const void* token_;
  const char* serial_;
  const char& done_;
};

std::string BlockText(const BlockProcessor& p, Index block) {
  return "block " + std::to_string(block) + " " + p.grid().BlockBox(block).ToString();
}

// One pass of the pipeline over `todo`; returns the blocks that failed (with their errors).
std::vector<BlockFailure> RunPass(const ResolvedJob& job, const BlockProcessor& proc,
                                  BlockSource& source, LedgerWriter* ledger, bool record_failures,
                                  RunCounters& c, Progress& progress) {
  std::vector<BlockFailure> failures;
  auto guarded = [&](Token* t, auto&& f) {
    if (!t->error.empty()) return;
    try {
      f();
    } catch (const Error& e) {
      t->error = e.what();
    } catch (const std::exception& e) {
      t->error = std::string("unexpected failure: ") + e.what();
    }
  };
  const char first_stage = 0, last_stage = 0;
  struct Done {
    char sync = 0;
    ~Done() { HappensAfter(&sync); }
  } done;
  auto take = [&]() -> Token* {
    StageRun run(nullptr, &first_stage, done.sync);
    const std::optional<Index> block = source.Next();
    if (!block) return nullptr;
    c.blocks_claimed.fetch_add(1, std::memory_order_relaxed);
    auto* t = new Token;
    t->block = *block;
    t->start = Clock::now();
    run.SetToken(t);
    return t;
  };
  auto next = [&](tbb::flow_control& fc) -> Token* {
    Token* t = take();
    if (!t) fc.stop();
    return t;
  };
  auto read = [&](Token* t) {
    StageRun run(t, nullptr, done.sync);
    const auto s = Clock::now();
    guarded(t, [&] {
      t->input = proc.Read(t->block);
      t->region = t->input.region;
      t->batch = t->input.batch;
      c.bytes_read += t->input.bytes_read;
      c.voxels_read.fetch_add(
          t->input.bytes_read / static_cast<int64_t>(t->input.data.element_size()),
          std::memory_order_relaxed);
    });
    AddNs(c.read_ns, s);
    return t;
  };
  auto compute = [&](Token* t) {
    StageRun run(t, nullptr, done.sync);
    const auto s = Clock::now();
    guarded(t, [&] {
      t->output = proc.Compute(std::move(t->input));
      t->input = BlockInput{};
      t->levels = proc.Levels(t->region, t->output);
    });
    AddNs(c.compute_ns, s);
    return t;
  };
  auto write = [&](Token* t) {
    StageRun run(t, nullptr, done.sync);
    const auto s = Clock::now();
    guarded(t, [&] {
      const auto bytes = static_cast<int64_t>(t->output.num_bytes());
      const Index voxels = t->output.num_elements();
      proc.Write(t->batch, t->region, std::move(t->output), t->levels);
      c.bytes_written += bytes;
      c.voxels += voxels;
    });
    AddNs(c.write_ns, s);
    t->output = Array();
    t->levels.clear();
    return t;
  };
  GroupCommit commit(
      *ledger, [&] { proc.Sync(); },
      [&](const LedgerRecord& r, const std::string& error) {
        if (error.empty()) {
          ++c.blocks_done;
          progress.Add(proc.grid().BlockBox(r.block).num_elements(), false);
          source.Finished(r.block, true);
          return;
        }
        c.blocks_failed.fetch_add(1, std::memory_order_relaxed);
        if (record_failures) progress.Add(0, true);
        failures.push_back({r.block, proc.grid().BlockBox(r.block).ToString(),
                            BlockText(proc, r.block) + ": " + error});
        source.Finished(r.block, false);
      },
      record_failures);
  source.set_flush([&] { commit.Flush(); });
  auto record = [&](Token* t) {
    StageRun run(t, &last_stage, done.sync);
    run.SetToken(nullptr);  // freed below; nothing runs after this stage
    std::unique_ptr<Token> own(t);
    LedgerRecord r;
    r.block = t->block;
    r.time_ms = NowMs();
    r.duration_ms = static_cast<uint32_t>(std::min(4e9, Seconds(Clock::now() - t->start) * 1000));
    commit.Add(r, t->error);
  };
  if (job.threads == 1) {
    // One thread needs no thread pool: starting libtbb's costs each worker process ~45 failed
    // metadata calls (its dlopen of libirml.so.1 probes every library directory), which 256
    // one-thread workers on a shared filesystem pay 256 times (issue 16).
    while (Token* t = take()) record(write(compute(read(t))));
  } else {
    const tbb::filter<void, void> stages =
        tbb::make_filter<void, Token*>(tbb::filter_mode::serial_in_order, Handed(next)) &
        tbb::make_filter<Token*, Token*>(tbb::filter_mode::parallel, Handed(read)) &
        tbb::make_filter<Token*, Token*>(tbb::filter_mode::parallel, Handed(compute)) &
        tbb::make_filter<Token*, Token*>(tbb::filter_mode::parallel, Handed(write)) &
        tbb::make_filter<Token*, void>(tbb::filter_mode::serial_out_of_order, Handed(record));
    tbb::parallel_pipeline(static_cast<size_t>(std::max(1, job.blocks_in_flight)), stages);
  }
  commit.Flush();
  source.set_flush(nullptr);
  return failures;
}

}  // namespace

void RequestStop() { g_stop.store(true, std::memory_order_relaxed); }
bool StopRequested() { return g_stop.load(std::memory_order_relaxed); }

PreparedJob PrepareJob(const JobSpec& spec, const RunOptions& options) {
  const std::string jobdir_path = JobDirOf(spec);
  JobDir dir(jobdir_path);
  const std::optional<nlohmann::json> old = dir.ReadJob();
  if (options.resume && !old) {
    throw FailedPrecondition(jobdir_path + ": no job to resume (no job.json)");
  }
  JobSpec effective = spec;
  if (options.threads > 0) effective.run.threads = options.threads;
  PreparedJob p;
  p.job = ResolveJob(effective, options.force || !old ? std::nullopt : StoredBlock(*old));
  const ResolvedJob& job = p.job;

  const nlohmann::json identity = job.Identity();
  if (old && !options.force) {
    const std::string change = DescribeChange(old->value("identity", nlohmann::json()), identity);
    if (!change.empty()) {
      throw FailedPrecondition(jobdir_path +
                               ": the job changed since this directory was "
                               "started (" +
                               change + "); run with --force to start over");
    }
  }
  // job.json goes down before a new output is created, so that an output on disk always has
  // the job directory that owns it (a crash in between must not orphan it).
  const bool owned = old.has_value() || options.force;
  p.output = PrepareOutput(job, owned, false);
  PrepareBlockLevels(job, owned, MissingLevel::kSkip);
  if (!old || options.force) {
    dir.Reset();
    dir.WriteJob(job);
  }
  if (!p.output) {
    try {
      p.output = PrepareOutput(job, owned, true);
    } catch (const Error& e) {
      // A store that takes no writes at all (an http:// URL) created nothing: leave no job
      // directory behind that claims an output which cannot exist.
      if (e.code() == ErrorCode::kUnsupported && (!old || options.force)) {
        std::error_code ignored;
        std::filesystem::remove_all(jobdir_path, ignored);
      }
      throw;
    }
  }
  p.levels = PrepareBlockLevels(job, owned, MissingLevel::kCreate);
  if (options.claims) {
    // Holders heartbeat every lease/4 (at most 15 s by default): one silent for two minutes
    // (or whose process is gone, on this host) is not live.
    StartClaimGeneration(job.jobdir, job.Grid().num_blocks(), ReadLedgers(job.jobdir),
                         std::chrono::minutes(2));
  }
  // A run killed mid-write leaves temporaries beside the chunks it was writing.
  p.output->SweepTemporaries();
  for (const auto& level : p.levels) level->SweepTemporaries();
  p.input = job.input;
  return p;
}

PreparedJob OpenPreparedJob(const std::string& jobdir, int threads) {
  JobDir dir(jobdir);
  const std::optional<nlohmann::json> stored = dir.ReadJob();
  if (!stored) throw NotFound(jobdir + ": not a job directory (no job.json)");
  if (!stored->contains("spec")) {
    throw FailedPrecondition(jobdir +
                             "/job.json: written by an older volbatch (no \"spec\"); "
                             "run the job again with volbatch run --force");
  }
  JobSpec spec = ParseJobJson(stored->at("spec"), jobdir + "/job.json");
  if (threads > 0) spec.run.threads = threads;
  PreparedJob p;
  p.job = ResolveJob(spec, StoredBlock(*stored));
  const std::string change =
      DescribeChange(stored->value("identity", nlohmann::json()), p.job.Identity());
  if (!change.empty()) {
    throw FailedPrecondition(jobdir + ": the job no longer resolves as it did (" + change +
                             "); the input or the operator changed");
  }
  p.output = std::make_shared<Dataset>(Dataset::Open(p.job.output_path, kDeferred));
  p.levels = PrepareBlockLevels(p.job, true, MissingLevel::kRefuse);
  p.input = p.job.input;
  return p;
}

RunSummary ExecuteBlocks(PreparedJob& p, const RunOptions& options, const BlockSourceFactory& make,
                         const std::string& summary_name) {
  const auto t0 = Clock::now();
  ResolvedJob& job = p.job;
  JobDir dir(job.jobdir);
  RunSummary summary;
  summary.jobdir = job.jobdir;
  summary.threads = job.threads;
  summary.blocks_in_flight = job.blocks_in_flight;
  summary.block = job.block;

  tbb::task_arena arena(job.threads);
  // Statistics: once per job, kept in the job directory (a resume reuses them; concurrent
  // workers compute the same values and write them atomically).
  const nlohmann::json request = job.op->StatisticsRequest();
  if (!request.is_null()) {
    const auto s0 = Clock::now();
    std::optional<nlohmann::json> stats = dir.ReadJson("stats.json");
    if (!stats || stats->value("request", nlohmann::json()) != request) {
      nlohmann::json computed;
      arena.execute([&] { computed = ComputeStatistics(*p.input, request); });
      stats = nlohmann::json{{"request", request}, {"statistics", computed}};
      dir.WriteJson("stats.json", *stats);
    }
    job.op->SetStatistics(stats->at("statistics"));
    summary.statistics_s = Seconds(Clock::now() - s0);
  }

  BlockProcessor proc(job, p.input, p.output, p.levels);
  summary.blocks_total = proc.grid().num_blocks();
  if (!job.block_windows) {
    summary.windows_lattice = proc.lattice().num_windows();
    summary.windows_run = proc.lattice().WindowsComputed(job.block);
  }
  LedgerWriter ledger(job.jobdir, options.worker);
  std::unique_ptr<BlockSource> source = make(proc.grid().num_blocks());
  Progress progress(summary.blocks_total, source->done_before(),
                    !options.quiet && ::isatty(STDERR_FILENO));
  RunCounters c;
  c.job_blocks = summary.blocks_total;
  c.job_blocks_done_before = source->done_before();
  // Serves the tallies while the blocks run (and, if asked, until a scrape saw the last ones).
  std::optional<MetricsEndpoint> metrics;
  if (job.spec.run.metrics.port)
    metrics.emplace(job.spec.run.metrics, job.jobdir, options.worker, c);
  std::vector<BlockFailure> failures;
  for (int attempt = 0; attempt <= job.spec.run.retries; ++attempt) {
    const bool last = attempt == job.spec.run.retries;
    auto pass = [&] { failures = RunPass(job, proc, *source, &ledger, last, c, progress); };
    if (job.threads == 1) {
      pass();
    } else {
      arena.execute(pass);
    }
    if (failures.empty() || last) break;
    std::vector<Index> again;
    for (const auto& f : failures) again.push_back(f.block);
    std::sort(again.begin(), again.end());
    source = source->Retry(again);
    if (!source) break;
    failures.clear();
  }
  progress.Finish();

  summary.failures = failures;
  summary.blocks_failed = static_cast<Index>(failures.size());
  summary.blocks_done = static_cast<Index>(c.blocks_done);
  summary.blocks_skipped = summary.blocks_total - summary.blocks_done - summary.blocks_failed;
  summary.interrupted = StopRequested();
  if (options.blocks_taken_over) summary.blocks_taken_over = *options.blocks_taken_over;
  summary.voxels = c.voxels;
  summary.bytes_read = c.bytes_read;
  summary.bytes_written = c.bytes_written;
  summary.read_s = static_cast<double>(c.read_ns) / 1e9;
  summary.compute_s = static_cast<double>(c.compute_ns) / 1e9;
  summary.write_s = static_cast<double>(c.write_ns) / 1e9;
  summary.compute_split = proc.Split();
  summary.wall_s = Seconds(Clock::now() - t0);
  summary.peak_rss_bytes = PeakRss();
  dir.WriteJson(summary_name, summary.ToJson());
  return summary;
}

std::optional<Index> ListSource::Next() {
  if (StopRequested() || next_ >= blocks_.size()) return std::nullopt;
  return blocks_[next_++];
}

RunSummary RunJob(const JobSpec& spec, const RunOptions& options_in) {
  RunOptions options = options_in;
  options.claims = false;
  PreparedJob p = PrepareJob(spec, options);
  const std::string order = p.job.spec.run.order;
  const uint64_t seed = p.job.spec.run.seed;
  return ExecuteBlocks(
      p, options,
      [&](Index num_blocks) -> std::unique_ptr<BlockSource> {
        const LedgerState state = ReadLedgers(p.job.jobdir);
        std::vector<Index> todo;
        for (Index b = 0; b < num_blocks; ++b) {
          if (!state.IsDone(b)) todo.push_back(b);
        }
        if (order == "shuffle") {
          std::mt19937_64 rng(seed);
          std::shuffle(todo.begin(), todo.end(), rng);
        }
        const Index done_before = num_blocks - static_cast<Index>(todo.size());
        return std::make_unique<ListSource>(std::move(todo), done_before);
      },
      "summary.json");
}

nlohmann::json RunSummary::ToJson() const {
  nlohmann::json j = {{"jobdir", jobdir},
                      {"blocks_total", blocks_total},
                      {"blocks_skipped", blocks_skipped},
                      {"blocks_done", blocks_done},
                      {"blocks_failed", blocks_failed},
                      {"blocks_taken_over", blocks_taken_over},
                      {"voxels", voxels},
                      {"bytes_read", bytes_read},
                      {"bytes_written", bytes_written},
                      {"wall_s", wall_s},
                      {"read_s", read_s},
                      {"compute_s", compute_s},
                      {"write_s", write_s},
                      {"statistics_s", statistics_s},
                      {"threads", threads},
                      {"blocks_in_flight", blocks_in_flight},
                      {"block", block},
                      {"windows_lattice", windows_lattice},
                      {"windows_run", windows_run},
                      {"gather_s", compute_split.gather_s},
                      {"operator_s", compute_split.operator_s},
                      {"blend_s", compute_split.blend_s},
                      {"peak_rss_bytes", peak_rss_bytes}};
  j["failures"] = nlohmann::json::array();
  for (const auto& f : failures) {
    j["failures"].push_back({{"block", f.block}, {"region", f.region}, {"error", f.error}});
  }
  return j;
}

std::string RunSummary::ToText() const {
  char buf[1024];
  const double mvox = wall_s > 0 ? static_cast<double>(voxels) / wall_s / 1e6 : 0;
  std::snprintf(
      buf, sizeof(buf),
      "blocks: %lld done, %lld skipped (done before), %lld failed, of %lld (block %s)\n"
      "voxels: %lld written, %.1f Mvox/s\n"
      "bytes:  %.1f MiB read, %.1f MiB written (decoded)\n"
      "time:   %.2f s wall; thread-seconds read %.2f, compute %.2f, write %.2f%s\n"
      "memory: peak RSS %.0f MiB; %d threads, %d blocks in flight\n"
      "job:    %s\n",
      static_cast<long long>(blocks_done), static_cast<long long>(blocks_skipped),
      static_cast<long long>(blocks_failed), static_cast<long long>(blocks_total),
      ShapeToString(block).c_str(), static_cast<long long>(voxels), mvox,
      static_cast<double>(bytes_read) / 1048576.0, static_cast<double>(bytes_written) / 1048576.0,
      wall_s, read_s, compute_s, write_s,
      statistics_s > 0 ? (", statistics " + std::to_string(statistics_s) + " s").c_str() : "",
      static_cast<double>(peak_rss_bytes) / 1048576.0, threads, blocks_in_flight, jobdir.c_str());
  std::string s = buf;
  if (windows_lattice > 0) {
    std::snprintf(buf, sizeof(buf),
                  "windows: %lld run for the lattice's %lld (%.2fx: a window straddling blocks "
                  "runs in each; larger blocks run fewer)\n"
                  "compute: thread-seconds gather %.2f, operator %.2f, blend %.2f\n",
                  static_cast<long long>(windows_run), static_cast<long long>(windows_lattice),
                  static_cast<double>(windows_run) / static_cast<double>(windows_lattice),
                  compute_split.gather_s, compute_split.operator_s, compute_split.blend_s);
    s += buf;
  }
  for (size_t i = 0; i < failures.size() && i < 10; ++i) s += "failed: " + failures[i].error + "\n";
  if (failures.size() > 10) {
    s += "... and " + std::to_string(failures.size() - 10) + " more (see summary.json)\n";
  }
  return s;
}

nlohmann::json JobStatus(const std::string& jobdir) {
  JobDir dir(jobdir);
  const auto job = dir.ReadJob();
  if (!job) throw NotFound(jobdir + ": not a job directory (no job.json)");
  Index total = 0;
  try {
    const auto& id = job->at("identity");
    total = IdentityBlockGrid(id).num_blocks();
  } catch (const nlohmann::json::exception& e) {
    throw DataLoss(jobdir + "/job.json: missing or malformed field (" + e.what() + ")");
  }
  const LedgerState state = ReadLedgers(jobdir);
  nlohmann::json j = {{"jobdir", jobdir},
                      {"fingerprint", job->value("fingerprint", "")},
                      {"blocks_total", total},
                      {"blocks_done", state.done()},
                      {"blocks_failed", state.failed()},
                      {"blocks_remaining", total - static_cast<Index>(state.done())},
                      {"ledgers", state.files.size()},
                      {"bad_records", state.bad_records},
                      {"torn_bytes", state.torn_bytes}};
  nlohmann::json failed = nlohmann::json::array();
  for (const auto& [b, r] : state.latest) {
    if (r.status == BlockStatus::kFailed) failed.push_back(b);
  }
  j["failed_blocks"] = failed;
  // Work in hand: one holder file per worker process (claims.h), with its heartbeat's age,
  // the lanes it claims runs in (from which position) and the runs it took over.
  nlohmann::json running = nlohmann::json::array();
  for (const ClaimHolder& c : ListHolders(jobdir)) {
    nlohmann::json lanes = nlohmann::json::array();
    for (const auto& [lane, from] : c.lanes) lanes.push_back({{"lane", lane}, {"from", from}});
    nlohmann::json runs = nlohmann::json::array();
    for (const ClaimRun& r : c.runs) {
      runs.push_back({{"lane", r.lane}, {"start", r.start}, {"end", r.end}});
    }
    running.push_back({{"worker", c.worker},
                       {"pid", c.pid},
                       {"host", c.host},
                       {"age_s", c.age_s},
                       {"lanes", lanes},
                       {"runs", runs}});
  }
  j["in_flight"] = running;
  // Workers serving /metrics now (their recorded addresses; metrics_endpoint.h).
  j["metrics"] = ListMetricsTargets(jobdir);
  if (auto s = dir.ReadJson("summary.json")) j["last_run"] = *s;
  return j;
}

std::string JobStatusText(const nlohmann::json& s) {
  std::ostringstream o;
  const Index total = s["blocks_total"], done = s["blocks_done"];
  o << "job " << s["jobdir"].get<std::string>() << " (" << s["fingerprint"].get<std::string>()
    << ")\n";
  o << "blocks: " << done << " done of " << total << " ("
    << (total ? 100.0 * static_cast<double>(done) / static_cast<double>(total) : 100.0) << "%), "
    << s["blocks_failed"] << " failed, " << s["blocks_remaining"] << " remaining\n";
  if (!s["failed_blocks"].empty()) o << "failed blocks: " << s["failed_blocks"].dump() << "\n";
  if (s.contains("in_flight") && !s["in_flight"].empty()) {
    // Holder files name lanes, not blocks (a run is one file in claims/runs): workers and the
    // lanes each claims in.
    std::map<int, std::set<int>> per_worker;
    for (const auto& c : s["in_flight"]) {
      std::set<int>& lanes = per_worker[c.value("worker", -1)];
      for (const auto& l : c.value("lanes", nlohmann::json::array()))
        lanes.insert(l.value("lane", -1));
      for (const auto& r : c.value("runs", nlohmann::json::array()))
        lanes.insert(r.value("lane", -1));
    }
    o << "in hand: " << s["in_flight"].size() << " worker processes";
    const char* sep = " (";
    for (const auto& [w, lanes] : per_worker) {
      o << sep << "worker " << w << ": " << lanes.size()
        << (lanes.size() == 1 ? " lane" : " lanes");
      sep = ", ";
    }
    o << ")\n";
  }
  if (s.contains("metrics") && !s["metrics"].empty()) {
    o << "metrics:";
    const char* sep = " ";
    for (const auto& m : s["metrics"]) {
      o << sep << "worker " << m.value("worker", -1) << " at http://"
        << m.value("target", std::string()) << "/metrics";
      sep = ", ";
    }
    o << "\n";
  }
  if (s["bad_records"] != 0 || s["torn_bytes"] != 0) {
    o << "ledger: " << s["bad_records"] << " bad records and " << s["torn_bytes"]
      << " torn bytes ignored\n";
  }
  if (s.contains("last_run")) {
    const auto& r = s["last_run"];
    o << "last run: " << r.value("blocks_done", 0) << " blocks in " << r.value("wall_s", 0.0)
      << " s, " << r.value("blocks_failed", 0) << " failed\n";
  }
  return o.str();
}

}  // namespace volbatch
