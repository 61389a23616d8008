// The volbatch command: parses arguments and calls the library; errors become one line on
// stderr and exit code 1 (2 for usage errors).
#include <signal.h>
#include <tbb/global_control.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

#include "volbatch/cli/demo.h"
#include "volbatch/cli/info.h"
#include "volbatch/cli/parse.h"
#include "volbatch/cli/transfer.h"
#include "volbatch/codec/registry.h"
#include "volbatch/core/error.h"
#include "volbatch/core/parallel.h"
#include "volbatch/engine/job_metrics.h"
#include "volbatch/engine/plan.h"
#include "volbatch/engine/pyramid.h"
#include "volbatch/engine/run.h"
#include "volbatch/engine/work.h"
#include "volbatch/engine/workflow.h"
#include "volbatch/exec/executor.h"
#include "volbatch/exec/mpi.h"
#include "volbatch/exec/spawn_server.h"
#include "volbatch/exec/worker_index.h"
#include "volbatch/kvstore/location.h"
#include "volbatch/report/report.h"

namespace fs = std::filesystem;
namespace {

using namespace volbatch;

struct TransferFlags {
  std::string chunks, codec, shards, format, fill_value;
  bool overwrite = false;

  void Add(CLI::App* cmd) {
    cmd->add_option("--chunks", chunks, "chunk shape Z,Y,X");
    cmd->add_option("--codec", codec, "codec SPEC: raw, gzip:6, zstd:3, blosc:lz4:5:shuffle, ...");
    cmd->add_option("--shards", shards, "shard shape Z,Y,X (Zarr v3)");
    cmd->add_option("--format", format, "n5 | zarr2 | zarr3 (default: from the path)")
        ->check(CLI::IsMember({"n5", "zarr2", "zarr3"}));
    cmd->add_option("--fill-value", fill_value, "fill value (a number, NaN, Infinity, -Infinity)");
    cmd->add_flag("--overwrite", overwrite, "replace an existing destination dataset");
  }

  TransferOptions Options() const {
    TransferOptions o;
    if (!chunks.empty()) o.chunks = ParseShapeList(chunks, "--chunks");
    if (!codec.empty()) o.codec = codec;
    if (!shards.empty()) o.shards = ParseShapeList(shards, "--shards");
    o.format = format;
    if (!fill_value.empty()) {
      o.fill_value = nlohmann::json::parse(fill_value, nullptr, false);
      if (o.fill_value.is_discarded()) o.fill_value = fill_value;  // NaN, Infinity as strings
    }
    o.overwrite = overwrite;
    return o;
  }
};

volatile sig_atomic_t stop_signal = 0;
void StopOnSignal(int sig) {
  stop_signal = sig;
  RequestStop();
}

// --metrics-port, --metrics-address, --metrics-linger (and, for work, --metrics-fixed-port):
// laid over the job's [run] metrics_* when given.
struct MetricsFlags {
  std::optional<int> port;
  std::string address;
  std::optional<double> linger_s;
  bool fixed_port = false;

  void Add(CLI::App* cmd, bool work) {
    cmd->add_option("--metrics-port", port,
                    "serve Prometheus metrics at /metrics: worker I on PORT + I (0: any free "
                    "port; the address is recorded in JOBDIR/metrics)");
    cmd->add_option("--metrics-address", address,
                    "the metrics endpoint's address (default 127.0.0.1)");
    cmd->add_option("--metrics-linger", linger_s,
                    "after the last block, wait up to this many seconds for a final scrape");
    if (work) {
      cmd->add_flag("--metrics-fixed-port", fixed_port,
                    "listen on PORT itself, whatever the worker's index (one worker per address)");
    }
  }

