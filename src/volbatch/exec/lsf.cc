// Writes JOBDIR/lsf/submit.bsub, the LSF job array whose element I runs worker I-1 of N, and
// submits it when bsub is here (see lsf.h).
#include "volbatch/exec/lsf.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <regex>
#include <sstream>

#include "volbatch/core/error.h"
#include "volbatch/engine/job.h"
#include "volbatch/engine/job_dir.h"
#include "volbatch/engine/run.h"
#include "volbatch/exec/command.h"
#include "volbatch/exec/executor.h"
#include "volbatch/exec/processes.h"
#include "volbatch/ops/operator.h"

namespace volbatch {

namespace fs = std::filesystem;

namespace {

constexpr int kMaxElements = 100000;
constexpr int64_t kMB = int64_t{1} << 20;  // LSF's MB is 1024 KB

// table[key] within [lo, hi], or `fallback` (unchecked) when the table lacks it.
int IntIn(ParamTable& t, const std::string& key, int fallback, int lo, int hi) {
  if (!t.Has(key)) return fallback;
  const Index v = t.Integer(key);
  if (v < lo || v > hi) {
    throw t.Bad(key, "must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
                         ", got " + std::to_string(v));
  }
  return static_cast<int>(v);
}

// Names LSF takes as they are in a #BSUB line: letters, digits, '_', '.', '-'.
bool LsfWord(const std::string& s) {
  return !s.empty() && s.size() <= 255 &&
         s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ==
             std::string::npos;
}

std::string DefaultName(const std::string& output) {
  fs::path p = fs::path(output).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  const std::string raw =
      "volbatch-" + p.parent_path().stem().string() + "-" + p.filename().string();
  std::string name;
  for (char c : raw) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.';
    if (ok) {
      name += c;
    } else if (!name.empty() && name.back() != '-') {
      name += '-';
    }
  }
  if (name.size() > 60) name.resize(60);
  while (!name.empty() && name.back() == '-') name.pop_back();
  return name.empty() ? "volbatch" : name;
}

int64_t MemoryBytes(const nlohmann::json& v, const std::string& what) {
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    for (const char* suffix : {"Ki", "Mi", "Gi", "Ti"}) {
      if (s.ends_with(suffix)) return ParseByteSize(s + "B", what);
    }
  }
  return ParseByteSize(v, what);
}

std::string UtcNow() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

std::string LsfTimeLimit(const std::string& time, const std::string& what) {
  std::vector<std::string> parts;
  std::stringstream in(time);
  for (std::string p; std::getline(in, p, ':');) parts.push_back(p);
  if (!time.empty() && time.back() == ':') parts.push_back("");
  const auto bad = [&](const std::string& why) {
    return InvalidArgument(what + ": \"" + time + "\" is not HH:MM or HH:MM:SS" +
                           (why.empty() ? "" : " (" + why + ")"));
  };
  if (parts.size() != 2 && parts.size() != 3) throw bad("");
  std::vector<int64_t> v;
  for (const auto& p : parts) {
    if (p.empty() || p.size() > 6 || p.find_first_not_of("0123456789") != std::string::npos) {
      throw bad("");
    }
    v.push_back(std::stoll(p));
  }
  if (v[1] >= 60) throw bad("minutes must be below 60");
  if (v.size() == 3 && v[2] >= 60) throw bad("seconds must be below 60");
  const int64_t minutes = v[0] * 60 + v[1] + (v.size() == 3 && v[2] > 0 ? 1 : 0);
  if (minutes == 0) throw bad("a limit of no time");
  const int64_t h = minutes / 60, m = minutes % 60;
  if (h == 0) return std::to_string(m);
  return std::to_string(h) + ":" + (m < 10 ? "0" : "") + std::to_string(m);
}

