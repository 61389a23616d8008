#include "volbatch/store/n5_block.h"

#include <gtest/gtest.h>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {

Bytes B(std::initializer_list<int> v) {
  Bytes b;
  for (int x : v) b.push_back(std::byte(x));
  return b;
}

TEST(N5BlockHeader, EncodesXFirstBigEndian) {
  EXPECT_EQ(EncodeN5BlockHeader({3, 2, 0x010203}),
            B({0, 0, 0, 3, 0, 1, 2, 3, 0, 0, 0, 2, 0, 0, 0, 3}));
  EXPECT_THROW(EncodeN5BlockHeader({int64_t{1} << 32}), Error);
}

TEST(N5BlockHeader, ParsesBothModes) {
  N5BlockHeader h = ParseN5BlockHeader(B({0, 0, 0, 2, 0, 0, 0, 5, 0, 0, 0, 7, 9}), 2);
  EXPECT_EQ(h.mode, 0);
  EXPECT_EQ(h.dims, (Shape{7, 5}));
  EXPECT_FALSE(h.num_elements);
  EXPECT_EQ(h.size, 12u);
  h = ParseN5BlockHeader(B({0, 1, 0, 1, 0, 0, 0, 5, 0, 0, 1, 0}), 1);
  EXPECT_EQ(h.mode, 1);
  EXPECT_EQ(h.dims, Shape{5});
  EXPECT_EQ(h.num_elements, 256u);
  EXPECT_EQ(h.size, 12u);
  // Round trip.
  const Shape dims{4, 5, 6, 7};
  EXPECT_EQ(ParseN5BlockHeader(EncodeN5BlockHeader(dims), 4).dims, dims);
}

TEST(N5BlockHeader, RefusesBadHeaders) {
  for (const Bytes& bad : {B({}), B({0, 0, 0}), B({0, 0, 0, 2, 0, 0, 0, 5}),     // truncated
                           B({0, 3, 0, 1, 0, 0, 0, 5}),                          // unknown mode
                           B({0, 2, 0, 1, 0, 0, 0, 5}),                          // object mode
                           B({0, 0, 0, 3, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5}),  // wrong rank
                           B({0, 1, 0, 2, 0, 0, 0, 5, 0, 0, 0, 5})}) {           // no count
    try {
      ParseN5BlockHeader(bad, 2);
      ADD_FAILURE() << "accepted " << bad.size() << " bytes";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kDataLoss) << e.what();
    }
  }
}

}  // namespace
}  // namespace volbatch
