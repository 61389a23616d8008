// Writes JOBDIR/k8s/job.yaml, the Kubernetes Indexed Job whose pod I runs worker I of N, and
// optionally applies it with kubectl (see k8s.h). No API server is contacted otherwise.
#include "volbatch/exec/k8s.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "volbatch/core/error.h"
#include "volbatch/engine/job.h"
#include "volbatch/engine/job_dir.h"
#include "volbatch/engine/run.h"
#include "volbatch/exec/command.h"
#include "volbatch/exec/executor.h"
#include "volbatch/exec/processes.h"
#include "volbatch/kvstore/location.h"
#include "volbatch/ops/operator.h"

namespace volbatch {

namespace fs = std::filesystem;

namespace {

constexpr int kMaxPods = 100000;  // Kubernetes' limit on an Indexed Job's completions
constexpr const char* kIndexAnnotation = "batch.kubernetes.io/job-completion-index";

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

// A Secret's name: a DNS-1123 subdomain (labels joined by '.', at most 253).
bool IsDnsSubdomain(const std::string& s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  while (true) {
    const size_t dot = s.find('.', start);
    const std::string label = s.substr(start, dot == std::string::npos ? dot : dot - start);
    if (label.empty()) return false;
    for (char c : label) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
    }
    if (label.front() == '-' || label.back() == '-') return false;
    if (dot == std::string::npos) return true;
    start = dot + 1;
  }
}

bool IsDnsLabel(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return s.front() != '-' && s.back() != '-';
}

// "16Gi" (a Kubernetes quantity) as ParseByteSize reads it ("16GiB"), so both spellings work.
int64_t MemoryBytes(const nlohmann::json& v, const std::string& what) {
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    for (const char* suffix : {"Ki", "Mi", "Gi", "Ti"}) {
      if (s.ends_with(suffix)) return ParseByteSize(s + "B", what);
    }
  }
  return ParseByteSize(v, what);
}

// The deepest directory holding every path (all absolute and normal).
fs::path CommonAncestor(const std::vector<fs::path>& paths) {
  fs::path common = paths.front();
  for (const auto& p : paths) {
    fs::path next;
    for (auto a = common.begin(), b = p.begin(); a != common.end() && b != p.end() && *a == *b;
         ++a, ++b) {
      next /= *a;
    }
    common = next;
  }
  return common;
}

// Absolute and normal, without a trailing '/'.
fs::path Normal(const std::string& p) {
  fs::path n = fs::absolute(p).lexically_normal();
  if (!n.has_filename() && n.has_relative_path()) n = n.parent_path();
  return n;
}

bool Holds(const fs::path& dir, const fs::path& p) {
  const fs::path rel = p.lexically_relative(dir);
  return !rel.empty() && *rel.begin() != "..";
}

// A string a YAML parser reads back as this same string when written without quotes.
bool PlainScalar(const std::string& s) {
  // Options ("--of", "-v") too: at most two dashes, then a letter.
  const size_t dashes = std::min(s.find_first_not_of('-'), s.size());
  if (dashes == s.size() || dashes > 2) return false;
  const char c0 = s[dashes];
  if (!((c0 >= 'a' && c0 <= 'z') || (c0 >= 'A' && c0 <= 'Z') || (c0 == '/' && !dashes) ||
        (c0 == '_' && !dashes))) {
    return false;
  }
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '.' || c == '/' || c == '-')) {
      return false;
    }
  }
  std::string lower = s;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  for (const char* word : {"y", "n", "yes", "no", "true", "false", "on", "off", "null"}) {
    if (lower == word) return false;  // YAML 1.1 booleans and null
  }
  return true;
}

std::string Scalar(const nlohmann::ordered_json& v) {
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    // JSON's escapes are a subset of YAML's double-quoted ones.
    return PlainScalar(s) ? s : v.dump();
  }
  if (v.is_object()) return "{}";
  if (v.is_array()) return "[]";
  return v.dump();
}

