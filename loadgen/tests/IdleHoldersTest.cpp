// The idle holders across several processes and source addresses, against a real server.
#include "IdleHolders.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "ProcessHarness.h"
#include "ServerControl.h"

namespace mux {
namespace {

using test::children_of;
using test::HoldProcess;
using test::ServerProcess;

Endpoint endpoint(int port) {
  auto e = resolve("127.0.0.1", port);
  return std::get<Endpoint>(e);
}

std::int64_t server_current(int port) {
  ServerControl c;
  if (c.open(endpoint(port), "idletest-ctl", nullptr)) return -1;
  auto st = c.stats();
  auto* line = std::get_if<StatsLine>(&st);
  return line ? line->number("current").value_or(-1) : -1;
}

// Established connections to any address on `port`, counted per (local address, remote
// address) pair of the connecting side. /proc/net/tcp prints addresses as little-endian hex
// (0200007F is 127.0.0.2); the pairs come back in dotted form.
std::map<std::pair<std::string, std::string>, int> pairs_to_port(int port) {
  auto dotted = [](const std::string& hex) {
    const unsigned long v = std::stoul(hex, nullptr, 16);
    return fmt::format("{}.{}.{}.{}", v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24);
  };
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);
  std::map<std::pair<std::string, std::string>, int> out;
  char want[8];
  std::snprintf(want, sizeof want, ":%04X", port);
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string sl, local, remote, state;
    f >> sl >> local >> remote >> state;
    if (remote.size() == 13 && remote.substr(8) == want && state == "01") {
      ++out[{dotted(local.substr(0, 8)), dotted(remote.substr(0, 8))}];
    }
  }
  return out;
}

// Distinct source addresses of established connections to 127.0.0.1:port.
std::set<std::string> source_addresses(int port) {
  std::set<std::string> out;
  for (const auto& [pair, n] : pairs_to_port(port)) {
    if (pair.second == "127.0.0.1") out.insert(pair.first);
  }
  return out;
}

std::vector<in_addr> addresses(const std::string& list) {
  return std::get<std::vector<in_addr>>(parse_ipv4_list(list, "test"));
}

std::vector<Endpoint> endpoints(const std::string& list, int port) {
  std::vector<Endpoint> out;
  for (in_addr a : addresses(list)) out.push_back(std::get<Endpoint>(resolve(ipv4_text(a), port)));
  return out;
}

TEST(IdleHolders, SpreadOverProcessesAndSourceAddresses) {
  ServerProcess server("chat-epoll", {"--quiet"});
  ASSERT_TRUE(server.ok()) << server.listening_line();
  IdleOptions o;
  o.server = endpoint(server.port());
  o.count = 300;
  o.per_process = 100;
  o.per_pair = 120;
  IdleHolders h;
  auto err = h.open(o);
  ASSERT_FALSE(err.has_value()) << *err;
  EXPECT_EQ(h.status().established, 300u);
  EXPECT_EQ(h.status().refused, 0u);
  EXPECT_EQ(h.status().processes, 3u);
  EXPECT_EQ(h.status().sources, 3u);
  EXPECT_EQ(h.status().destinations, 1u);
  EXPECT_EQ(source_addresses(server.port()),
            (std::set<std::string>{"127.0.0.2", "127.0.0.3", "127.0.0.4"}));
  EXPECT_EQ(server_current(server.port()), 301);  // 300 idle + the control connection
  err = h.release();
  ASSERT_FALSE(err.has_value()) << *err;
  EXPECT_EQ(h.status().open, 300u);
}

TEST(IdleHolders, ConnectionsClosedByTheServerAreNotCountedOpen) {
  ServerProcess server("chat-poll", {"--quiet"});
  ASSERT_TRUE(server.ok());
  IdleOptions o;
  o.server = endpoint(server.port());
  o.count = 50;
  IdleHolders h;
  ASSERT_FALSE(h.open(o).has_value());
  EXPECT_EQ(h.status().established, 50u);
  server.kill_now();
  usleep(200000);
  ASSERT_FALSE(h.release().has_value());
  EXPECT_EQ(h.status().open, 0u);
}

TEST(IdleHolders, NothingListeningIsAnError) {
  IdleOptions o;
  o.server = endpoint(1);
  o.count = 10;
  IdleHolders h;
  auto err = h.open(o);
  ASSERT_TRUE(err.has_value());
  EXPECT_NE(err->find("nothing is listening"), std::string::npos) << *err;
}

TEST(IdleHolders, SmallOpenFileLimitMeansMoreHelperProcesses) {
  ServerProcess server("chat-epoll", {"--quiet"});
  ASSERT_TRUE(server.ok());
  // 128 descriptors per process (soft and hard): at most 112 connections per helper, so 300
  // need three helpers. This is the path a default `ulimit -n 1024` machine takes for 19000.
  HoldProcess hold({"--port", std::to_string(server.port()), "--idle", "300"}, 128);
  EXPECT_EQ(hold.wait_line(), "holding idle=300 open=300 refused=0 sources=1 destinations=1");
  EXPECT_EQ(children_of(hold.pid()).size(), 3u);
  EXPECT_EQ(server_current(server.port()), 301);
  auto r = hold.release();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("released idle=300 open=300 refused=0"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("by 3 process(es)"), std::string::npos) << r.err;
}

