#include "volbatch/exec/slurm.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "volbatch/core/error.h"
#include "volbatch/engine/job_dir.h"
#include "volbatch/engine/run.h"
#include "volbatch/exec/command.h"
#include "volbatch/exec/executor.h"
#include "volbatch/exec/ledger_progress.h"
#include "volbatch/exec/processes.h"
#include "volbatch/exec/restart_policy.h"
#include "volbatch/exec/worker_output.h"

namespace volbatch {

namespace fs = std::filesystem;

void ReadSlurmTable(ParamTable& t, SlurmSettings& s) {
  s.partition = t.String("partition", "");
  s.time = t.String("time", "");
  if (s.time.find_first_not_of("0123456789:-") != std::string::npos) {
    throw t.Bad("time", "\"" + s.time + "\" is not a Slurm time (minutes, HH:MM:SS, D-HH:MM)");
  }
  if (const auto* m = t.Raw("memory"))
    s.memory_mib = (ParseByteSize(*m, "[run.slurm] memory") + (1 << 20) - 1) >> 20;
  s.gpus = static_cast<int>(t.Integer("gpus", 0));
  if (s.gpus < 0 || s.gpus > 64) throw t.Bad("gpus", "must be between 0 and 64");
  s.account = t.String("account", "");
  s.qos = t.String("qos", "");
  s.constraint = t.String("constraint", "");
  if (t.Has("name")) s.name = t.String("name");
  s.array_limit = static_cast<int>(t.Integer("array_limit", 0));
  if (s.array_limit < 0) throw t.Bad("array_limit", "must be 0 (no limit) or more");
  s.signal_s = static_cast<int>(t.Integer("signal_s", 120));
  if (s.signal_s < 0 || s.signal_s > 65535) throw t.Bad("signal_s", "must be 0 to 65535");
  if (t.Has("cpus_per_task")) {
    s.threads = static_cast<int>(t.Integer("cpus_per_task"));
    if (s.threads < 1 || s.threads > 4096) throw t.Bad("cpus_per_task", "must be 1 to 4096");
  }
  if (const auto* e = t.Raw("extra")) {
    if (!e->is_array()) throw t.Bad("extra", "must be a list of sbatch options");
    for (const auto& line : *e) {
      if (!line.is_string() || line.get<std::string>().rfind("--", 0) != 0 ||
          line.get<std::string>().find('\n') != std::string::npos) {
        throw t.Bad("extra", line.dump() + " is not one sbatch option (\"--mail-type=END\")");
      }
      s.extra.push_back(line.get<std::string>());
    }
  }
  for (const std::string* v : {&s.partition, &s.account, &s.qos, &s.constraint, &s.name}) {
    if (v->find_first_of("\n\r") != std::string::npos) {
      throw InvalidArgument("[run.slurm]: values must be one line");
    }
  }
  t.Finish();
}

std::string SlurmBatchScript(const SlurmSettings& s) {
  std::ostringstream o;
  o << "#!/bin/bash\n"
    << "# Written by volbatch: " << s.workers << " workers of the job in " << s.jobdir << ".\n"
    << "# `volbatch run JOB --executor slurm` submits and follows it; to rerun chosen tasks by\n"
    << "# hand: sbatch --array=I,J " << s.jobdir << "/slurm/submit.sbatch\n";
  auto line = [&](const std::string& option) { o << "#SBATCH " << option << "\n"; };
  line("--job-name=" + s.name);
  line("--array=0-" + std::to_string(s.workers - 1) +
       (s.array_limit > 0 ? "%" + std::to_string(s.array_limit) : ""));
  line("--ntasks=1");
  line("--cpus-per-task=" + std::to_string(s.threads));
  // A requeued task (preemption, node failure, scontrol requeue) resumes where the job is:
  // the ledgers say what is done.
  line("--requeue");
  // SIGTERM to the batch shell, which `exec` made volbatch itself: it finishes the blocks in
  // hand before the time limit's SIGKILL.
  if (s.signal_s > 0) line("--signal=B:TERM@" + std::to_string(s.signal_s));
  line("--output=" + s.jobdir + "/logs/slurm-%A_%a.out");
  line("--open-mode=append");
  if (!s.partition.empty()) line("--partition=" + s.partition);
  if (!s.time.empty()) line("--time=" + s.time);
  if (s.memory_mib > 0) line("--mem=" + std::to_string(s.memory_mib) + "M");
  if (s.gpus > 0) line("--gres=gpu:" + std::to_string(s.gpus));
  if (!s.account.empty()) line("--account=" + s.account);
  if (!s.qos.empty()) line("--qos=" + s.qos);
  if (!s.constraint.empty()) line("--constraint=" + s.constraint);
  for (const auto& e : s.extra) line(e);
  o << "\nexec " << ShellQuote(s.executable);
  for (const auto& a : WorkArguments(s.jobdir, "\"$SLURM_ARRAY_TASK_ID\"", s.workers, s.threads,
                                     s.lease_s, s.metrics)) {
    o << " " << (a == "\"$SLURM_ARRAY_TASK_ID\"" ? a : ShellQuote(a));
  }
  o << "\n";
  return o.str();
}

namespace {

std::string Field(const std::string& line, const std::string& key) {
  const std::string k = key + "=";
  size_t at = 0;
  while ((at = line.find(k, at)) != std::string::npos) {
    if (at == 0 || line[at - 1] == ' ') {
      const size_t start = at + k.size();
      return line.substr(start, line.find(' ', start) - start);
    }
    at += k.size();
  }
  return "";
}

}  // namespace

std::map<int, SlurmTask> ParseArrayTasks(const std::string& output) {
  std::map<int, SlurmTask> tasks;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    std::string ids = Field(line, "ArrayTaskId");
    if (ids.empty()) continue;
    ids = ids.substr(0, ids.find('%'));
    SlurmTask t;
    t.state = Field(line, "JobState");
    const std::string exit = Field(line, "ExitCode");  // "code:signal"
    try {
      t.exit_code = std::stoi(exit.substr(0, exit.find(':')));
      t.signal = std::stoi(exit.substr(exit.find(':') + 1));
    } catch (const std::exception&) {
    }
    std::istringstream parts(ids);
    for (std::string part; std::getline(parts, part, ',');) {
      try {
        const size_t dash = part.find('-');
        const int lo = std::stoi(part.substr(0, dash));
        const int hi = dash == std::string::npos ? lo : std::stoi(part.substr(dash + 1));
        for (int i = lo; i <= hi && i - lo < (1 << 20); ++i) tasks[i] = t;
      } catch (const std::exception&) {
      }
    }
  }
  return tasks;
}