bool Inline(const nlohmann::ordered_json& v) { return !v.is_structured() || v.empty(); }

void EmitSequence(const nlohmann::ordered_json& seq, int indent, bool continued, std::string& out);

// Keys at `indent`; `continued`: the first key goes on a line already begun ("- ").
void EmitMapping(const nlohmann::ordered_json& map, int indent, bool continued, std::string& out) {
  bool first = true;
  for (const auto& [key, value] : map.items()) {
    if (!(first && continued)) out.append(indent, ' ');
    first = false;
    out += Scalar(nlohmann::ordered_json(key)) + ":";
    if (Inline(value)) {
      out += " " + Scalar(value) + "\n";
    } else if (value.is_object()) {
      out += "\n";
      EmitMapping(value, indent + 2, false, out);
    } else {
      out += "\n";
      EmitSequence(value, indent + 2, false, out);
    }
  }
}

void EmitSequence(const nlohmann::ordered_json& seq, int indent, bool continued, std::string& out) {
  bool first = true;
  for (const auto& item : seq) {
    if (!(first && continued)) out.append(indent, ' ');
    first = false;
    out += "- ";
    if (Inline(item)) {
      out += Scalar(item) + "\n";
    } else if (item.is_object()) {
      EmitMapping(item, indent + 2, true, out);
    } else {
      EmitSequence(item, indent + 2, true, out);
    }
  }
}

std::string OneLine(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

// The pods' metrics endpoint, or nullopt when the job has none: one fixed port (the pod
// template's annotation names it, so 0 cannot do), on every interface by default so that
// Prometheus reaches the pod's address.
std::optional<MetricsSettings> PodMetrics(const MetricsSettings& m) {
  if (!m.port) return std::nullopt;
  if (*m.port == 0) {
    throw InvalidArgument(m.source +
                          ": 0 (any free port) cannot be scraped on Kubernetes, where the pods' "
                          "prometheus.io/port annotation names one port: choose one, e.g. 9100");
  }
  MetricsSettings pod = m;
  pod.fixed_port = true;
  if (pod.address.empty()) pod.address = "0.0.0.0";
  return pod;
}

}  // namespace

