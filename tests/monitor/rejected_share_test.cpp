// The rejected share over the window's newest entries (no processes: the bookkeeping alone).
#include <gtest/gtest.h>

#include "monitor/rejected_share.hpp"

namespace qsc::agent {
namespace {

TEST(RejectedShare, IsOverTheNewestEntriesNotSinceTheStart) {
  RejectedShare share(2000);
  share.add(100'000, 900);  // 0.9% overall, all of it long ago
  EXPECT_EQ(share.entries(), 2000u);
  // The read's rejected entries are taken as its newest: the window keeps all 900 of them.
  EXPECT_EQ(share.rejected(), 900u);
  share.add(2000, 0);
  EXPECT_EQ(share.rejected(), 0u);
  EXPECT_DOUBLE_EQ(share.pct(), 0.0);
  for (int i = 0; i < 200; ++i) share.add(9, 1);  // 10% of the last 2,000
  EXPECT_EQ(share.entries(), 2000u);
  EXPECT_EQ(share.rejected(), 200u);
  EXPECT_NEAR(share.pct(), 10.0, 1e-9);
}

TEST(RejectedShare, CountsEntriesUntilTheWindowIsFull) {
  RejectedShare share(400);
  EXPECT_DOUBLE_EQ(share.pct(), 0.0);
  share.add(10, 1);
  EXPECT_EQ(share.entries(), 11u);
  EXPECT_NEAR(share.pct(), 100.0 / 11.0, 1e-9);
  share.add(1000, 0);
  EXPECT_EQ(share.entries(), 400u);
  EXPECT_EQ(share.rejected(), 0u);
}

}  // namespace
}  // namespace qsc::agent
