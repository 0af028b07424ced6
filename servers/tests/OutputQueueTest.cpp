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