  void Apply(MetricsSettings& m) const {
    if (port) {
      m.port = CheckMetricsPort(*port, "--metrics-port");
      m.source = "--metrics-port";
      m.fixed_port = fixed_port;
    }
    if (!address.empty()) m.address = address;
    if (linger_s) {
      if (!(*linger_s >= 0 && *linger_s <= 3600)) {
        throw InvalidArgument("--metrics-linger: must be between 0 and 3600 seconds");
      }
      m.linger_s = *linger_s;
    }
  }
};

// The command line's engine options, laid over the job's [run.<executor>] table.
struct ExecutorFlags {
  std::string partition, queue, time, memory, image, hosts;
  int gpus = -1;

  void Add(CLI::App* cmd) {
    cmd->add_option("--partition", partition, "slurm: partition");
    cmd->add_option("--queue", queue, "lsf: queue");
    cmd->add_option("--time", time, "slurm, lsf: time limit per worker (HH:MM:SS)");
    cmd->add_option("--memory", memory, "slurm, lsf, k8s: memory per worker (e.g. 16GiB)");
    cmd->add_option("--gpus", gpus, "slurm, lsf, k8s: GPUs per worker");
    cmd->add_option("--image", image, "k8s: container image with volbatch");
    cmd->add_option("--hosts", hosts, "ssh: hosts h1,h2,... (one worker each unless --workers)");
  }