K8sSettings ReadK8sSettings(const nlohmann::json& table, int restarts) {
  ParamTable t(table, 0, "run.k8s");
  K8sSettings s;
  // Every key is read (and a typo reported) before what is missing.
  s.image = t.String("image", "");
  s.volbatch = t.String("volbatch", "volbatch");
  if (s.volbatch.empty()) throw t.Bad("volbatch", "must not be empty");
  s.name = t.String("name", "");
  if (!s.name.empty() && !IsDnsLabel(s.name)) {
    throw t.Bad("name", "\"" + s.name +
                            "\" is not a DNS-1123 label (a-z, 0-9 and '-', at most 63, "
                            "beginning and ending with a letter or digit)");
  }
  s.namespace_name = t.String("namespace", "");
  if (!s.namespace_name.empty() && !IsDnsLabel(s.namespace_name)) {
    throw t.Bad("namespace", "\"" + s.namespace_name + "\" is not a DNS-1123 label");
  }
  s.parallelism = IntIn(t, "parallelism", 0, 1, kMaxPods);
  s.backoff_limit_per_index =
      IntIn(t, "backoff_limit_per_index", std::clamp(restarts, 0, 3), 0, 1000);
  if (const auto* m = t.Raw("memory")) s.memory = MemoryBytes(*m, "[run.k8s] memory");
  s.gpus = IntIn(t, "gpus", 0, 0, 1024);
  s.service_account = t.String("service_account", "");
  s.secret = t.String("secret", "");
  if (!s.secret.empty() && !IsDnsSubdomain(s.secret)) {
    throw t.Bad("secret", "\"" + s.secret + "\" is not a Secret's name (a DNS-1123 subdomain)");
  }
  s.grace_s = IntIn(t, "grace_s", 120, 0, 86400 * 7);
  if (const auto* sel = t.Raw("node_selector")) {
    if (!sel->is_object()) throw t.Bad("node_selector", "must be a table of strings");
    for (const auto& [k, v] : sel->items()) {
      if (!v.is_string()) {
        throw t.Bad("node_selector", k + ": must be a string, not " + v.dump());
      }
      s.node_selector[k] = v.get<std::string>();
    }
  }
  const auto* volume = t.Raw("volume");
  if (volume) {
    if (!volume->is_object()) {
      throw t.Bad("volume", "must be a table (claim or host_path, mount)");
    }
    ParamTable v(*volume, 0, "run.k8s.volume");
    s.volume.claim = v.String("claim", "");
    s.volume.host_path = v.String("host_path", "");
    s.volume.mount = v.String("mount", "");
    v.Finish();
    if (s.volume.claim.empty() == s.volume.host_path.empty()) {
      throw v.Bad("claim", "give one of claim (a PersistentVolumeClaim) and host_path");
    }
    if (!s.volume.host_path.empty() && fs::path(s.volume.host_path).is_relative()) {
      throw v.Bad("host_path", "must be an absolute path, not \"" + s.volume.host_path + "\"");
    }
    if (!s.volume.mount.empty() && fs::path(s.volume.mount).is_relative()) {
      throw v.Bad("mount", "must be an absolute path, not \"" + s.volume.mount + "\"");
    }
  }
  t.Finish();
  if (s.image.empty()) {
    throw t.Bad("image",
                "missing: give the container image that holds volbatch with "
                "--image IMAGE or image = \"...\" in [run.k8s]");
  }
  if (!volume) {
    throw t.Bad("volume",
                "missing: the pods must mount the job directory and the data at the "
                "paths this machine uses: volume = { claim = \"PVC\" } or "
                "{ host_path = \"/data\" }, with mount = \"/data\" (default: the "
                "directory holding input, output and job directory)");
  }
  return s;
}

std::string DefaultK8sJobName(const std::string& output) {
  fs::path p = fs::path(output).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  std::string raw = "volbatch-" + p.parent_path().stem().string() + "-" + p.filename().string();
  std::string name;
  for (char c : raw) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (ok) {
      name += c;
    } else if (!name.empty() && name.back() != '-') {
      name += '-';
    }
  }
  // Room for "-<index>" (pod hostnames in an Indexed Job are "<name>-<index>", a DNS label).
  if (name.size() > 50) name.resize(50);
  while (!name.empty() && name.back() == '-') name.pop_back();
  return name.empty() ? "volbatch" : name;
}

std::string KubernetesQuantity(int64_t bytes) {
  std::string best = std::to_string(bytes);
  const std::pair<const char*, int64_t> units[] = {
      {"Ti", int64_t{1} << 40}, {"Gi", int64_t{1} << 30},
      {"Mi", int64_t{1} << 20}, {"Ki", int64_t{1} << 10},
      {"T", 1000000000000},     {"G", 1000000000},
      {"M", 1000000},           {"k", 1000}};
  for (const auto& [suffix, factor] : units) {
    if (bytes % factor != 0) continue;
    std::string q = std::to_string(bytes / factor) + suffix;
    if (q.size() < best.size()) best = q;
  }
  return best;
}

std::string KubeletLiteral(const std::string& word) {
  std::string out;
  for (char c : word) out += c == '$' ? std::string("$$") : std::string(1, c);
  return out;
}

