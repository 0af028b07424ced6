#include "IntegrityChecker.h"

#include <gtest/gtest.h>

namespace mux {
namespace {

using V = IntegrityChecker::Verdict;

TEST(IntegrityChecker, InOrderStreamIsClean) {
  IntegrityChecker c;
  for (std::uint64_t s = 0; s < 1000; ++s) EXPECT_EQ(c.receive(s), V::kInOrder);
  c.finish(1000);
  EXPECT_EQ(c.counts().total(), 0u);
  EXPECT_EQ(c.received(), 1000u);
}

TEST(IntegrityChecker, GapsAreLost) {
  IntegrityChecker c;
  c.receive(0);
  EXPECT_EQ(c.receive(5), V::kGap);  // 1..4 missing
  c.receive(6);
  EXPECT_EQ(c.receive(10), V::kGap);  // 7..9 missing
  c.finish(11);
  EXPECT_EQ(c.counts().lost, 7u);
  EXPECT_EQ(c.counts().duplicated, 0u);
  EXPECT_EQ(c.counts().reordered, 0u);
}

TEST(IntegrityChecker, TailLossIsFoundAtFinish) {
  IntegrityChecker c;
  for (std::uint64_t s = 0; s < 10; ++s) c.receive(s);
  EXPECT_EQ(c.counts().lost, 0u);
  c.finish(25);
  EXPECT_EQ(c.counts().lost, 15u);
}

TEST(IntegrityChecker, NothingReceivedIsAllLost) {
  IntegrityChecker c;
  c.finish(3);
  EXPECT_EQ(c.counts().lost, 3u);
}

TEST(IntegrityChecker, DuplicatesAreCounted) {
  IntegrityChecker c;
  c.receive(0);
  c.receive(1);
  EXPECT_EQ(c.receive(1), V::kDuplicate);
  EXPECT_EQ(c.receive(0), V::kDuplicate);
  c.receive(2);
  c.finish(3);
  EXPECT_EQ(c.counts().duplicated, 2u);
  EXPECT_EQ(c.counts().lost, 0u);
}

TEST(IntegrityChecker, LateArrivalIsReorderedNotLost) {
  IntegrityChecker c;
  c.receive(0);
  c.receive(2);
  c.receive(3);
  EXPECT_EQ(c.receive(1), V::kReordered);
  c.finish(4);
  EXPECT_EQ(c.counts().reordered, 1u);
  EXPECT_EQ(c.counts().lost, 0u);
  EXPECT_EQ(c.counts().duplicated, 0u);
}

TEST(IntegrityChecker, FillingTheMiddleOfAGapSplitsIt) {
  IntegrityChecker c;
  c.receive(0);
  c.receive(10);  // 1..9 missing
  EXPECT_EQ(c.receive(5), V::kReordered);
  EXPECT_EQ(c.receive(5), V::kDuplicate);  // already filled
  EXPECT_EQ(c.receive(1), V::kReordered);
  EXPECT_EQ(c.receive(9), V::kReordered);
  c.finish(11);
  EXPECT_EQ(c.counts().lost, 6u);  // 2,3,4,6,7,8
  EXPECT_EQ(c.counts().reordered, 3u);
  EXPECT_EQ(c.counts().duplicated, 1u);
}

TEST(IntegrityChecker, CountsAddUp) {
  IntegrityCounts a{1, 2, 3, 4}, b{10, 20, 30, 40};
  a += b;
  EXPECT_EQ(a.lost, 11u);
  EXPECT_EQ(a.corrupted, 44u);
  EXPECT_EQ(a.total(), 110u);
}

}  // namespace
}  // namespace mux
