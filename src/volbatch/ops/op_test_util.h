// Scaffolding shared by the window operators' tests: building an operator of one type,
// expecting parameter errors, and filling a window input from a function of the voxel.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "volbatch/core/array.h"
#include "volbatch/core/error.h"
#include "volbatch/ops/operator.h"

namespace volbatch {

// The window operators under test (builtin.cc registers them for volbatch itself).
void RegisterGaussianOperator();
void RegisterDownsampleOperator();
void RegisterUpsampleOperator();

namespace op_test {

// Builds the operator `table` describes for a 3-D volume. Register() registers its type
// first, so the tests do not depend on builtin.cc listing the operator.
template <void (*Register)()>
std::unique_ptr<Operator> Make(const nlohmann::json& table) {
  Register();
  return MakeOperator(table, 3);
}

// Expects building `table` to throw InvalidArgument with `needle` in its message.
template <void (*Register)()>
void ExpectInvalid(const nlohmann::json& table, const std::string& needle) {
  try {
    Make<Register>(table);
    ADD_FAILURE() << "no error for " << table.dump();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

// A window input over the 3-D `box` (global coordinates) as T, with a leading axis of
// `channels` channels (0: none); voxel (z, y, x) of channel c holds value(c, z, y, x).
template <typename T, typename Fn>
Array FillBox(const Box& box, DataType dtype, Index channels, Fn value) {
  Shape shape = box.shape;
  if (channels) shape.insert(shape.begin(), channels);
  Array a(dtype, shape);
  T* p = a.data_as<T>();
  for (Index c = 0; c < std::max<Index>(channels, 1); ++c) {
    for (Index z = box.begin[0]; z < box.end(0); ++z) {
      for (Index y = box.begin[1]; y < box.end(1); ++y) {
        for (Index x = box.begin[2]; x < box.end(2); ++x) *p++ = value(c, z, y, x);
      }
    }
  }
  return a;
}

}  // namespace op_test
}  // namespace volbatch
