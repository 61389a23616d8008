// The k8s executor: `volbatch run JOB --executor k8s --workers N --image IMAGE [--apply]`
// prepares the job directory here and writes JOBDIR/k8s/job.yaml, a Kubernetes Indexed Job of
// N pods; pod I runs `volbatch work JOBDIR --worker I --of N` in the image. Pods mount the
// data volume at the same path as this machine sees it, so the job directory is shared. The
// manifest is written, not followed: with --apply it is handed to `kubectl apply`, and
// `volbatch status JOBDIR` follows the job from anywhere that sees the job directory.
//
// The manifest is built by pure functions (below) so that tests check it without a cluster.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "volbatch/engine/metrics_settings.h"

namespace volbatch {

// What a [run.k8s] table says (with the command line's --image, --memory, --gpus laid over it).
struct K8sSettings {
  std::string image;                  // required
  std::string volbatch = "volbatch";  // the program in the image
  std::string name;                   // the Job's name; "" = derived from the output's name
  std::string namespace_name;         // "" = kubectl's current namespace
  int parallelism = 0;                // 0 = all N pods at once
  int backoff_limit_per_index = 3;    // failed pods allowed per index before it fails
  int64_t memory = 0;                 // bytes per pod (requests = limits); 0 = none given
  int gpus = 0;                       // nvidia.com/gpu per pod
  struct Volume {
    std::string claim;      // a PersistentVolumeClaim's name, or
    std::string host_path;  // a directory on the node
    std::string mount;      // where pods mount it; "" = the data's common ancestor
  } volume;
  std::map<std::string, std::string> node_selector;
  std::string service_account;
  // A Secret whose keys become the pods' environment (envFrom): how object-store credentials
  // (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) reach them. Never inline.
  std::string secret;
  int grace_s = 120;  // terminationGracePeriodSeconds: a worker finishes its block on SIGTERM
};

// Reads [run.k8s] (as JSON); every unknown key, a wrong type or a bad value is an
// InvalidArgument naming "[run.k8s] key" (sub-tables "[run.k8s.volume] key"). `restarts` is
// --restarts: the default backoff_limit_per_index is min(restarts, 3).
K8sSettings ReadK8sSettings(const nlohmann::json& table, int restarts);

// Where the job lives and how its workers run.
struct K8sJob {
  std::string jobdir;             // absolute
  std::string output;             // absolute; its name gives the default Job name
  std::vector<std::string> data;  // absolute paths the pods read or write besides the jobdir
                                  // (input, output, a model file); URLs are not mounted
  // Object-store settings that are not secret (AWS_REGION, AWS_ENDPOINT_URL, ...), passed to
  // the pods as this machine has them (ObjectStoreEnvironment).
  std::vector<std::pair<std::string, std::string>> env;
  int workers = 1;  // N: completions
  int threads = 1;  // per worker: the pod's cpu
  double lease_s = 60;
  int64_t memory_budget = 0;  // the workers' [run] memory budget; 0 = not checked
  // The workers' metrics endpoint: with a port, every pod listens on that port (each pod has
  // its own address) on all its interfaces unless an address is set, and the pod template
  // carries the prometheus.io scrape annotations and the container port.
  MetricsSettings metrics;
};

// The batch/v1 Job as JSON in the order a person reads it. Throws InvalidArgument naming
// "[run.k8s] ..." when the settings do not fit the job (a mount that does not hold the job
// directory, a name that is not a DNS label, pods with less memory than the budget).
nlohmann::ordered_json K8sJobManifest(const K8sSettings& settings, const K8sJob& job);

// The Job's name when [run.k8s] names none: "volbatch-<output's parent stem>-<output name>",
// lower case, a DNS-1123 label short enough that "<name>-<index>" is one too.
std::string DefaultK8sJobName(const std::string& output);

// Block-style YAML of `value` (what kubectl and the client libraries read); a string that a
// YAML parser could take for something else (a number, true, a path with ':') is quoted.
std::string ToYaml(const nlohmann::ordered_json& value);

// bytes as a Kubernetes quantity, exactly and as short as possible: "16Gi", "500M", "1000".
std::string KubernetesQuantity(int64_t bytes);

// `word` for a container's command or args: the kubelet expands $(VAR) there, so a literal
// '$' is written "$$".
std::string KubeletLiteral(const std::string& word);

// The object-store settings of this environment the pods need and that are no secret, when the
// job's data is at a URL. Throws InvalidArgument naming "[run.k8s] secret" when the data is on
// S3, this environment has credentials and no Secret is named: pods get credentials from a
// Secret only, and would otherwise run unsigned and fail on a private bucket.
std::vector<std::pair<std::string, std::string>> ObjectStoreEnvironment(
    const std::vector<std::string>& locations, const K8sSettings& settings);

void RegisterK8sExecutor();

}  // namespace volbatch
