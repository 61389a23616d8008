#include "volbatch/engine/workflow.h"

#include <filesystem>
#include <set>
#include <sstream>

#include "volbatch/core/error.h"
#include "volbatch/engine/run.h"

namespace volbatch {
namespace fs = std::filesystem;
using json = nlohmann::json;

bool IsWorkflowFile(const std::string& path) {
  const std::string text = ReadJobText(path);
  const json root = ParseTomlDocument(text, path);
  return root.is_object() && root.contains("step");
}

Workflow ParseWorkflowFile(const std::string& path) {
  Workflow w = ParseWorkflowToml(ReadJobText(path), path);
  w.source = path;
  return w;
}

Workflow ParseWorkflowToml(const std::string& text, const std::string& source) {
  const json root = ParseTomlDocument(text, source);
  for (const auto& [key, value] : root.items()) {
    if (key != "step" && key != "run") {
      throw InvalidArgument(source + ": [" + key +
                            "]: unknown table (a workflow has [run] defaults and [[step]] tables)");
    }
  }
  if (!root.contains("step") || !root["step"].is_array() || root["step"].empty()) {
    throw InvalidArgument(source + ": [[step]]: a workflow needs at least one [[step]] table");
  }
  const json defaults = root.value("run", json::object());
  if (!defaults.is_object()) throw InvalidArgument(source + ": [run] must be a table");

  Workflow w;
  w.source = source;
  std::set<std::string> names;
  for (size_t i = 0; i < root["step"].size(); ++i) {
    json step = root["step"][i];
    std::string where = source + ": [[step]] " + std::to_string(i + 1);
    if (!step.is_object()) throw InvalidArgument(where + " must be a table");
    std::string name = "step" + std::to_string(i + 1);
    if (step.contains("name")) {
      if (!step["name"].is_string() || step["name"].get<std::string>().empty()) {
        throw InvalidArgument(where + ": name must be a non-empty string");
      }
      name = step["name"].get<std::string>();
      step.erase("name");
    }
    where += " (" + name + ")";
    if (!names.insert(name).second) {
      throw InvalidArgument(where + ": name \"" + name + "\" is used by an earlier step");
    }
    // An input naming a step is that step's output.
    std::string from_step;
    if (step.contains("input") && step["input"].is_object() && step["input"].contains("step")) {
      const json& s = step["input"]["step"];
      if (!s.is_string()) throw InvalidArgument(where + ": [input] step must be a step's name");
      from_step = s.get<std::string>();
      if (step["input"].contains("path")) {
        throw InvalidArgument(where + ": [input] has both step and path; give one");
      }
      step["input"].erase("step");
      step["input"]["path"] = "-";  // replaced below, once the job is parsed
    }
    json run = defaults;
    if (step.contains("run")) {
      if (!step["run"].is_object()) throw InvalidArgument(where + ": [run] must be a table");
      for (const auto& [k, v] : step["run"].items()) run[k] = v;
    }
    if (!run.empty()) step["run"] = run;
    JobSpec spec = ParseJobJson(step, where);
    if (!from_step.empty()) {
      const WorkflowStep* earlier = nullptr;
      for (const auto& s : w.steps) {
        if (s.name == from_step) earlier = &s;
      }
      if (!earlier) {
        std::string known;
        for (const auto& s : w.steps) known += (known.empty() ? "" : ", ") + s.name;
        throw InvalidArgument(where + ": [input] step \"" + from_step +
                              "\" is not an earlier step" +
                              (known.empty() ? std::string(" (this is the first step)")
                                             : " (earlier: " + known + ")"));
      }
      spec.input.path = earlier->spec.output.path;
    }
    RebaseJobPaths(spec, source);
    spec.source = where;
    w.steps.push_back({name, std::move(spec)});
  }
  return w;
}

json WorkflowStatus(const Workflow& w) {
  json steps = json::array();
  for (const auto& s : w.steps) {
    const std::string jobdir = JobDirOf(s.spec);
    json entry = {{"name", s.name}, {"jobdir", jobdir}, {"output", s.spec.output.path}};
    if (fs::exists(fs::path(jobdir) / "job.json")) {
      entry["status"] = JobStatus(jobdir);
    } else {
      entry["status"] = {{"started", false}};
    }
    steps.push_back(entry);
  }
  return {{"workflow", w.source}, {"steps", steps}};
}

std::string WorkflowStatusText(const json& status) {
  std::ostringstream out;
  const json& steps = status["steps"];
  for (size_t i = 0; i < steps.size(); ++i) {
    const json& s = steps[i];
    out << "step " << i + 1 << "/" << steps.size() << " " << s["name"].get<std::string>()
        << " (" << s["output"].get<std::string>() << "): ";
    if (s["status"].value("started", true) == false) {
      out << "not started\n";
    } else {
      out << "\n" << JobStatusText(s["status"]);
    }
  }
  return out.str();
}

}  // namespace volbatch