bool SlurmStateIsActive(const std::string& state) {
  static const std::set<std::string> kActive = {
      "PENDING",     "RUNNING",      "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUED",
      "REQUEUE_FED", "REQUEUE_HOLD", "RESIZING",    "SIGNALING",  "STAGE_OUT", "STOPPED"};
  return kActive.count(state) > 0;
}

std::string ArrayRanges(const std::vector<int>& indices) {
  std::vector<int> v = indices;
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  std::string out;
  for (size_t i = 0; i < v.size();) {
    size_t j = i;
    while (j + 1 < v.size() && v[j + 1] == v[j] + 1) ++j;
    out += (out.empty() ? "" : ",") + std::to_string(v[i]) +
           (j > i ? "-" + std::to_string(v[j]) : std::string());
    i = j + 1;
  }
  return out;
}

namespace {

struct Submission {
  std::string job_id;
  std::vector<int> indices;
};

// The latest submission's state of every task index.
std::map<int, SlurmTask> TaskStates(const std::vector<Submission>& subs) {
  std::map<int, SlurmTask> latest;
  for (const Submission& s : subs) {
    const CommandResult r = RunCommand({"scontrol", "show", "job", "-o", s.job_id});
    std::map<int, SlurmTask> tasks;
    if (r.exit_code == 0) tasks = ParseArrayTasks(r.out);
    for (int i : s.indices) {
      auto it = tasks.find(i);
      // A job Slurm has forgotten (older than MinJobAge) ended long ago.
      latest[i] = it != tasks.end() ? it->second : SlurmTask{"UNKNOWN", 0, 0};
    }
  }
  return latest;
}

std::string SanitizedName(const std::string& output_path) {
  std::string base = fs::path(output_path).filename().string();
  if (base.empty()) base = "job";
  for (char& c : base) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') c = '_';
  }
  return "volbatch-" + base;
}