LsfSettings ReadLsfSettings(const nlohmann::json& table) {
  ParamTable t(table, 0, "run.lsf");
  LsfSettings s;
  // Every key is read (and a typo reported) before the values are checked.
  s.name = t.String("name", "");
  s.queue = t.String("queue", "");
  const std::string time = t.String("time", "");
  const nlohmann::json* memory = t.Raw("memory");
  s.gpus = IntIn(t, "gpus", 0, 0, 1024);
  s.project = t.String("project", "");
  s.array_limit = IntIn(t, "array_limit", 0, 1, kMaxElements);
  const nlohmann::json* extra = t.Raw("extra");
  s.volbatch = t.String("volbatch", "");
  t.Finish();

  for (const auto& [key, value] : {std::pair<const char*, const std::string&>{"name", s.name},
                                   {"queue", s.queue},
                                   {"project", s.project}}) {
    if (!value.empty() && !LsfWord(value)) {
      throw t.Bad(key,
                  "\"" + value + "\" is not a name LSF takes (letters, digits, '_', '.', '-')");
    }
  }
  if (t.Has("time")) s.time = LsfTimeLimit(time, "[run.lsf] time");
  if (memory) s.memory = MemoryBytes(*memory, "[run.lsf] memory");
  if (extra) {
    if (!extra->is_array()) throw t.Bad("extra", "must be a list of strings (#BSUB options)");
    for (const auto& e : *extra) {
      if (!e.is_string()) throw t.Bad("extra", "must be a list of strings, not " + e.dump());
      const std::string line = e.get<std::string>();
      if (line.empty() || line.find_first_of("\n\r") != std::string::npos) {
        throw t.Bad("extra", "each entry is one #BSUB line: " + e.dump());
      }
      s.extra.push_back(line);
    }
  }
  return s;
}

std::string LsfScript(const LsfSettings& s, const LsfJob& job) {
  if (job.workers < 1 || job.workers > kMaxElements) {
    throw InvalidArgument("--workers: the lsf executor runs between 1 and " +
                          std::to_string(kMaxElements) + " array elements, got " +
                          std::to_string(job.workers));
  }
  if (s.memory > 0 && job.memory_budget > s.memory) {
    throw InvalidArgument("[run.lsf] memory: " + std::to_string((s.memory + kMB - 1) / kMB) +
                          " MB per worker is less than the workers' memory budget of " +
                          std::to_string((job.memory_budget + kMB - 1) / kMB) +
                          " MB ([run] memory, default 2GiB): raise it or lower [run] memory");
  }
  const std::string n = std::to_string(job.workers);
  const std::string name = s.name.empty() ? DefaultName(job.output) : s.name;
  std::string out = "#!/bin/bash\n";
  const auto bsub = [&](const std::string& option) { out += "#BSUB " + option + "\n"; };
  bsub("-J " + name + "[1-" + n + "]" +
       (s.array_limit > 0 ? "%" + std::to_string(s.array_limit) : ""));
  bsub("-o " + ShellQuote((fs::path(job.jobdir) / "logs" / "lsf-%J_%I.out").string()));
  bsub("-n " + std::to_string(job.threads));
  bsub("-R \"span[hosts=1]\"");
  if (!s.queue.empty()) bsub("-q " + s.queue);
  if (!s.time.empty()) bsub("-W " + s.time);
  if (s.memory > 0) {
    // Units given, so LSF_UNIT_FOR_LIMITS does not matter.
    const std::string mb = std::to_string((s.memory + kMB - 1) / kMB) + "MB";
    bsub("-M " + mb);
    bsub("-R \"rusage[mem=" + mb + "]\"");
  }
  if (s.gpus > 0) bsub("-gpu \"num=" + std::to_string(s.gpus) + "\"");
  if (!s.project.empty()) bsub("-P " + s.project);
  for (const auto& e : s.extra) bsub(e);
  out += "#\n# Written by `volbatch run --executor lsf`: an LSF job array of " + n +
         " elements; element I runs\n# worker I-1 of " + n + " on the job directory " + job.jobdir +
         " (a shared filesystem).\n# Submit: bsub < " +
         ShellQuote((fs::path(job.jobdir) / "lsf" / "submit.bsub").string()) +
         "\n# Follow: volbatch status " + ShellQuote(job.jobdir) + "\n";
  out += ": \"${LSB_JOBINDEX:?not an LSF array element: submit this file with bsub}\"\n";
  const std::string kIndex = "$((LSB_JOBINDEX - 1))";
  out += "exec " + ShellQuote(s.volbatch.empty() ? job.executable : s.volbatch);
  for (const auto& a :
       WorkArguments(job.jobdir, kIndex, job.workers, job.threads, job.lease_s, job.metrics)) {
    out += " " + (a == kIndex ? a : ShellQuote(a));
  }
  return out + "\n";
}