  nlohmann::json Table(const JobSpec& spec, const std::string& executor) const {
    nlohmann::json t = spec.run.executors.value(executor, nlohmann::json::object());
    if (!partition.empty()) t["partition"] = partition;
    if (!queue.empty()) t["queue"] = queue;
    if (!time.empty()) t["time"] = time;
    if (!memory.empty()) t["memory"] = memory;
    if (!image.empty()) t["image"] = image;
    if (gpus >= 0) t["gpus"] = gpus;
    if (!hosts.empty()) {
      nlohmann::json list = nlohmann::json::array();
      std::string h;
      for (std::istringstream in(hosts); std::getline(in, h, ',');) {
        if (!h.empty()) list.push_back(h);
      }
      t["hosts"] = list;
    }
    return t;
  }
};

int Main(int argc, char** argv) {
  CLI::App app{"volbatch: AI and image operators over volumes far larger than any GPU"};
  app.require_subcommand(1);
  int threads = 0;
  app.add_option("--threads", threads, "worker threads (default: all cores)");

  std::string path, src, dst, roi;
  bool json = false;

  auto* info = app.add_subcommand("info", "describe a dataset");
  info->add_option("DATASET", path)->required();
  info->add_flag("--json", json, "print JSON");

  auto* create = app.add_subcommand("create", "create an empty dataset");
  std::string shape, dtype = "uint8";
  TransferFlags create_flags;
  create->add_option("DATASET", path)->required();
  create->add_option("--shape", shape, "Z,Y,X")->required();
  create->add_option("--dtype", dtype, "data type");
  create_flags.Add(create);

  auto* import = app.add_subcommand("import", "import .npy, .tif, a folder of .tif or a dataset");
  TransferFlags import_flags;
  import->add_option("SRC", src)->required();
  import->add_option("DST", dst)->required();
  import_flags.Add(import);

  auto* exp = app.add_subcommand("export", "export a dataset (or a region) to .npy, .tif, .raw");
  exp->add_option("SRC", src)->required();
  exp->add_option("DST", dst)->required();
  exp->add_option("--roi", roi, "region Z0:Z1,Y0:Y1,X0:X1");

  auto* copy = app.add_subcommand("copy", "copy a dataset, changing format, chunks or codec");
  TransferFlags copy_flags;
  copy->add_option("SRC", src)->required();
  copy->add_option("DST", dst)->required();
  copy_flags.Add(copy);

  auto* demo = app.add_subcommand("demo", "run the main job end to end on generated data");
  DemoOptions demo_options;
  demo->add_option("DIR", demo_options.dir, "working directory");
  demo->add_option("--depth", demo_options.depth);
  demo->add_option("--height", demo_options.height);
  demo->add_option("--width", demo_options.width);
  demo->add_option("--noise", demo_options.noise_sigma, "noise sigma in grey levels");
  demo->add_option("--model", demo_options.model, "the denoising TorchScript model");

  MetricsFlags run_metrics, work_metrics;
  auto* run =
      app.add_subcommand("run", "run a job file over the whole volume (resumes by default)");
  std::string executor = "local";
  RunOptions run_options;
  ExecutorOptions exec_options;
  ExecutorFlags exec_flags;
  double lease_s = 60;
  run->add_option("JOB", path, "job file (TOML)")->required();
  run->add_option("--executor", executor,
                  "local | processes | slurm | mpi | k8s | ssh | lsf (default local)");
  run->add_option("--workers", exec_options.workers, "workers (local: 1)");
  run->add_option("--lease", lease_s, "seconds before a silent worker's claims expire");
  run->add_option("--restarts", exec_options.restarts,
                  "worker restarts (batch engines: array-task resubmissions) allowed in all");
  run->add_flag("--detach", exec_options.detach, "slurm, lsf: submit and return at once");
  run->add_flag("--apply", exec_options.apply, "k8s: apply the manifest with kubectl");
  exec_flags.Add(run);
  run_metrics.Add(run, false);

  auto* work = app.add_subcommand("work", "one worker of N on a prepared job directory");
  WorkOptions work_options;
  std::optional<int> worker_index;
  work->add_option("JOBDIR", path)->required();
  work->add_option("--worker", worker_index,
                   "this worker's index I, 0-based (default: from $VOLBATCH_WORKER, "
                   "$SLURM_ARRAY_TASK_ID, $JOB_COMPLETION_INDEX or $LSB_JOBINDEX - 1)");
  bool mpi = false;
  auto* of_option = work->add_option("--of", work_options.of, "the number of workers N");
  work->add_flag("--mpi", mpi,
                 "under mpirun: rank 0 hands out the blocks, the other ranks compute them")
      ->excludes(of_option);
  work->add_option("--lease", lease_s, "seconds before a silent worker's claims expire");
  work->add_flag("--quiet", work_options.quiet, "no progress line");
  work_metrics.Add(work, true);
  auto* resume_flag = run->add_flag("--resume", run_options.resume,
                                    "continue an existing job directory (refuse if there is none)");
  run->add_flag("--force", run_options.force,
                "start over: forget done blocks and write into an existing output")
      ->excludes(resume_flag);
  run->add_flag("--quiet", run_options.quiet, "no progress line");
  bool prepare_only = false;
  run->add_flag("--prepare", prepare_only,
                "prepare the job directory and the output, run no block (then start "
                "`volbatch work JOBDIR --worker I --of N` anywhere)");

  auto* status = app.add_subcommand("status", "what a job directory's ledgers say");
  status->add_option("JOBDIR", path)->required();
  status->add_flag("--json", json, "print JSON");
  bool prometheus = false;
  status
      ->add_flag("--prometheus", prometheus,
                 "print the job's metrics in the Prometheus text format (textfile collector)")
      ->excludes("--json");

  auto* pyramid = app.add_subcommand(
      "pyramid", "write downsampled levels beside a dataset, described as OME-Zarr or N5 scales");
  PyramidOptions pyramid_options;
  std::string voxel_size;
  pyramid->add_option("DATASET", pyramid_options.dataset)->required();
  pyramid->add_option("--levels", pyramid_options.levels, "levels below DATASET")->required();
  pyramid->add_option("--method", pyramid_options.method, "mean (intensities) | mode (labels)");
  pyramid->add_option("--voxel-size", voxel_size,
                      "Z,Y,X voxel size (default: the attributes', else 1)");
  pyramid->add_option("--unit", pyramid_options.unit, "axis unit (default: nanometer)");
  pyramid->add_option("--codec", pyramid_options.codec, "codec of the levels (default zstd:3)");
  pyramid->add_flag("--quiet", pyramid_options.quiet, "no progress line");
  pyramid->add_flag("--force", pyramid_options.force, "rewrite existing levels");

  auto* plan = app.add_subcommand(
      "plan", "chunk, shard and codec candidates with files, ratio, speed and block memory");
  std::string plan_target, plan_codecs, plan_chunk_bytes = "1MiB", plan_gpu, plan_window;
  std::vector<std::string> plan_chunks;
  PlanOptions plan_options;
  plan->add_option("DATASET_OR_SHAPE", plan_target, "a dataset, or a shape Z,Y,X")->required();
  plan->add_option("--dtype", dtype, "data type (with a shape)");
  plan->add_option("--codec", plan_codecs, "codec SPECs to compare, comma-separated");
  plan->add_option("--chunks", plan_chunks, "a chunk shape to consider (repeatable)");
  plan->add_option("--chunk-bytes", plan_chunk_bytes, "target decoded bytes per chunk");
  plan->add_option("--max-files", plan_options.max_files, "most chunk/shard files in all");
  plan->add_option("--max-files-per-dir", plan_options.max_files_per_dir,
                   "most files in one directory");
  plan->add_option("--window", plan_window, "the model's input window Z,Y,X");
  plan->add_option("--gpu-memory", plan_gpu, "GPU memory, e.g. 16GiB");
  plan->add_option("--sample", plan_options.sample_chunks, "chunks measured (default 16)");
  plan->add_flag("--json", json, "print JSON");

  auto* report = app.add_subcommand("report", "write JOBDIR/report.html: plots and slice previews");
  report->add_option("JOBDIR", path)->required();

  for (auto* sub : {info, create, import, exp, copy, demo, run, work, pyramid}) {
    sub->add_option("--threads", threads, "worker threads (default: all cores)");
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  std::unique_ptr<tbb::global_control> limit;
  SetThreadLimit(threads);
  // One thread runs everything on the caller (ParallelFor, the block pipeline) and never
  // starts libtbb: a global_control would start it, and its destructor probes ~25 paths for
  // libiomp5.so at exit, in every one-thread worker process.
  if (threads > 1) {
    limit = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                  threads);
  }

  try {
    if (*info) {
      if (std::optional<nlohmann::json> tree = DescribeGroup(path)) {
        std::cout << (json ? tree->dump(2) + "\n" : FormatGroupTree(*tree));
      } else {
        auto d = DescribeDataset(Dataset::Open(path));
        std::cout << (json ? d.dump(2) + "\n" : FormatDescription(d));
      }
    } else if (*create) {
      TransferOptions t = create_flags.Options();
      CreateOptions c;
      c.format = t.format;
      c.shape = ParseShapeList(shape, "--shape");
      c.dtype = ParseDataType(dtype, "--dtype");
      c.chunks = t.chunks ? *t.chunks : DefaultChunks(c.shape, c.dtype);
      c.codecs = ParseCodecFlag(t.codec, c.dtype);
      c.shards = t.shards;
      c.fill_value = t.fill_value;
      c.overwrite = t.overwrite;
      Dataset::Create(path, c);
    } else if (*import) {
      ImportVolume(src, dst, import_flags.Options());
    } else if (*exp) {
      ExportVolume(src, dst, roi.empty() ? std::nullopt : std::optional<std::string>(roi));
    } else if (*copy) {
      CopyDataset(src, dst, copy_flags.Options());
    } else if (*pyramid) {
      pyramid_options.threads = threads;
      if (!voxel_size.empty()) {
        pyramid_options.voxel_size = ParseDoubleList(voxel_size, "--voxel-size");
      }
      const PyramidResult r = BuildPyramid(pyramid_options);
      for (size_t k = 0; k < r.levels.size(); ++k) {
        std::cout << r.levels[k] << "  " << ShapeToString(r.shapes[k + 1]) << "\n";
      }
      std::cout << "metadata: " << r.metadata << "\n";
    } else if (*demo) {
      demo_options.threads = threads;
      RunDemo(demo_options, std::cout);
    } else if (*work && mpi) {
      ::signal(SIGTERM, StopOnSignal);
      MpiWorkOptions mo;
      mo.threads = threads;
      mo.quiet = work_options.quiet;
      mo.lease = std::chrono::milliseconds(static_cast<int64_t>(lease_s * 1000));
      work_metrics.Apply(mo.metrics);
      const RunSummary summary = MpiWork(path, mo);
      if (!work_options.quiet) std::cout << summary.ToText();
      if (summary.blocks_failed > 0) return kWorkBlocksFailed;
    } else if (*work) {
      if (!*of_option) throw InvalidArgument("--of: the number of workers is required");
      // SIGTERM (Slurm's --signal, a pod's termination) and SIGHUP (an ssh session that
      // closed): take no new block, finish those in hand, record them, exit.
      ::signal(SIGTERM, StopOnSignal);
      ::signal(SIGHUP, StopOnSignal);
      work_options.worker = worker_index ? *worker_index : WorkerIndexFromEnvironment();
      work_options.threads = threads;
      work_options.lease = std::chrono::milliseconds(static_cast<int64_t>(lease_s * 1000));
      work_metrics.Apply(work_options.metrics);
      const RunSummary summary = WorkJob(path, work_options);
      if (!work_options.quiet) std::cout << summary.ToText();
      if (summary.interrupted) {
        std::cerr << "volbatch: worker " << work_options.worker << " stopped by "
                  << (stop_signal == SIGHUP ? "SIGHUP" : "SIGTERM")
                  << " after finishing the blocks in hand\n";
        return 143;
      }
      if (summary.blocks_failed > 0) {
        std::cerr << "volbatch: worker " << work_options.worker << ": " << summary.blocks_failed
                  << " blocks failed (" << summary.failures.front().error << ")\n";
        return kWorkBlocksFailed;
      }
    } else if (*run && prepare_only) {
      if (IsWorkflowFile(path)) {
        // A later step's input does not exist before the earlier steps ran.
        throw InvalidArgument("--prepare: " + path +
                              " is a workflow ([[step]]); prepare takes one job file");
      }
      run_options.threads = threads;
      JobSpec spec = ParseJobFile(path);
      run_metrics.Apply(spec.run.metrics);
      const PreparedJob p = PrepareJob(spec, run_options);
      std::cout << p.job.jobdir << "\n";
    } else if (*run) {
      ::signal(SIGTERM, [](int) { RequestStop(); });
      run_options.threads = threads;
      exec_options.name = executor;
      exec_options.threads = threads;
      exec_options.lease_s = lease_s;
      exec_options.quiet = run_options.quiet;
      // One job through the executor, then its pyramid; 0 when it is complete (or submitted).
      auto run_job = [&](JobSpec spec, const std::string& what) -> int {
        run_metrics.Apply(spec.run.metrics);
        exec_options.table = exec_flags.Table(spec, executor);
        const ExecutorResult r = FindExecutor(executor)(spec, run_options, exec_options);
        for (const auto& m : r.messages) std::cout << m << (m.ends_with("\n") ? "" : "\n");
        if (executor != "local" && !r.submitted_only) std::cout << JobAndEngineStatusText(r.status);
        if (r.restarts) std::cout << "workers restarted: " << r.restarts << "\n";
        if (!r.complete && !r.submitted_only) {
          std::cerr << "volbatch: " << what << r.problem << "; run again to finish them\n";
          return 1;
        }
        if (spec.output.pyramid > 0 && r.submitted_only) {
          // Not `volbatch pyramid`: that would redo the levels the job's blocks write.
          std::cout << "pyramid: once the job is complete, run `volbatch run " << path
                    << " --executor local`: it skips every block done and writes the levels "
                       "the blocks did not\n";
        } else if (spec.output.pyramid > 0) {
          const PyramidResult pr =
              FinishJobPyramid(spec, threads, run_options.quiet, run_options.force);
          std::cout << "pyramid: " << pr.levels.size() << " levels beside " << spec.output.path
                    << " (" << pr.written_by_blocks << " written as blocks finished), described in "
                    << pr.metadata << "\n";
        }
        if (!r.submitted_only) {
          // The report is a view of the run: a problem writing it must not fail the run.
          try {
            std::cout << "report: " << WriteReport(JobDirOf(spec)).path << "\n";
          } catch (const Error& e) {
            std::cerr << "volbatch: no report (" << e.what() << ")\n";
          }
        }
        return 0;
      };
      if (!IsWorkflowFile(path)) return run_job(ParseJobFile(path), "");
      const Workflow w = ParseWorkflowFile(path);
      if (exec_options.detach) {
        throw InvalidArgument("--detach: a workflow's steps run one after the other, so " + path +
                              " cannot be detached; run it without --detach");
      }
      for (size_t i = 0; i < w.steps.size(); ++i) {
        const std::string what = "step " + std::to_string(i + 1) + "/" +
                                 std::to_string(w.steps.size()) + " " + w.steps[i].name;
        if (!run_options.quiet) std::cout << what << ": " << w.steps[i].spec.output.path << "\n";
        if (const int rc = run_job(w.steps[i].spec, what + ": "); rc != 0) return rc;
        if (StopRequested()) {
          std::cerr << "volbatch: stopped after " << what << "; run again to go on\n";
          return 1;
        }
      }
    } else if (*plan) {
      if (IsUrl(plan_target) || fs::exists(plan_target) || Dataset::Exists(plan_target)) {
        plan_options.dataset = plan_target;
      } else {
        plan_options.shape = ParseShapeList(plan_target, "DATASET_OR_SHAPE (no such dataset)");
        plan_options.dtype = ParseDataType(dtype, "--dtype");
      }
      if (!plan_codecs.empty()) {
        plan_options.codecs.clear();
        std::stringstream list(plan_codecs);
        for (std::string c; std::getline(list, c, ',');) plan_options.codecs.push_back(c);
      }
      for (const auto& c : plan_chunks)
        plan_options.chunks.push_back(ParseShapeList(c, "--chunks"));
      plan_options.target_chunk_bytes = ParseByteSize(plan_chunk_bytes, "--chunk-bytes");
      if (!plan_gpu.empty()) plan_options.gpu_memory = ParseByteSize(plan_gpu, "--gpu-memory");
      if (!plan_window.empty()) plan_options.window = ParseShapeList(plan_window, "--window");
      const std::vector<PlanCandidate> cs = PlanStorage(plan_options);
      if (json) {
        nlohmann::json j = nlohmann::json::array();
        for (const auto& c : cs) {
          j.push_back({{"chunks", c.chunks},
                       {"shards", c.shards ? nlohmann::json(*c.shards) : nlohmann::json()},
                       {"codec", c.codec},
                       {"files", c.files},
                       {"files_per_dir", c.files_per_dir},
                       {"chunk_bytes", c.chunk_bytes},
                       {"ratio", c.ratio},
                       {"decode_mb_s", c.decode_mb_s},
                       {"windows_per_block", c.windows_per_block},
                       {"block_memory", c.block_memory},
                       {"gpu_batch", c.gpu_batch},
                       {"problems", c.problems}});
        }
        std::cout << j.dump(2) << "\n";
      } else {
        std::cout << PlanTable(cs);
      }
    } else if (*report) {
      const ReportResult r = WriteReport(path);
      std::cout << "report: " << r.path << " (" << r.charts << " charts, " << r.images
                << " slice previews)\n";
    } else if (*status && fs::is_regular_file(path) && IsWorkflowFile(path)) {
      const nlohmann::json s = WorkflowStatus(ParseWorkflowFile(path));
      std::cout << (json ? s.dump(2) + "\n" : WorkflowStatusText(s));
    } else if (*status && prometheus) {
      std::cout << JobPrometheusText(path);
    } else if (*status) {
      const nlohmann::json s = JobAndEngineStatus(path);
      std::cout << (json ? s.dump(2) + "\n" : JobAndEngineStatusText(s));
    }
  } catch (const Error& e) {
    std::cerr << "volbatch: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "volbatch: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (volbatch::IsSpawnServerCommand(argc, argv)) return volbatch::ServeSpawns(argc, argv, Main);
  volbatch::DeclareSpawnServer(Main);
  return Main(argc, argv);
}
