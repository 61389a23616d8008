#include "volbatch/train/window_transform.h"

#include <gtest/gtest.h>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {

// A [C, Z, Y, X] array with distinct values.
Array Iota(const Shape& shape, DataType t = DataType::kUint16) {
  Array a(t, shape);
  for (Index i = 0; i < a.num_elements(); ++i) a.data_as<uint16_t>()[i] = static_cast<uint16_t>(i);
  return a;
}

Index At(const Shape& shape, const Shape& idx) {
  Index o = 0;
  for (size_t i = 0; i < shape.size(); ++i) o = o * shape[i] + idx[i];
  return o;
}

// The numpy definition, one element at a time: flip the flagged spatial axes, then
// np.rot90(k, axes=(-2, -1)) — out[.., i, j] = in[.., j, X - 1 - i] per quarter turn.
Shape Source(Shape o, const Shape& in_shape, const Augmentation& aug) {
  const size_t rank = in_shape.size(), lead = rank - aug.flip.size();
  Shape cur_shape = in_shape;
  // Undo the rotations one at a time (from the output back to the flipped array).
  std::vector<Shape> shapes{cur_shape};
  for (int s = 0; s < aug.rot90; ++s) {
    std::swap(cur_shape[rank - 1], cur_shape[rank - 2]);
    shapes.push_back(cur_shape);
  }
  for (int s = aug.rot90; s > 0; --s) {
    const Shape& prev = shapes[static_cast<size_t>(s - 1)];  // shape before this quarter turn
    const Index i = o[rank - 2], j = o[rank - 1];
    o[rank - 2] = j;
    o[rank - 1] = prev[rank - 1] - 1 - i;
  }
  for (size_t a = 0; a < aug.flip.size(); ++a) {
    if (aug.flip[a]) o[lead + a] = in_shape[lead + a] - 1 - o[lead + a];
  }
  return o;
}

TEST(TransformWindow, FlipsAndRotationsMatchNumpyDefinitions) {
  const Shape shape{2, 3, 4, 4};
  const Array in = Iota(shape);
  for (int mask = 0; mask < 8; ++mask) {
    for (int k = 0; k < 4; ++k) {
      Augmentation aug;
      aug.flip = {bool(mask & 1), bool(mask & 2), bool(mask & 4)};
      aug.rot90 = k;
      const Array out = TransformWindow(in, aug, {.dtype = DataType::kUint16}, "t");
      ASSERT_EQ(out.shape(), shape);
      Shape idx(4, 0);
      for (Index n = 0; n < out.num_elements(); ++n) {
        const Shape src = Source(idx, shape, aug);
        ASSERT_EQ(out.data_as<uint16_t>()[n], in.data_as<uint16_t>()[At(shape, src)])
            << "mask " << mask << " k " << k << " at " << ShapeToString(idx);
        for (size_t a = 4; a-- > 0;) {
          if (++idx[a] < shape[a]) break;
          idx[a] = 0;
        }
      }
    }
  }
}

TEST(TransformWindow, NonSquareRotationSwapsExtents) {
  const Array in = Iota({2, 3});
  Augmentation aug;
  aug.flip = {false, false};
  aug.rot90 = 1;
  const Array out = TransformWindow(in, aug, {.dtype = DataType::kUint16}, "t");
  EXPECT_EQ(out.shape(), Shape({3, 2}));
  // np.rot90([[0, 1, 2], [3, 4, 5]]) == [[2, 5], [1, 4], [0, 3]]
  const std::vector<uint16_t> expect{2, 5, 1, 4, 0, 3};
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(out.data_as<uint16_t>()[i], expect[i]);
}

TEST(TransformWindow, AffineAndCasts) {
  Array in(DataType::kUint8, {4});
  for (int i = 0; i < 4; ++i) in.data_as<uint8_t>()[i] = static_cast<uint8_t>(i * 50);
  Augmentation none;
  none.flip = {false};
  const Array f = TransformWindow(
      in, none, {.dtype = DataType::kFloat32, .affine = true, .scale = 0.5, .shift = 1}, "img");
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(f.data_as<float>()[i], i * 25.0f + 1);
  const Array l = TransformWindow(in, none, {.dtype = DataType::kInt64}, "lab");
  for (int i = 0; i < 4; ++i) EXPECT_EQ(l.data_as<int64_t>()[i], i * 50);
  // A value that does not fit: an error naming the source, not a wrapped value.
  Array big(DataType::kUint32, {2});
  big.data_as<uint32_t>()[1] = 70000;
  try {
    TransformWindow(big, none, {.dtype = DataType::kInt16}, "sources[1] ('labels')");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("labels"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("70000"), std::string::npos);
  }
  EXPECT_THROW(TransformWindow(f, none, {.dtype = DataType::kInt32}, "x"), Error);
  EXPECT_THROW(TransformWindow(in, none, {.dtype = DataType::kUint8, .affine = true}, "x"), Error);
}

}  // namespace
}  // namespace volbatch
