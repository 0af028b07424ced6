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