nlohmann::json SubmissionsJson(const SlurmSettings& s, const std::vector<Submission>& subs,
                               const std::string& script) {
  nlohmann::json j = {{"script", script}, {"workers", s.workers}, {"name", s.name}};
  j["submissions"] = nlohmann::json::array();
  for (const auto& sub : subs) {
    j["submissions"].push_back({{"job_id", sub.job_id},
                                {"array", ArrayRanges(sub.indices)},
                                {"time", static_cast<int64_t>(std::time(nullptr))}});
  }
  return j;
}

std::string Submit(const std::string& script, const std::vector<int>& indices) {
  const CommandResult r =
      RunCommand({"sbatch", "--parsable", "--array=" + ArrayRanges(indices), script});
  if (r.exit_code != 0) {
    throw FailedPrecondition("cannot submit " + script + " (" + r.Describe("sbatch") + ")");
  }
  std::string id = r.out.substr(0, r.out.find_first_of(";\n"));
  if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos) {
    throw FailedPrecondition("sbatch printed \"" + r.out + "\", not a job id");
  }
  return id;
}

std::string StateText(const SlurmTask& t) {
  return t.state == "FAILED" ? t.state + " (exit " + std::to_string(t.exit_code) + ")" : t.state;
}

// What the executor knows of one array task index across its submissions.
struct TaskHistory {
  RestartPolicy policy;
  std::string job_id;            // of its latest submission
  size_t records_at_submit = 0;  // its ledger's records when it was last submitted
  bool given_up = false;
};

// The tasks that died (not those that finished their share with failed blocks, which a rerun
// would fail again), by RestartPolicy: those to submit again, after `delay`, and one line for
// each given up.
struct Resubmission {
  std::vector<int> again;
  std::string states;  // "1 FAILED (exit 1), 3 CANCELLED"
  RestartPolicy::Duration delay{0};
  std::vector<std::string> given_up;
};

Resubmission DecideResubmission(const std::string& jobdir, const std::map<int, SlurmTask>& tasks,
                                std::vector<TaskHistory>& history) {
  Resubmission r;
  for (const auto& [i, t] : tasks) {
    TaskHistory& h = history.at(static_cast<size_t>(i));
    const bool finished =
        t.state == "COMPLETED" || (t.state == "FAILED" && t.exit_code == kWorkBlocksFailed);
    if (finished || h.given_up) continue;
    const RestartPolicy::Decision d = h.policy.Died(LedgerRecords(jobdir, i) > h.records_at_submit);
    if (!d.restart) {
      h.given_up = true;
      const std::string task = h.job_id + "_" + std::to_string(i);
      const std::string log = jobdir + "/logs/slurm-" + task + ".out";
      const std::string last = LastLineOfFile(log);
      r.given_up.push_back(
          "Slurm array task " + std::to_string(i) + " (job " + task + ") died " +
          std::to_string(d.deaths_in_a_row) + " times without recording a block (" + StateText(t) +
          "); not resubmitting it; " +
          (last.empty() ? "nothing in " + log
                        : "its last line (" + log + "): \"" + Shortened(last) + "\""));
      continue;
    }
    r.again.push_back(i);
    r.states += (r.states.empty() ? "" : ", ") + std::to_string(i) + " " + StateText(t);
    r.delay = std::max(r.delay, d.delay);
  }
  return r;
}