TEST(IdleHolders, SpreadOverDestinationsThenOverSources) {
  ServerProcess server("chat-epoll", {"--quiet", "--bind", "0.0.0.0"});
  ASSERT_TRUE(server.ok()) << server.listening_line();
  IdleOptions o;
  o.server = endpoint(server.port());
  o.destinations = endpoints("127.0.0.1-127.0.0.3", server.port());
  o.sources = addresses("127.0.0.5,127.0.0.6");
  o.count = 300;
  o.per_process = 100;
  o.per_pair = 50;  // exactly full: 2 sources x 3 destinations x 50
  IdleHolders h;
  auto err = h.open(o);
  ASSERT_FALSE(err.has_value()) << *err;
  EXPECT_EQ(h.status().established, 300u);
  EXPECT_EQ(h.status().sources, 2u);
  EXPECT_EQ(h.status().destinations, 3u);
  std::map<std::pair<std::string, std::string>, int> want;
  for (const char* src : {"127.0.0.5", "127.0.0.6"}) {
    for (const char* dst : {"127.0.0.1", "127.0.0.2", "127.0.0.3"}) want[{src, dst}] = 50;
  }
  EXPECT_EQ(pairs_to_port(server.port()), want);
  ASSERT_FALSE(h.release().has_value());
  EXPECT_EQ(h.status().open, 300u);
}

TEST(IdleHolders, DefaultSourcesAreAsManyAsTheDestinationsNeed) {
  ServerProcess server("chat-poll", {"--quiet", "--bind", "0.0.0.0"});
  ASSERT_TRUE(server.ok()) << server.listening_line();
  IdleOptions o;
  o.server = endpoint(server.port());
  o.destinations = endpoints("127.0.0.1,127.0.0.9", server.port());
  o.count = 300;
  o.per_pair = 60;  // 300 over 2 destinations: 150 each, 3 sources of 60
  IdleHolders h;
  auto err = h.open(o);
  ASSERT_FALSE(err.has_value()) << *err;
  EXPECT_EQ(h.status().sources, 3u);
  EXPECT_EQ(h.status().destinations, 2u);
  std::map<std::pair<std::string, std::string>, int> want;
  for (const char* src : {"127.0.0.2", "127.0.0.3", "127.0.0.4"}) {
    for (const char* dst : {"127.0.0.1", "127.0.0.9"}) want[{src, dst}] = 50;
  }
  EXPECT_EQ(pairs_to_port(server.port()), want);
  ASSERT_FALSE(h.release().has_value());
}

TEST(IdleHolders, TooFewAddressPairsFailBeforeOpeningAnything) {
  ServerProcess server("chat-epoll", {"--quiet", "--bind", "0.0.0.0"});
  ASSERT_TRUE(server.ok()) << server.listening_line();
  IdleOptions o;
  o.server = endpoint(server.port());
  o.destinations = endpoints("127.0.0.1-127.0.0.2", server.port());
  o.sources = addresses("127.0.0.2");
  o.count = 101;
  o.per_pair = 50;
  IdleHolders h;
  auto err = h.open(o);
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(*err,
            "101 idle connections need 3 (source, destination) address pairs of 50 ports each "
            "(--idle-per-pair), but 1 source(s) x 2 destination(s) make 2 pair(s), room for 100; "
            "add addresses with --idle-sources or --idle-destinations (a server bound to 0.0.0.0 "
            "accepts on every address it has)");
  EXPECT_EQ(h.status().processes, 0u);
  EXPECT_EQ(server_current(server.port()), 1);  // only the control connection
}

TEST(IdleHolders, ASourceThatIsNotLocalIsNamed) {
  IdleOptions o;
  o.server = endpoint(1);
  o.sources = addresses("127.0.0.2,192.0.2.1");  // TEST-NET-1: never an address of ours
  o.count = 10;
  IdleHolders h;
  auto err = h.open(o);
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(*err,
            "--idle-sources: 192.0.2.1 is not an address of this host (list them with `ip -4 "
            "addr`)");
}

TEST(IdleHolders, ABadAddressListIsAUsageErrorNamingTheItem) {
  auto r = test::run_loadgen(
      {"--hold", "--idle", "10", "--idle-destinations", "127.0.0.1,127.0.0.9-127.0.0.2"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err,
            "loadgen: --idle-destinations 127.0.0.9-127.0.0.2: the range is reversed (write it as "
            "127.0.0.2-127.0.0.9)\n");
}

}  // namespace
}  // namespace mux