nlohmann::ordered_json K8sJobManifest(const K8sSettings& s, const K8sJob& job) {
  using J = nlohmann::ordered_json;
  if (job.workers < 1 || job.workers > kMaxPods) {
    throw InvalidArgument("--workers: the k8s executor runs between 1 and " +
                          std::to_string(kMaxPods) + " pods, got " + std::to_string(job.workers));
  }
  const std::string name = s.name.empty() ? DefaultK8sJobName(job.output) : s.name;
  if (name.size() + 1 + std::to_string(job.workers - 1).size() > 63) {
    throw InvalidArgument("[run.k8s] name: \"" + name + "\" is too long for pod hostnames \"" +
                          name + "-" + std::to_string(job.workers - 1) +
                          "\" (a DNS label of at most 63)");
  }
  // The volume: every path the workers touch must be inside it, at the same path.
  std::vector<fs::path> paths = {Normal(job.jobdir)};
  for (const auto& d : job.data) paths.push_back(Normal(d));
  const fs::path mount = s.volume.mount.empty() ? CommonAncestor(paths) : Normal(s.volume.mount);
  if (s.volume.mount.empty() && !mount.has_relative_path()) {
    throw InvalidArgument(
        "[run.k8s.volume] mount: the job directory and the data share no directory but \"/\" "
        "(" +
        paths.front().string() + ", " + paths.back().string() +
        "); give mount = the directory the volume holds");
  }
  for (const auto& p : paths) {
    if (!Holds(mount, p)) {
      throw InvalidArgument("[run.k8s.volume] mount: \"" + mount.string() + "\" does not hold " +
                            p.string() + ", which the pods need at that same path");
    }
  }
  if (s.memory > 0 && job.memory_budget > s.memory) {
    throw InvalidArgument("[run.k8s] memory: " + KubernetesQuantity(s.memory) +
                          " per pod is less than the workers' memory budget of " +
                          KubernetesQuantity(job.memory_budget) +
                          " ([run] memory, default 2GiB): raise it or lower [run] memory");
  }

  J labels = {{"app.kubernetes.io/name", "volbatch"}, {"app.kubernetes.io/instance", name}};
  J metadata = {{"name", name}};
  if (!s.namespace_name.empty()) metadata["namespace"] = s.namespace_name;
  metadata["labels"] = labels;

  const std::optional<MetricsSettings> metrics = PodMetrics(job.metrics);
  J args = J::array();
  const std::string kIndex = "$(JOB_COMPLETION_INDEX)";
  for (const auto& a : WorkArguments(job.jobdir, kIndex, job.workers, job.threads, job.lease_s,
                                     metrics.value_or(MetricsSettings{}))) {
    args.push_back(a == kIndex ? a : KubeletLiteral(a));
  }
  J resources = {{"cpu", std::to_string(job.threads)}};
  if (s.memory > 0) resources["memory"] = KubernetesQuantity(s.memory);
  if (s.gpus > 0) resources["nvidia.com/gpu"] = std::to_string(s.gpus);

  J container = {
      {"name", "worker"},
      {"image", s.image},
      {"command", J::array({KubeletLiteral(s.volbatch)})},
      {"args", args},
      // The Job controller sets JOB_COMPLETION_INDEX itself since Kubernetes 1.22; declared
      // here too (from the pod's annotation) so that $(JOB_COMPLETION_INDEX) expands on older
      // clusters. The controller leaves a variable the template declares alone.
      {"env", J::array({{{"name", "JOB_COMPLETION_INDEX"},
                         {"valueFrom",
                          {{"fieldRef",
                            {{"fieldPath", std::string("metadata.annotations['") +
                                               kIndexAnnotation + "']"}}}}}}})},
      {"resources", {{"requests", resources}, {"limits", resources}}},

      {"volumeMounts", J::array({{{"name", "data"}, {"mountPath", mount.string()}}})},
  };
  for (const auto& [k, v] : job.env) container["env"].push_back({{"name", k}, {"value", v}});
  J template_metadata = {{"labels", labels}};
  if (metrics) {
    container["ports"] =
        J::array({{{"name", "metrics"}, {"containerPort", *metrics->port}, {"protocol", "TCP"}}});
    // The annotations Prometheus's kubernetes_sd_configs examples (and most sites' pod
    // scrape jobs) relabel on.
    template_metadata["annotations"] = {{"prometheus.io/scrape", "true"},
                                        {"prometheus.io/port", std::to_string(*metrics->port)},
                                        {"prometheus.io/path", "/metrics"}};
  }
  if (!s.secret.empty()) {
    container["envFrom"] = J::array({{{"secretRef", {{"name", s.secret}}}}});
  }
  J volume = {{"name", "data"}};
  if (!s.volume.claim.empty()) {
    volume["persistentVolumeClaim"] = {{"claimName", s.volume.claim}};
  } else {
    volume["hostPath"] = {{"path", s.volume.host_path}, {"type", "Directory"}};
  }
  J pod = {{"restartPolicy", "Never"},
           {"terminationGracePeriodSeconds", s.grace_s},
           {"containers", J::array({container})},
           {"volumes", J::array({volume})}};
  if (!s.service_account.empty()) pod["serviceAccountName"] = s.service_account;
  if (!s.node_selector.empty()) {
    J sel = J::object();
    for (const auto& [k, v] : s.node_selector) sel[k] = v;
    pod["nodeSelector"] = sel;
  }

  J spec = {
      {"completionMode", "Indexed"},
      {"completions", job.workers},
      {"parallelism", s.parallelism > 0 ? std::min(s.parallelism, job.workers) : job.workers},
      // Each index is retried on its own (Kubernetes 1.28+); a worker exits non-zero when
      // blocks failed, and another try does those blocks again.
      {"backoffLimitPerIndex", s.backoff_limit_per_index},
      // A new pod for an index only once the old one has stopped (no two at once), and pods
      // evicted or preempted (DisruptionTarget) do not count as failures of their index.
      {"podReplacementPolicy", "Failed"},
      {"podFailurePolicy",
       {{"rules", J::array({{{"action", "Ignore"},
                             {"onPodConditions",
                              J::array({{{"type", "DisruptionTarget"}, {"status", "True"}}})}}})}}},
      {"template", {{"metadata", template_metadata}, {"spec", pod}}},
  };
  return J{{"apiVersion", "batch/v1"}, {"kind", "Job"}, {"metadata", metadata}, {"spec", spec}};
}