std::optional<std::string> BsubJobId(const std::string& output) {
  static const std::regex kSubmitted("Job <([0-9]+)> is submitted");
  std::smatch m;
  if (std::regex_search(output, m, kSubmitted)) return m[1].str();
  return std::nullopt;
}

namespace {

ExecutorResult RunLsf(const JobSpec& spec, const RunOptions& run, const ExecutorOptions& o) {
  // Everything in the table is checked before anything is written.
  const LsfSettings settings = ReadLsfSettings(o.table);
  const int workers = ResolveWorkers(o, 0, kMaxElements, "array elements");
  PreparedJob p = PrepareJob(spec, run);
  const ResolvedJob& r = p.job;
  LsfJob job;
  job.jobdir = r.jobdir;
  job.output = r.output_path;
  job.executable = WorkerExecutable(o);
  job.workers = workers;
  job.threads = o.threads > 0 ? o.threads : spec.run.threads > 0 ? spec.run.threads : 1;
  job.lease_s = o.lease_s;
  job.metrics = spec.run.metrics;
  job.memory_budget = r.memory;
  const JobDir dir(r.jobdir);
  const std::string text = LsfScript(settings, job);
  const std::string script = dir.WriteText("lsf/submit.bsub", text, 0755);
  // LSF writes each element's output there and may not create the directory.
  std::error_code ec;
  fs::create_directories(fs::path(r.jobdir) / "logs", ec);
  if (ec) throw IoError(r.jobdir + "/logs: cannot create the directory: " + ec.message());

  ExecutorResult result = ResultFromStatus(r.jobdir);
  result.submitted_only = true;
  const std::string submit = "bsub < " + ShellQuote(script);
  result.messages.push_back("wrote " + script + ": an LSF job array of " +
                            std::to_string(job.workers) + " elements");
  if (!OnPath("bsub")) {
    result.messages.push_back("no bsub on this machine: submit with `" + submit + "`");
  } else {
    // `bsub < FILE`: the #BSUB lines are read from the script on stdin.
    const CommandResult c = RunCommand({"bsub"}, text, std::chrono::minutes(2));
    std::string output = c.out + (c.out.empty() || c.err.empty() ? "" : " ") + c.err;
    while (!output.empty() && std::isspace(static_cast<unsigned char>(output.back()))) {
      output.pop_back();
    }
    std::replace(output.begin(), output.end(), '\n', ' ');
    const std::optional<std::string> id = BsubJobId(c.out + c.err);
    if (c.exit_code != 0 || !id) {
      throw FailedPrecondition(
          "`" + submit + "` failed: " +
          (c.exit_code != 0 ? c.Describe("bsub") : "no \"Job <ID> is submitted\" in: " + output));
    }
    nlohmann::json jobs = dir.ReadJson("lsf/jobs.json").value_or(nlohmann::json::array());
    if (!jobs.is_array()) jobs = nlohmann::json::array();
    jobs.push_back({{"job", *id},
                    {"script", script},
                    {"workers", job.workers},
                    {"submitted", UtcNow()},
                    {"bsub", output}});
    dir.WriteJson("lsf/jobs.json", jobs);
    result.messages.push_back("submitted LSF job " + *id + " (" + output + "); recorded in " +
                              r.jobdir + "/lsf/jobs.json");
  }
  result.messages.push_back("follow it with: volbatch status " + ShellQuote(r.jobdir));
  return result;
}

// For `volbatch status`: the LSF jobs submitted for this job directory, from lsf/jobs.json.
std::optional<nlohmann::json> LsfStatus(const std::string& jobdir) {
  try {
    const JobDir dir(jobdir);
    const auto jobs = dir.ReadJson("lsf/jobs.json");
    if (jobs && jobs->is_array() && !jobs->empty()) {
      const auto& last = jobs->back();
      const std::string id = last.value("job", std::string("?"));
      return nlohmann::json{
          {"jobs", *jobs},
          {"summary", "job " + id + " submitted " + last.value("submitted", std::string("?")) +
                          " (bjobs " + id + " shows it)"}};
    }
    const fs::path script = fs::path(jobdir) / "lsf" / "submit.bsub";
    if (fs::exists(script)) {
      return nlohmann::json{
          {"script", script.string()},
          {"summary", "written, not submitted: bsub < " + ShellQuote(script.string())}};
    }
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

}  // namespace

void RegisterLsfExecutor() { RegisterExecutor("lsf", RunLsf, LsfStatus); }

}  // namespace volbatch
