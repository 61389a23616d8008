#include "volbatch/engine/input_axes.h"

#include <nlohmann/json.hpp>

#include "volbatch/core/error.h"
#include "volbatch/engine/ome_level.h"
#include "volbatch/kvstore/location.h"
#include "volbatch/store/node_attributes.h"

namespace volbatch {
namespace {

using json = nlohmann::json;

bool IsSpatial(char a) { return a == 'z' || a == 'y' || a == 'x'; }

// The position of each role in the order batch < channel < spatial.
int Role(char a) { return a == 'c' ? 1 : IsSpatial(a) ? 2 : 0; }

std::string Quoted(const std::string& s) { return "\"" + s + "\""; }

// One OME axis (0.4: {"name", "type"}; 0.3: a bare name) as a letter; '\0' if it is not one.
char OmeLetter(const json& axis, std::string& used) {
  std::string name, type;
  if (axis.is_string()) {
    name = axis.get<std::string>();
  } else if (axis.is_object() && axis.value("name", json()).is_string()) {
    name = axis["name"].get<std::string>();
    if (axis.value("type", json()).is_string()) type = axis["type"].get<std::string>();
  } else {
    return '\0';
  }
  char letter = '\0';
  if (type == "channel" || (type.empty() && name == "c")) {
    letter = 'c';
  } else if (type == "space" || (type.empty() && name.size() == 1 && IsSpatial(name[0]))) {
    letter = name.size() == 1 && IsSpatial(name[0]) ? name[0] : '\0';
  } else {
    // A batch axis: its name's first letter when that is free and not a role letter.
    const char first = name.empty() ? 't' : name[0];
    letter =
        first >= 'a' && first <= 'z' && Role(first) == 0 && used.find(first) == std::string::npos
            ? first
            : '\0';
    for (char a = 'a'; !letter && a <= 'z'; ++a) {
      if (Role(a) == 0 && used.find(a) == std::string::npos) letter = a;
    }
  }
  if (letter) used.push_back(letter);
  return letter;
}

}  // namespace

InputAxes ParseInputAxes(const std::string& letters, size_t rank, const std::string& field) {
  auto bad = [&](const std::string& why) {
    return InvalidArgument(field + ": " + Quoted(letters) + " " + why);
  };
  if (letters.size() != rank) {
    throw bad("has " + std::to_string(letters.size()) + " letters; the input has " +
              std::to_string(rank) + " axes");
  }
  for (size_t i = 0; i < letters.size(); ++i) {
    const char a = letters[i];
    if (a < 'a' || a > 'z') throw bad("must be lowercase letters, one per axis");
    if (letters.find(a) != i) throw bad("repeats the letter " + std::string(1, a));
  }
  if (letters.find('y') == std::string::npos || letters.find('x') == std::string::npos) {
    throw bad("names no spatial axes: it needs y and x (and z for a 3-D operator)");
  }
  InputAxes axes;
  axes.letters = letters;
  for (size_t i = 0; i < letters.size(); ++i) {
    if (i > 0 && Role(letters[i]) < Role(letters[i - 1])) {
      throw bad("puts " + std::string(1, letters[i]) + " after " + std::string(1, letters[i - 1]) +
                ": batch axes come first, then the channel axis c, then z, y, x");
    }
    if (Role(letters[i]) == 0) ++axes.batch;
    if (letters[i] == 'c') axes.channels = true;
  }
  const std::string spatial = letters.substr(letters.find_first_of("zyx"));
  if (spatial != "zyx" && spatial != "yx") {
    throw bad("has the spatial axes " + Quoted(spatial) + "; they must be in the order z, y, x");
  }
  return axes;
}

std::optional<std::string> OmeAxesOf(const std::string& dataset) {
  json parent;
  try {
    parent = ReadNodeAttributes(SplitLocation(dataset).first);
  } catch (const Error&) {
    return std::nullopt;
  }
  const json* m = FindOmeLevel(parent, SplitLocation(dataset).second).multiscale;
  if (!m || !m->contains("axes") || !(*m)["axes"].is_array()) return std::nullopt;
  std::string letters, used;
  for (const auto& axis : (*m)["axes"]) {
    const char a = OmeLetter(axis, used);
    if (!a) return std::nullopt;
    letters.push_back(a);
  }
  return letters;
}

InputAxes ResolveInputAxes(const std::string& axes, bool channels, const std::string& dataset,
                           size_t rank, const std::string& source) {
  if (!axes.empty()) {
    InputAxes a = ParseInputAxes(axes, rank, source + ": [input] axes");
    if (channels && !a.channels) {
      throw InvalidArgument(source + ": [input] channels: true, but [input] axes " + Quoted(axes) +
                            " has no channel axis c");
    }
    return a;
  }
  const std::optional<std::string> ome = OmeAxesOf(dataset);
  if (ome && ome->size() == rank) {
    try {
      InputAxes a = ParseInputAxes(*ome, rank, "");
      // Metadata that agrees with the job's flag, or adds what the job did not say.
      if (!channels || a.channels) return a;
    } catch (const Error&) {
      // Axes the engine cannot use as given (e.g. x before y): the job must say them itself.
    }
  }
  InputAxes a;
  a.channels = channels;
  return a;
}

}  // namespace volbatch
