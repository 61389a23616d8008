// The Kubernetes Job manifest (k8s.h) without a cluster: its fields, the [run.k8s] checks and
// the YAML writer. tests/exec/test_k8s.py loads the written file into the official client's
// typed models and runs the pods' commands.
#include "volbatch/exec/k8s.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <map>

#include "volbatch/core/error.h"
#include "volbatch/exec/exec_test_util.h"

namespace volbatch {
namespace {

using J = nlohmann::json;

K8sJob Job(int workers = 4) {
  K8sJob job;
  job.jobdir = "/data/p/out.zarr/o.volbatch";
  job.output = "/data/p/out.zarr/o";
  job.data = {"/data/p/in.zarr/raw", "/data/p/out.zarr/o"};
  job.workers = workers;
  job.threads = 3;
  job.lease_s = 30;
  job.memory_budget = int64_t{2} << 30;
  return job;
}

J Table() { return {{"image", "reg.example/volbatch:1.0"}, {"volume", {{"claim", "data-pvc"}}}}; }

// Table() with one key set.
J With(const std::string& key, J value) {
  J t = Table();
  t[key] = std::move(value);
  return t;
}

TEST(K8sManifest, IndexedJobRunsWorkerIOfN) {
  const K8sSettings s = ReadK8sSettings(Table(), 10);
  const auto m = K8sJobManifest(s, Job(4));
  EXPECT_EQ(m["apiVersion"], "batch/v1");
  EXPECT_EQ(m["kind"], "Job");
  EXPECT_EQ(m["metadata"]["name"], "volbatch-out-o");
  EXPECT_FALSE(m["metadata"].contains("namespace"));
  const auto& spec = m["spec"];
  EXPECT_EQ(spec["completionMode"], "Indexed");
  EXPECT_EQ(spec["completions"], 4);
  EXPECT_EQ(spec["parallelism"], 4);
  EXPECT_EQ(spec["backoffLimitPerIndex"], 3);  // min(--restarts 10, 3)
  EXPECT_EQ(spec["podReplacementPolicy"], "Failed");
  const auto& pod = spec["template"]["spec"];
  EXPECT_EQ(pod["restartPolicy"], "Never");
  EXPECT_EQ(pod["terminationGracePeriodSeconds"], 120);
  ASSERT_EQ(pod["containers"].size(), 1u);
  const auto& c = pod["containers"][0];
  EXPECT_EQ(c["image"], "reg.example/volbatch:1.0");
  EXPECT_EQ(c["command"], J::array({"volbatch"}));
  EXPECT_EQ(J(c["args"]),
            J::array({"work", "/data/p/out.zarr/o.volbatch", "--worker", "$(JOB_COMPLETION_INDEX)",
                      "--of", "4", "--lease", "30.000000", "--quiet", "--threads", "3"}));
  EXPECT_EQ(c["env"][0]["name"], "JOB_COMPLETION_INDEX");
  EXPECT_EQ(c["env"][0]["valueFrom"]["fieldRef"]["fieldPath"],
            "metadata.annotations['batch.kubernetes.io/job-completion-index']");
  EXPECT_EQ(c["resources"]["requests"]["cpu"], "3");
  EXPECT_EQ(c["resources"]["limits"]["cpu"], "3");
  EXPECT_FALSE(c["resources"]["limits"].contains("memory"));
  EXPECT_FALSE(c["resources"]["limits"].contains("nvidia.com/gpu"));
  // The default mount is the deepest directory holding input, output and job directory.
  EXPECT_EQ(c["volumeMounts"][0]["mountPath"], "/data/p");
  EXPECT_EQ(c["volumeMounts"][0]["name"], pod["volumes"][0]["name"]);
  EXPECT_EQ(pod["volumes"][0]["persistentVolumeClaim"]["claimName"], "data-pvc");
}

TEST(K8sManifest, EveryOptionLandsWhereKubernetesReadsIt) {
  J t = Table();
  t["memory"] = "16GiB";
  t["gpus"] = 2;
  t["parallelism"] = 2;
  t["backoff_limit_per_index"] = 5;
  t["namespace"] = "em";
  t["name"] = "seg-run";
  t["node_selector"] = {{"gpu", "a100"}};
  t["service_account"] = "volbatch";
  t["grace_s"] = 300;
  t["volbatch"] = "/opt/volbatch/bin/volbatch";
  t["volume"] = {{"host_path", "/data"}, {"mount", "/data"}};
  const auto m = K8sJobManifest(ReadK8sSettings(t, 0), Job(8));
  EXPECT_EQ(m["metadata"]["name"], "seg-run");
  EXPECT_EQ(m["metadata"]["namespace"], "em");
  EXPECT_EQ(m["spec"]["parallelism"], 2);
  EXPECT_EQ(m["spec"]["backoffLimitPerIndex"], 5);
  const auto& pod = m["spec"]["template"]["spec"];
  EXPECT_EQ(pod["terminationGracePeriodSeconds"], 300);
  EXPECT_EQ(pod["serviceAccountName"], "volbatch");
  EXPECT_EQ(pod["nodeSelector"]["gpu"], "a100");
  const auto& c = pod["containers"][0];
  EXPECT_EQ(c["command"][0], "/opt/volbatch/bin/volbatch");
  for (const char* side : {"requests", "limits"}) {
    EXPECT_EQ(c["resources"][side]["memory"], "16Gi");
    EXPECT_EQ(c["resources"][side]["nvidia.com/gpu"], "2");
  }
  EXPECT_EQ(c["volumeMounts"][0]["mountPath"], "/data");
  EXPECT_EQ(pod["volumes"][0]["hostPath"]["path"], "/data");
}

TEST(K8sManifest, BackoffPerIndexFollowsFewRestarts) {
  EXPECT_EQ(ReadK8sSettings(Table(), 0).backoff_limit_per_index, 0);
  EXPECT_EQ(ReadK8sSettings(Table(), 2).backoff_limit_per_index, 2);
  EXPECT_EQ(ReadK8sSettings(Table(), 100).backoff_limit_per_index, 3);
}

TEST(K8sManifest, KubernetesQuantitySpelling) {
  EXPECT_EQ(ReadK8sSettings(With("memory", "4Gi"), 3).memory, int64_t{4} << 30);
  EXPECT_EQ(KubernetesQuantity(int64_t{16} << 30), "16Gi");
  EXPECT_EQ(KubernetesQuantity(int64_t{1536} << 20), "1536Mi");
  EXPECT_EQ(KubernetesQuantity(16000000000), "16G");
  EXPECT_EQ(KubernetesQuantity(1000), "1k");
  EXPECT_EQ(KubernetesQuantity(1001), "1001");
}

TEST(K8sManifest, BadTablesNameTheKey) {
  ExpectError(
      [] {
        ReadK8sSettings({{"volume", {{"claim", "x"}}}}, 3);
      },
      "[run.k8s] image: missing");
  ExpectError([] { ReadK8sSettings(With("imagee", "x"), 3); }, "[run.k8s] imagee: unknown key");
  // A typo is reported as such, not as the key it was meant to be.
  ExpectError(
      [] {
        ReadK8sSettings({{"imag", "x"}, {"volume", {{"claim", "x"}}}}, 3);
      },
      "[run.k8s] imag: unknown key");
  ExpectError(
      [] {
        ReadK8sSettings({{"image", "x"}, {"volume", {{"claimname", "x"}}}}, 3);
      },
      "[run.k8s.volume] claimname: unknown key");
  ExpectError([] { ReadK8sSettings({{"image", "x"}}, 3); }, "[run.k8s] volume");
  ExpectError(
      [] {
        ReadK8sSettings({{"image", "x"}, {"volume", {{"claim", "a"}, {"path", "/d"}}}}, 3);
      },
      "[run.k8s.volume] path: unknown key");
  ExpectError(
      [] {
        ReadK8sSettings({{"image", "x"}, {"volume", {{"mount", "/d"}}}}, 3);
      },
      "[run.k8s.volume] claim");
  ExpectError([] { ReadK8sSettings(With("name", "Big_Name"), 3); }, "[run.k8s] name");
  ExpectError([] { ReadK8sSettings(With("parallelism", 0), 3); },
              "[run.k8s] parallelism: must be between 1");
  ExpectError([] { ReadK8sSettings(With("memory", "lots"), 3); }, "[run.k8s] memory");
}

TEST(K8sManifest, TheMountMustHoldEveryPathAndMemoryTheBudget) {
  J t = Table();
  t["volume"] = {{"claim", "c"}, {"mount", "/data/p/out.zarr"}};
  ExpectError([&] { K8sJobManifest(ReadK8sSettings(t, 3), Job()); },
              "[run.k8s.volume] mount: \"/data/p/out.zarr\" does not hold "
              "/data/p/in.zarr/raw");
  K8sJob apart = Job();
  apart.data = {"/elsewhere/in.zarr/raw"};
  ExpectError([&] { K8sJobManifest(ReadK8sSettings(Table(), 3), apart); },
              "share no directory but \"/\"");
  ExpectError([&] { K8sJobManifest(ReadK8sSettings(With("memory", "1Gi"), 3), Job()); },
              "[run.k8s] memory: 1Gi per pod is less than the workers' memory budget of 2Gi");
}

TEST(K8sManifest, NamesAreDnsLabelsWithRoomForTheIndex) {
  EXPECT_EQ(DefaultK8sJobName("/x/My Data.n5/Raw_S0/"), "volbatch-my-data-raw-s0");
  const std::string long_name =
      DefaultK8sJobName("/x/" + std::string(80, 'a') + ".zarr/" + std::string(80, 'b'));
  EXPECT_LE(long_name.size(), 50u);
  EXPECT_NE(long_name.back(), '-');
  J t = Table();
  t["name"] = std::string(61, 'a');
  ExpectError([&] { K8sJobManifest(ReadK8sSettings(t, 3), Job(100)); },
              "too long for pod hostnames");
  EXPECT_NO_THROW(K8sJobManifest(ReadK8sSettings(t, 3), Job(10)));
}

TEST(K8sManifest, DollarsInPathsStayLiteralForTheKubelet) {
  K8sJob job = Job();
  job.jobdir = "/data/p/$(HOME)/o.volbatch";
  const auto m = K8sJobManifest(ReadK8sSettings(Table(), 3), job);
  EXPECT_EQ(m["spec"]["template"]["spec"]["containers"][0]["args"][1],
            "/data/p/$$(HOME)/o.volbatch");
  EXPECT_EQ(KubeletLiteral("a$b"), "a$$b");
}

TEST(K8sYaml, BlockStyleWithQuotesWhereAParserWouldMisread) {
  nlohmann::ordered_json v = {
      {"apiVersion", "batch/v1"},
      {"n", 3},
      {"flags", {{"on", true}, {"off", "off"}}},
      {"args", {"work", "/a b/c", "$(X)", "60.000000", "--of", "-1", "---", "-/x", "yes", ""}},
      {"list", nlohmann::ordered_json::array({{{"name", "w"}, {"x", {1, 2}}}, "s"})},
      {"empty", nlohmann::ordered_json::object()},
      {"none", nlohmann::ordered_json::array()},
      {"nested", nlohmann::ordered_json::array({nlohmann::ordered_json::array({1, 2})})},
      {"quote", "it's \"q\"\n"},
  };
  EXPECT_EQ(ToYaml(v),
            "apiVersion: batch/v1\n"
            "\"n\": 3\n"  // YAML 1.1 reads n as false
            "flags:\n"
            "  \"on\": true\n"
            "  \"off\": \"off\"\n"
            "args:\n"
            "  - work\n"
            "  - \"/a b/c\"\n"
            "  - \"$(X)\"\n"
            "  - \"60.000000\"\n"
            "  - --of\n"
            "  - \"-1\"\n"
            "  - \"---\"\n"
            "  - \"-/x\"\n"
            "  - \"yes\"\n"
            "  - \"\"\n"
            "list:\n"
            "  - name: w\n"
            "    x:\n"
            "      - 1\n"
            "      - 2\n"
            "  - s\n"
            "empty: {}\n"
            "none: []\n"
            "nested:\n"
            "  - - 1\n"
            "    - 2\n"
            "quote: \"it's \\\"q\\\"\\n\"\n");
}

// Data on S3: the pods get credentials from the Secret named in [run.k8s] (envFrom), the
// store's non-secret settings from this environment, and nothing of the data is mounted.
TEST(K8sManifest, ObjectStoreCredentialsComeFromASecretNeverInline) {
  ::setenv("AWS_ENDPOINT_URL", "http://ceph.example:7480", 1);
  ::setenv("AWS_REGION", "eu-west-1", 1);
  ::setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG", 1);
  const std::vector<std::string> urls = {"s3://lab/in.zarr/raw", "s3://lab/out.zarr/o"};
  ExpectError([&] { ObjectStoreEnvironment(urls, ReadK8sSettings(Table(), 3)); },
              "[run.k8s] secret: the data is on S3 and this shell has credentials");
  const K8sSettings s = ReadK8sSettings(With("secret", "s3-credentials"), 3);
  K8sJob job = Job();
  job.data = {};
  job.env = ObjectStoreEnvironment(urls, s);
  const auto m = K8sJobManifest(s, job);
  const auto& c = m["spec"]["template"]["spec"]["containers"][0];
  EXPECT_EQ(c["envFrom"][0]["secretRef"]["name"], "s3-credentials");
  std::map<std::string, std::string> env;
  for (const auto& e : c["env"]) {
    if (e.contains("value")) env[e["name"].get<std::string>()] = e["value"].get<std::string>();
  }
  EXPECT_EQ(env["AWS_ENDPOINT_URL"], "http://ceph.example:7480");
  EXPECT_EQ(env["AWS_REGION"], "eu-west-1");
  EXPECT_EQ(env.count("AWS_ACCESS_KEY_ID"), 0u);
  EXPECT_EQ(ToYaml(m).find("wJalrXUtnFEMI"), std::string::npos);
  EXPECT_EQ(ToYaml(m).find("AKIDEXAMPLE"), std::string::npos);
  EXPECT_EQ(c["volumeMounts"][0]["mountPath"], job.jobdir);  // only the job directory
  // Local data needs no store settings.
  EXPECT_TRUE(ObjectStoreEnvironment({"/data/in.zarr/raw"}, ReadK8sSettings(Table(), 3)).empty());
  ExpectError([] { ReadK8sSettings(With("secret", "S3_Creds"), 3); }, "[run.k8s] secret");
  for (const char* v :
       {"AWS_ENDPOINT_URL", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}) {
    ::unsetenv(v);
  }
}

}  // namespace
}  // namespace volbatch
