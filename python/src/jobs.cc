// Jobs from Python: the native half of volbatch.run / prepare / work / status / blocks, so that
// a Python program, or a Dask or Parsl app, drives a job through the same engine and the same
// job directory as `volbatch run` and `volbatch work` (python/volbatch/_jobs.py turns a job given
// as a path, TOML text or a dict into the `kind, text` pair taken here).
//
// Everything that runs blocks releases the GIL: the engine's threads compute while the calling
// process's other Python threads (a Dask worker's heartbeats, a progress bar) keep running.
#include <pybind11/stl.h>

#include <nlohmann/json.hpp>
#include <string>

#include "bindings.h"
#include "volbatch/core/error.h"
#include "volbatch/engine/job.h"
#include "volbatch/engine/job_dir.h"
#include "volbatch/engine/ledger.h"
#include "volbatch/engine/pyramid.h"
#include "volbatch/engine/run.h"
#include "volbatch/engine/work.h"
#include "volbatch/exec/executor.h"
#include "volbatch/exec/processes.h"
#include "volbatch/tile/block_grid.h"

namespace py = pybind11;

namespace volbatch::python {
namespace {

// JSON crosses the boundary as text; the Python half calls json.loads / json.dumps.
nlohmann::json Parse(const std::string& text, const char* what) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) throw InvalidArgument(std::string(what) + ": not JSON");
  return j;
}

JobSpec ParseJob(const std::string& kind, const std::string& text) {
  if (kind == "file") return ParseJobFile(text);
  if (kind == "toml") return ParseJobToml(text, "job (TOML text)");
  if (kind == "dict") return ParseJobJson(Parse(text, "job"), "job (dict)");
  throw Internal("volbatch._run: unknown job kind \"" + kind + "\"");
}

std::string Run(const std::string& kind, const std::string& text, const std::string& executor,
                int workers, int threads, bool resume, bool force, bool quiet, double lease_s,
                int restarts, const std::string& executable) {
  const JobSpec spec = ParseJob(kind, text);
  RunOptions run;
  run.threads = threads;
  run.resume = resume;
  run.force = force;
  run.quiet = quiet;
  ExecutorOptions o;
  o.name = executor;
  o.workers = workers;
  o.threads = threads;
  o.lease_s = lease_s;
  o.quiet = quiet;
  o.restarts = restarts;
  o.executable = executable;
  o.table = spec.run.executors.value(executor, nlohmann::json::object());
  const Executor& execute = FindExecutor(executor);
  ExecutorResult r;
  {
    py::gil_scoped_release release;
    r = execute(spec, run, o);
  }
  nlohmann::json j = r.status;
  // Like `volbatch run`: the levels the blocks did not write, then the pyramid's metadata.
  if (r.complete && !r.submitted_only && spec.output.pyramid > 0) {
    PyramidResult p;
    {
      py::gil_scoped_release release;
      p = FinishJobPyramid(spec, threads, quiet, force);
    }
    j["pyramid"] = {
        {"levels", p.levels}, {"metadata", p.metadata}, {"written_by_blocks", p.written_by_blocks}};
  }
  j["complete"] = r.complete;
  j["submitted_only"] = r.submitted_only;
  j["restarts"] = r.restarts;
  j["messages"] = r.messages;
  j["problem"] = r.problem;
  return j.dump();
}

std::string Prepare(const std::string& kind, const std::string& text, int threads, bool resume,
                    bool force) {
  const JobSpec spec = ParseJob(kind, text);
  RunOptions run;
  run.threads = threads;
  run.resume = resume;
  run.force = force;
  py::gil_scoped_release release;
  return PrepareJob(spec, run).job.jobdir;
}

std::string Work(const std::string& jobdir, int worker, int of, int threads, double lease_s,
                 bool quiet) {
  if (of < 1) throw InvalidArgument("of: the number of workers must be at least 1");
  if (worker < 0 || worker >= of) {
    throw InvalidArgument("worker: must be between 0 and " + std::to_string(of - 1) + ", got " +
                          std::to_string(worker));
  }
  if (!(lease_s > 0)) throw InvalidArgument("lease: must be positive seconds");
  WorkOptions o;
  o.worker = worker;
  o.of = of;
  o.threads = threads;
  o.quiet = quiet;
  o.lease = std::chrono::milliseconds(static_cast<int64_t>(lease_s * 1000));
  py::gil_scoped_release release;
  return WorkJob(jobdir, o).ToJson().dump();
}

std::string Status(const std::string& jobdir) {
  py::gil_scoped_release release;
  return JobAndEngineStatus(jobdir).dump();
}

// After every worker has exited (what the executors do once their workers are gone): claims
// and chunk temporaries left by workers that died have no owner any more.
void Cleanup(const std::string& jobdir) {
  py::gil_scoped_release release;
  PreparedJob p = OpenPreparedJob(jobdir, 0);
  RemoveOrphans(p);
}

// The blocks of a job directory that are not done, with their write regions (output space,
// spatial axes: the channel axis, if any, is whole in every block).
std::string Blocks(const std::string& jobdir, bool include_done) {
  py::gil_scoped_release release;
  const auto job = JobDir(jobdir).ReadJob();
  if (!job) throw NotFound(jobdir + ": not a job directory (no job.json)");
  std::optional<BlockGrid> stored;
  try {
    stored = IdentityBlockGrid(job->at("identity"));
  } catch (const nlohmann::json::exception& e) {
    throw DataLoss(jobdir + "/job.json: missing or malformed field (" + e.what() + ")");
  }
  const BlockGrid& grid = *stored;
  const LedgerState state = ReadLedgers(jobdir);
  nlohmann::json list = nlohmann::json::array();
  for (Index b = 0; b < grid.num_blocks(); ++b) {
    const auto it = state.latest.find(b);
    const bool done = it != state.latest.end() && it->second.status == BlockStatus::kDone;
    if (done && !include_done) continue;
    const Box box = grid.BlockBox(b);
    Shape end(box.rank());
    for (size_t i = 0; i < box.rank(); ++i) end[i] = box.end(i);
    nlohmann::json entry = {{"block", b}, {"begin", box.begin}, {"end", end}, {"done", done}};
    entry["failed"] = it != state.latest.end() && it->second.status == BlockStatus::kFailed;
    list.push_back(std::move(entry));
  }
  return list.dump();
}

}  // namespace

void BindJobs(py::module_& m) {
  m.def("_run", &Run, py::arg("kind"), py::arg("text"), py::arg("executor"), py::arg("workers"),
        py::arg("threads"), py::arg("resume"), py::arg("force"), py::arg("quiet"), py::arg("lease"),
        py::arg("restarts"), py::arg("executable"));
  m.def("_prepare", &Prepare, py::arg("kind"), py::arg("text"), py::arg("threads"),
        py::arg("resume"), py::arg("force"));
  m.def("_work", &Work, py::arg("jobdir"), py::arg("worker"), py::arg("of"), py::arg("threads"),
        py::arg("lease"), py::arg("quiet"));
  m.def("_status", &Status, py::arg("jobdir"));
  m.def("_cleanup", &Cleanup, py::arg("jobdir"));
  m.def("_blocks", &Blocks, py::arg("jobdir"), py::arg("include_done"));
  m.def("_executors", &RegisteredExecutors);
}

}  // namespace volbatch::python
