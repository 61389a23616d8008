#include "volbatch/tile/scale.h"

#include "volbatch/core/error.h"

namespace volbatch {

Scale Scale::Identity(size_t rank) { return Scale{Shape(rank, 1), Shape(rank, 1)}; }

void Scale::Check(std::string_view what) const {
  if (up.size() != down.size()) {
    throw InvalidArgument(std::string(what) + ": up and down factors differ in rank");
  }
  for (size_t i = 0; i < up.size(); ++i) {
    if (up[i] < 1 || down[i] < 1 || (up[i] != 1 && down[i] != 1)) {
      throw InvalidArgument(std::string(what) + ": " + ToString() +
                            " is not an integer up- or down-factor on every axis");
    }
  }
}

bool Scale::IsIdentity() const {
  for (size_t i = 0; i < up.size(); ++i) {
    if (up[i] != 1 || down[i] != 1) return false;
  }
  return true;
}

Shape Scale::OutputShape(const Shape& input) const {
  Shape out(input.size());
  for (size_t i = 0; i < input.size(); ++i) out[i] = (input[i] * up[i] + down[i] - 1) / down[i];
  return out;
}

namespace {
Index FloorDiv(Index a, Index b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
Index CeilDiv(Index a, Index b) { return -FloorDiv(-a, b); }
}  // namespace

Box Scale::InputBox(const Box& output) const {
  Box in(Shape(output.rank()), Shape(output.rank()));
  for (size_t i = 0; i < output.rank(); ++i) {
    const Index b = FloorDiv(output.begin[i] * down[i], up[i]);
    const Index e = CeilDiv(output.end(i) * down[i], up[i]);
    in.begin[i] = b;
    in.shape[i] = e - b;
  }
  return in;
}

std::string Scale::ToString() const {
  std::string s = "[";
  for (size_t i = 0; i < up.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(up[i]);
    if (down[i] != 1) s += "/" + std::to_string(down[i]);
  }
  return s + "]";
}

}  // namespace volbatch
