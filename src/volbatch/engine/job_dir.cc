#include "volbatch/engine/job_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "volbatch/core/error.h"

namespace volbatch {
namespace fs = std::filesystem;

std::string Fingerprint(const nlohmann::json& identity) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : identity.dump()) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::string DescribeChange(const nlohmann::json& before, const nlohmann::json& now,
                           const std::string& path) {
  if (before == now) return "";
  if (before.is_object() && now.is_object()) {
    for (const auto& [k, v] : now.items()) {
      const std::string p = path.empty() ? k : path + "." + k;
      if (!before.contains(k)) return p + ": was absent, now " + v.dump();
      std::string d = DescribeChange(before.at(k), v, p);
      if (!d.empty()) return d;
    }
    for (const auto& [k, v] : before.items()) {
      if (!now.contains(k))
        return (path.empty() ? k : path + "." + k) + ": was " + v.dump() + ", now absent";
    }
  }
  return (path.empty() ? std::string("job") : path) + ": was " + before.dump() + ", now " +
         now.dump();
}

bool JobDir::Exists() const { return fs::exists(fs::path(path_) / "job.json"); }

std::optional<nlohmann::json> JobDir::ReadJson(const std::string& name) const {
  const fs::path p = fs::path(path_) / name;
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream s;
  s << in.rdbuf();
  try {
    return nlohmann::json::parse(s.str());
  } catch (const nlohmann::json::exception& e) {
    throw DataLoss(p.string() + ": not valid JSON (" + e.what() + ")");
  }
}

std::optional<nlohmann::json> JobDir::ReadJob() const { return ReadJson("job.json"); }

void JobDir::WriteJson(const std::string& name, const nlohmann::json& value) const {
  WriteText(name, value.dump(2) + "\n");
}

std::string JobDir::WriteText(const std::string& name, const std::string& text,
                              unsigned mode) const {
  const fs::path final_path = fs::path(path_) / name;
  std::error_code ec;
  fs::create_directories(final_path.parent_path(), ec);
  if (ec) {
    throw IoError(final_path.parent_path().string() + ": cannot create the directory: " +
                  ec.message());
  }
  const fs::path tmp = final_path.parent_path() /
                       ("." + final_path.filename().string() + ".tmp." + std::to_string(::getpid()));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) throw IoError(tmp.string() + ": cannot create: " + std::strerror(errno));
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fchmod(fd, mode) == 0 && ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok) {
    fs::remove(tmp, ec);
    throw IoError(final_path.string() + ": cannot write: " + std::strerror(err));
  }
  fs::rename(tmp, final_path, ec);
  if (ec) throw IoError(final_path.string() + ": cannot rename into place: " + ec.message());
  return final_path.string();
}

void JobDir::WriteJob(const ResolvedJob& job) const {
  nlohmann::json j;
  j["version"] = 1;
  j["identity"] = job.Identity();
  j["fingerprint"] = Fingerprint(j["identity"]);
  j["source"] = job.spec.source;
  // The spec with absolute paths: `volbatch work JOBDIR` resolves the job from it alone.
  JobSpec spec = job.spec;
  spec.input.path = job.input_path;
  spec.output.path = job.output_path;
  spec.run.jobdir = job.jobdir;
  // Axes the input's OME metadata gave: written down, so no worker reads that metadata again.
  if (spec.input.axes.empty()) spec.input.axes = job.axes.letters;
  if (spec.op.contains("model") && spec.op["model"].is_string()) {
    spec.op["model"] =
        fs::absolute(spec.op["model"].get<std::string>()).lexically_normal().string();
  }
  j["spec"] = JobSpecToJson(spec);
  j["run"] = {
      {"threads", job.threads}, {"blocks_in_flight", job.blocks_in_flight}, {"memory", job.memory}};
  j["created_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  WriteJson("job.json", j);
}

void JobDir::Reset() const {
  std::error_code ec;
  fs::remove_all(fs::path(path_) / "ledger", ec);
  for (const char* name : {"stats.json", "summary.json", "job.json"}) {
    fs::remove(fs::path(path_) / name, ec);
  }
}

std::optional<Shape> StoredBlock(const nlohmann::json& job_json) {
  try {
    return job_json.at("identity").at("tiling").at("block").get<Shape>();
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

}  // namespace volbatch
