// parse_listening_line (common/ListeningLine.h): the harness's reading of the line a server
// prints once it listens. Garbage is "no listening line", never an exception.
#include "ListeningLine.h"

#include <gtest/gtest.h>

using mux::parse_listening_line;

TEST(ListeningLine, ReadsEveryField) {
  const auto l = parse_listening_line("listening 127.0.0.1:8002 mechanism=epoll-et fd_limit=1024");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->host, "127.0.0.1");
  EXPECT_EQ(l->port, 8002);
  EXPECT_EQ(l->mechanism, "epoll-et");
  EXPECT_EQ(l->fd_limit, 1024u);
  EXPECT_FALSE(l->max_conns);  // a server older than --max-conns
}

TEST(ListeningLine, ReadsTheConnectionCap) {
  const auto l = parse_listening_line(
      "listening 127.0.0.1:8002 mechanism=poll fd_limit=20000 max_conns=19984 later=1");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->max_conns, 19984u);
  EXPECT_EQ(parse_listening_line("listening x:80 mechanism=a fd_limit=1 max_conns=0")->max_conns,
            0u);
}

// Regression: the harness took the port after the first ':' with std::stoi, which threw here.
TEST(ListeningLine, TakesThePortAfterTheLastColonOfAnIpv6Host) {
  const auto l = parse_listening_line("listening [::1]:41000 mechanism=poll fd_limit=64");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->host, "[::1]");
  EXPECT_EQ(l->port, 41000);
}

TEST(ListeningLine, GarbageIsNoListeningLine) {
  for (const char* bad :
       {"", "listening", "listening x:99999 mechanism=a fd_limit=1",
        "listening x:abc mechanism=a fd_limit=1", "listening :80 mechanism=a fd_limit=1",
        "listening x:80 mechanism= fd_limit=1", "listening x:80 mechanism=a fd_limit=",
        "listening x:80 fd_limit=1 mechanism=a", "listen x:80 mechanism=a fd_limit=1",
        "listening x:-1 mechanism=a fd_limit=1", "listening x:80 mechanism=a fd_limit=1 max_conns=",
        "listening x:80 mechanism=a fd_limit=1 max_conns=-5"})
    EXPECT_FALSE(parse_listening_line(bad)) << bad;
}