std::string ToYaml(const nlohmann::ordered_json& value) {
  std::string out;
  if (value.is_object() && !value.empty()) {
    EmitMapping(value, 0, false, out);
  } else if (value.is_array() && !value.empty()) {
    EmitSequence(value, 0, false, out);
  } else {
    out = Scalar(value) + "\n";
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> ObjectStoreEnvironment(
    const std::vector<std::string>& locations, const K8sSettings& settings) {
  std::vector<std::pair<std::string, std::string>> env;
  bool url = false, s3 = false;
  for (const auto& l : locations) {
    url = url || IsUrl(l);
    s3 = s3 || UrlScheme(l) == "s3";
  }
  if (!url) return env;
  // Where and how to reach the store; the credentials themselves come from the Secret.
  for (const char* name : {"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL",
                           "AWS_ENDPOINT_URL_S3", "AWS_NO_SIGN_REQUEST"}) {
    if (const char* v = std::getenv(name)) env.emplace_back(name, v);
  }
  const bool has_credentials = std::getenv("AWS_ACCESS_KEY_ID") || std::getenv("AWS_PROFILE");
  if (s3 && has_credentials && settings.secret.empty()) {
    throw InvalidArgument(
        "[run.k8s] secret: the data is on S3 and this shell has credentials, which pods get "
        "only from a Kubernetes Secret: create one (kubectl create secret generic NAME "
        "--from-literal=AWS_ACCESS_KEY_ID=... --from-literal=AWS_SECRET_ACCESS_KEY=...) and "
        "give secret = \"NAME\"");
  }
  return env;
}

namespace {

ExecutorResult RunK8s(const JobSpec& spec, const RunOptions& run, const ExecutorOptions& o) {
  // Everything in the table is checked before anything is written.
  const K8sSettings settings = ReadK8sSettings(o.table, o.restarts);
  const int workers = ResolveWorkers(o, 0, kMaxPods, "pods");
  PreparedJob p = PrepareJob(spec, run);
  const ResolvedJob& r = p.job;
  K8sJob job;
  job.jobdir = r.jobdir;
  job.output = r.output_path;
  for (const std::string& d : {r.input_path, r.output_path}) {
    if (!IsUrl(d)) job.data.push_back(d);
  }
  if (r.spec.op.contains("model") && r.spec.op["model"].is_string()) {
    job.data.push_back(fs::absolute(r.spec.op["model"].get<std::string>()).string());
  }
  job.env = ObjectStoreEnvironment({r.input_path, r.output_path}, settings);
  job.workers = workers;
  job.threads = o.threads > 0 ? o.threads : spec.run.threads > 0 ? spec.run.threads : 1;
  job.lease_s = o.lease_s;
  job.metrics = spec.run.metrics;
  job.memory_budget = r.memory;
  const nlohmann::ordered_json manifest = K8sJobManifest(settings, job);
  const std::string name = manifest["metadata"]["name"].get<std::string>();
  const std::string n = std::to_string(job.workers);
  const std::string yaml_path = (fs::path(r.jobdir) / "k8s" / "job.yaml").string();
  const std::string text =
      "# Written by `volbatch run --executor k8s`: an Indexed Job of " + n +
      " pods; pod I runs worker I\n# of " + n + " on the job directory " + r.jobdir +
      ",\n# which the pods see on a volume mounted at the same path.\n# Start: kubectl apply -f " +
      ShellQuote(yaml_path) + "\n# Follow: volbatch status " + ShellQuote(r.jobdir) + "\n" +
      ToYaml(manifest);
  const std::string file = JobDir(r.jobdir).WriteText("k8s/job.yaml", text);

  ExecutorResult result = ResultFromStatus(r.jobdir);
  result.submitted_only = true;
  const std::string apply = "kubectl apply -f " + ShellQuote(file);
  result.messages.push_back("wrote " + file + ": Kubernetes Job " + name + ", " +
                            std::to_string(job.workers) + " pods of " + settings.image);
  if (o.apply) {
    if (!OnPath("kubectl")) {
      throw FailedPrecondition("--apply: kubectl is not on PATH; apply " + file +
                               " from a machine that has it: " + apply);
    }
    const CommandResult c =
        RunCommand({"kubectl", "apply", "-f", file}, "", std::chrono::minutes(2));
    if (c.exit_code != 0) {
      throw FailedPrecondition(
          "`" + apply + "` failed: " + c.Describe("kubectl") +
          " (if a Job of that name is already there: kubectl delete job " + name +
          (settings.namespace_name.empty() ? "" : " -n " + settings.namespace_name) + ")");
    }
    result.messages.push_back(apply + ": " + OneLine(c.out.empty() ? "done" : c.out));
  } else {
    result.messages.push_back("start it with: " + apply);
  }
  result.messages.push_back("follow it with: volbatch status " + ShellQuote(r.jobdir));
  return result;
}

// For `volbatch status`: where the manifest is (volbatch does not ask a cluster).
std::optional<nlohmann::json> K8sStatus(const std::string& jobdir) {
  std::error_code ec;
  const fs::path file = fs::path(jobdir) / "k8s" / "job.yaml";
  if (!fs::exists(file, ec)) return std::nullopt;
  return nlohmann::json{{"manifest", file.string()},
                        {"summary", "Job in " + file.string() + " (kubectl get -f " +
                                        ShellQuote(file.string()) + " shows it)"}};
}

}  // namespace

void RegisterK8sExecutor() { RegisterExecutor("k8s", RunK8s, K8sStatus); }

}  // namespace volbatch
