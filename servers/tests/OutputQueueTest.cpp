#include "OutputQueue.h"

#include <string>

#include <gtest/gtest.h>

TEST(OutputQueue, ConsumesInOrderAcrossCompaction) {
  mux::OutputQueue q;
  std::string expected;
  for (int i = 0; i < 100; ++i) {
    const std::string chunk = "line " + std::to_string(i) + "\n";
    q.append(chunk);
    expected += chunk;
    const std::size_t take = std::min<std::size_t>(q.size(), 3 + i % 7);
    EXPECT_EQ(q.front().substr(0, take), std::string_view(expected).substr(0, take));
    q.consume(take);
    expected.erase(0, take);
    EXPECT_EQ(q.size(), expected.size());
  }
  q.consume(q.size());
  EXPECT_TRUE(q.empty());
}

TEST(OutputQueue, TakeMovesTheUnsentBytesAndLeavesTheQueueEmpty) {
  mux::OutputQueue q;
  q.append("first line\n");
  q.consume(6);
  std::string in_flight = "stale";
  q.take(in_flight);
  EXPECT_EQ(in_flight, "line\n");
  EXPECT_TRUE(q.empty());
  // Appends after a take do not touch the taken bytes, and a take without a consumed prefix
  // hands over the queue's own buffer.
  const char* taken = in_flight.data();
  q.append("second\n");
  EXPECT_EQ(in_flight, "line\n");
  EXPECT_EQ(in_flight.data(), taken);
  q.take(in_flight);
  EXPECT_EQ(in_flight, "second\n");
  EXPECT_TRUE(q.empty());
  q.append("third\n");
  EXPECT_EQ(q.front(), "third\n");
}

TEST(OutputQueue, ADrainedQueueGivesBackALargeAllocationAndKeepsASmallOne) {
  mux::OutputQueue q;
  const std::string line(100, 'x');
  q.append(line);
  const std::size_t small = q.capacity();
  q.consume(q.size());
  EXPECT_EQ(q.capacity(), small);  // a steady stream of short lines reuses its buffer

  const std::string burst(4 * mux::kRetainedCapacity, 'y');
  q.append(burst);
  ASSERT_GT(q.capacity(), mux::kRetainedCapacity);
  q.consume(q.size() / 2);
  EXPECT_GT(q.capacity(), mux::kRetainedCapacity);  // not drained yet: the bytes are still owed
  q.consume(q.size());
  EXPECT_TRUE(q.empty());
  EXPECT_LE(q.capacity(), mux::kRetainedCapacity);
}

TEST(OutputQueue, TakeDoesNotKeepTheSendBuffersLargeAllocation) {
  mux::OutputQueue q;
  std::string in_flight(4 * mux::kRetainedCapacity, 'z');
  q.append("next\n");
  q.take(in_flight);
  EXPECT_EQ(in_flight, "next\n");
  EXPECT_LE(q.capacity(), mux::kRetainedCapacity);
}

TEST(OutputQueue, ShrinkToFitKeepsTheUnsentBytesOnly) {
  mux::OutputQueue q;
  q.append(std::string(4 * mux::kRetainedCapacity, 'a'));
  q.append("tail\n");
  q.consume(4 * mux::kRetainedCapacity - 3);
  q.shrink_to_fit();
  EXPECT_EQ(q.front(), "aaatail\n");
  EXPECT_LE(q.capacity(), mux::kRetainedCapacity);
}