std::string SecondsText(RestartPolicy::Duration d) {
  std::ostringstream o;
  o << static_cast<double>(d.count()) / 1000 << " s";
  return o.str();
}

ExecutorResult RunSlurm(const JobSpec& spec, const RunOptions& run, const ExecutorOptions& o) {
  SlurmSettings s;
  ParamTable table(o.table, 0, "run.slurm");
  ReadSlurmTable(table, s);
  if (!OnPath("sbatch")) {
    throw FailedPrecondition("--executor slurm: sbatch is not on PATH (is Slurm installed here?)");
  }
  PreparedJob p = PrepareJob(spec, run);
  const Index total = JobStatus(p.job.jobdir)["blocks_total"].get<Index>();
  s.jobdir = p.job.jobdir;
  s.executable = WorkerExecutable(o);
  s.workers =
      ResolveWorkers(o, static_cast<int>(std::clamp<Index>(total, 1, 8)), 100000, "array tasks");
  if (o.threads > 0) s.threads = o.threads;
  s.lease_s = o.lease_s;
  s.metrics = spec.run.metrics;
  if (s.name.empty()) s.name = SanitizedName(p.job.output_path);
  const JobDir dir(s.jobdir);
  fs::create_directories(fs::path(s.jobdir) / "logs");
  const std::string script = dir.WriteText("slurm/submit.sbatch", SlurmBatchScript(s), 0755);

  std::vector<int> all(static_cast<size_t>(s.workers));
  for (int i = 0; i < s.workers; ++i) all[static_cast<size_t>(i)] = i;
  std::vector<TaskHistory> history(static_cast<size_t>(s.workers));
  // Ledger sizes before the tasks can start: a record one appends counts as its own.
  auto submit = [&](const std::vector<int>& indices) {
    for (int i : indices) {
      history[static_cast<size_t>(i)].records_at_submit = LedgerRecords(s.jobdir, i);
    }
    Submission sub{Submit(script, indices), indices};
    for (int i : indices) history[static_cast<size_t>(i)].job_id = sub.job_id;
    return sub;
  };
  std::vector<Submission> subs = {submit(all)};
  dir.WriteJson("slurm/jobs.json", SubmissionsJson(s, subs, script));
  ExecutorResult result;
  result.messages.push_back("submitted Slurm job " + subs[0].job_id + " (array 0-" +
                            std::to_string(s.workers - 1) + ", " + script + ")");
  if (o.detach) {
    result.submitted_only = true;
    result.status = JobStatus(s.jobdir);
    result.messages.push_back("follow it with: volbatch status " + s.jobdir);
    return result;
  }

  LedgerProgress progress(s.jobdir, !o.quiet);
  std::vector<std::string> reasons;     // why tasks were not submitted again, in order
  std::optional<Resubmission> waiting;  // decided; submitted once its pause is over
  auto resubmit_at = std::chrono::steady_clock::now();
  std::set<std::string> cancelled_pending;
  while (true) {
    progress.Poll();
    const bool all_done = progress.done() >= static_cast<size_t>(progress.total());
    if (StopRequested()) {
      for (const auto& sub : subs) RunCommand({"scancel", sub.job_id});
      reasons.push_back("stopped by SIGTERM; the array's tasks were cancelled");
      break;
    }
    const std::map<int, SlurmTask> tasks = TaskStates(subs);
    bool active = false;
    for (const auto& [i, t] : tasks) {
      if (!SlurmStateIsActive(t.state)) continue;
      // Nothing is left to do: a task still pending (requeued with a begin time ahead) would
      // only start to find every block done.
      if (all_done && t.state == "PENDING") {
        for (const auto& sub : subs) {
          if (std::find(sub.indices.begin(), sub.indices.end(), i) == sub.indices.end()) continue;
          const std::string task = sub.job_id + "_" + std::to_string(i);
          if (cancelled_pending.insert(task).second) RunCommand({"scancel", task});
        }
        continue;
      }
      active = true;
    }
    if (!active) {
      progress.Poll();
      if (progress.done() >= static_cast<size_t>(progress.total())) break;
      if (!waiting) {
        Resubmission r = DecideResubmission(s.jobdir, tasks, history);
        for (const auto& line : r.given_up) {
          progress.Finish();
          std::cerr << "volbatch: " << line << "\n";  // even when quiet, as the pools do
          reasons.push_back(line);
        }
        if (r.again.empty()) break;
        if (result.restarts >= o.restarts) {
          reasons.push_back("array tasks " + r.states + " after " +
                            std::to_string(result.restarts) + " resubmissions");
          break;
        }
        resubmit_at = std::chrono::steady_clock::now() + r.delay;
        progress.Finish();
        if (!o.quiet) {
          std::cerr << "volbatch: Slurm tasks " << r.states << "; submitting "
                    << ArrayRanges(r.again) << " again"
                    << (r.delay.count() > 0 ? " in " + SecondsText(r.delay) : "") << " ("
                    << result.restarts + 1 << " of " << o.restarts << ")\n";
        }
        waiting = std::move(r);
      }
      if (std::chrono::steady_clock::now() >= resubmit_at) {
        ++result.restarts;
        subs.push_back(submit(waiting->again));
        dir.WriteJson("slurm/jobs.json", SubmissionsJson(s, subs, script));
        result.messages.push_back("resubmitted tasks " + ArrayRanges(waiting->again) +
                                  " as Slurm job " + subs.back().job_id);
        waiting.reset();
      }
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  progress.Finish();
  RemoveOrphans(p);
  ExecutorResult r = ResultFromStatus(s.jobdir);
  r.messages = std::move(result.messages);
  r.restarts = result.restarts;
  if (!reasons.empty()) {
    std::string gave_up = reasons.front();
    if (reasons.size() > 1) gave_up += "; and " + std::to_string(reasons.size() - 1) + " more";
    r.status["gave_up"] = gave_up;
    if (!r.complete) r.problem += " (" + gave_up + ")";
  }
  return r;
}

std::optional<nlohmann::json> SlurmStatus(const std::string& jobdir) {
  const auto jobs = JobDir(jobdir).ReadJson("slurm/jobs.json");
  if (!jobs) return std::nullopt;
  nlohmann::json j = *jobs;
  std::vector<Submission> subs;
  try {
    for (const auto& sub : jobs->at("submissions")) {
      Submission s{sub.at("job_id").get<std::string>(), {}};
      const std::string array = sub.at("array").get<std::string>();
      for (const auto& [i, t] : ParseArrayTasks("ArrayTaskId=" + array)) s.indices.push_back(i);
      subs.push_back(s);
    }
  } catch (const nlohmann::json::exception& e) {
    throw DataLoss(jobdir + "/slurm/jobs.json: malformed (" + e.what() + ")");
  }
  std::string summary = "job";
  for (const auto& sub : subs) summary += " " + sub.job_id;
  if (!OnPath("scontrol")) {
    j["summary"] = summary + " (scontrol is not on PATH here: task states unknown)";
    return j;
  }
  std::map<std::string, int> counts;
  nlohmann::json tasks = nlohmann::json::object();
  for (const auto& [i, t] : TaskStates(subs)) {
    ++counts[t.state];
    tasks[std::to_string(i)] = {{"state", t.state}, {"exit_code", t.exit_code}};
  }
  j["tasks"] = tasks;
  summary += ":";
  const char* sep = " ";
  for (const auto& [state, n] : counts) {
    summary += sep + std::to_string(n) + " " + state;
    sep = ", ";
  }
  j["summary"] = summary;
  return j;
}

}  // namespace

void RegisterSlurmExecutor() { RegisterExecutor("slurm", RunSlurm, SlurmStatus); }

}  // namespace volbatch
