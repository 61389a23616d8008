#include "volbatch/tile/blend.h"

#include <algorithm>
#include <cmath>

#include "volbatch/core/error.h"

namespace volbatch {

BlendKind ParseBlendKind(const std::string& name) {
  if (name == "constant") return BlendKind::kConstant;
  if (name == "linear") return BlendKind::kLinear;
  if (name == "gaussian") return BlendKind::kGaussian;
  if (name == "bump") return BlendKind::kBump;
  throw InvalidArgument("[tiling] blend: \"" + name +
                        "\" is not one of constant, linear, gaussian, bump");
}

const char* BlendKindName(BlendKind kind) {
  switch (kind) {
    case BlendKind::kConstant:
      return "constant";
    case BlendKind::kLinear:
      return "linear";
    case BlendKind::kGaussian:
      return "gaussian";
    case BlendKind::kBump:
      return "bump";
  }
  return "constant";
}

namespace {

constexpr double kFloor = 1e-3;

std::vector<double> Profile(BlendKind kind, Index n, Index overlap) {
  std::vector<double> p(static_cast<size_t>(n), 1.0);
  for (Index x = 0; x < n; ++x) {
    const double centre = (static_cast<double>(n) - 1) / 2;
    double w = 1;
    switch (kind) {
      case BlendKind::kConstant:
        break;
      case BlendKind::kLinear: {
        const double edge = static_cast<double>(std::min(x, n - 1 - x) + 1);
        w = std::min(1.0, edge / static_cast<double>(overlap + 1));
        break;
      }
      case BlendKind::kGaussian: {
        const double sigma = std::max(1.0, static_cast<double>(n) / 8);
        const double d = static_cast<double>(x) - centre;
        w = std::max(kFloor, std::exp(-d * d / (2 * sigma * sigma)));
        break;
      }
      case BlendKind::kBump: {
        // exp(1 - 1/(1 - r^2)) on r in (-1, 1), voxel centres mapped inside the open interval.
        const double r = (static_cast<double>(x) + 0.5) / static_cast<double>(n) * 2 - 1;
        w = std::max(kFloor, std::exp(1 - 1 / (1 - r * r)));
        break;
      }
    }
    p[static_cast<size_t>(x)] = w;
  }
  return p;
}

}  // namespace

std::vector<float> BlendWeights(BlendKind kind, const Shape& window, const Shape& overlap) {
  const Index n = NumElements(window, "window");
  std::vector<std::vector<double>> profiles;
  for (size_t i = 0; i < window.size(); ++i) {
    profiles.push_back(Profile(kind, window[i], i < overlap.size() ? overlap[i] : 0));
  }
  std::vector<float> w(static_cast<size_t>(n));
  Shape idx(window.size(), 0);
  for (Index k = 0; k < n; ++k) {
    double v = 1;
    for (size_t i = 0; i < window.size(); ++i) v *= profiles[i][static_cast<size_t>(idx[i])];
    w[static_cast<size_t>(k)] = static_cast<float>(v);
    for (size_t i = window.size(); i-- > 0;) {
      if (++idx[i] < window[i]) break;
      idx[i] = 0;
    }
  }
  return w;
}

}  // namespace volbatch
