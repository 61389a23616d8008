#include "volbatch/cli/parse.h"

#include <charconv>
#include <cmath>
#include <vector>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    out.push_back(s.substr(start, pos == std::string::npos ? std::string::npos : pos - start));
    if (pos == std::string::npos) return out;
    start = pos + 1;
  }
}

bool ParseInt(const std::string& s, Index& v) {
  const char* b = s.data();
  const char* e = b + s.size();
  auto [p, ec] = std::from_chars(b, e, v);
  return ec == std::errc() && p == e;
}

}  // namespace

Shape ParseShapeList(const std::string& text, const std::string& what) {
  Shape shape;
  for (const auto& part : Split(text, ',')) {
    Index v;
    if (!ParseInt(part, v) || v <= 0) {
      throw InvalidArgument(what + ": \"" + text +
                            "\" is not a comma-separated list of positive integers");
    }
    shape.push_back(v);
  }
  CheckRank(shape.size(), what.c_str());
  return shape;
}

std::vector<double> ParseDoubleList(const std::string& text, const std::string& what) {
  std::vector<double> out;
  for (const auto& part : Split(text, ',')) {
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (part.empty() || used != part.size() || !std::isfinite(v) || v <= 0) {
      throw InvalidArgument(what + ": \"" + text +
                            "\" is not a comma-separated list of positive numbers");
    }
    out.push_back(v);
  }
  return out;
}

Box ParseRoi(const std::string& text, const Shape& shape, const std::string& what) {
  auto parts = Split(text, ',');
  if (parts.size() != shape.size()) {
    throw InvalidArgument(what + ": \"" + text + "\" has " + std::to_string(parts.size()) +
                          " axes, the dataset has " + std::to_string(shape.size()));
  }
  Box box(Shape(shape.size()), Shape(shape.size()));
  for (size_t i = 0; i < shape.size(); ++i) {
    Index lo = 0, hi = shape[i];
    if (!parts[i].empty() && parts[i] != ":") {
      auto colon = parts[i].find(':');
      if (colon == std::string::npos) {
        if (!ParseInt(parts[i], lo))
          throw InvalidArgument(what + ": bad index \"" + parts[i] + "\"");
        if (lo < 0) lo += shape[i];
        hi = lo + 1;
      } else {
        std::string a = parts[i].substr(0, colon), b = parts[i].substr(colon + 1);
        if (!a.empty() && !ParseInt(a, lo))
          throw InvalidArgument(what + ": bad start \"" + a + "\"");
        if (!b.empty() && !ParseInt(b, hi))
          throw InvalidArgument(what + ": bad stop \"" + b + "\"");
        if (lo < 0) lo += shape[i];
        if (hi < 0) hi += shape[i];
      }
    }
    if (lo < 0 || hi > shape[i] || lo >= hi) {
      throw InvalidArgument(what + ": axis " + std::to_string(i) + " range " + std::to_string(lo) +
                            ":" + std::to_string(hi) +
                            " is empty or outside 0:" + std::to_string(shape[i]));
    }
    box.begin[i] = lo;
    box.shape[i] = hi - lo;
  }
  return box;
}

}  // namespace volbatch
