// The idle holders across several processes and source addresses, against a real server.
#include "IdleHolders.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "ProcessHarness.h"
#include "ServerControl.h"

namespace mux {
namespace {

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

// Distinct local IPv4 addresses of established connections to 127.0.0.1:port (/proc/net/tcp
// prints addresses as little-endian hex, e.g. 0200007F for 127.0.0.2).
std::set<std::string> source_addresses(int port) {
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);
  std::set<std::string> out;
  char want[16];
  std::snprintf(want, sizeof want, "0100007F:%04X", port);
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string sl, local, remote, state;
    f >> sl >> local >> remote >> state;
    if (remote == want && state == "01") out.insert(local.substr(0, 8));
  }
  return out;
}

std::vector<std::string> children_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  std::vector<std::string> v;
  std::string s;
  while (in >> s) v.push_back(s);
  return v;
}

TEST(IdleHolders, SpreadOverProcessesAndSourceAddresses) {
  ServerProcess server("chat-epoll", {"--quiet"});
  ASSERT_TRUE(server.ok()) << server.listening_line();
  IdleOptions o;
  o.server = endpoint(server.port());
  o.count = 300;
  o.per_process = 100;
  o.per_address = 120;
  IdleHolders h;
  auto err = h.open(o);
  ASSERT_FALSE(err.has_value()) << *err;
  EXPECT_EQ(h.status().established, 300u);
  EXPECT_EQ(h.status().refused, 0u);
  EXPECT_EQ(h.status().processes, 3u);
  EXPECT_EQ(h.status().addresses, 3u);
  EXPECT_EQ(source_addresses(server.port()),
            (std::set<std::string>{"0200007F", "0300007F", "0400007F"}));
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
  EXPECT_EQ(hold.wait_line(), "holding idle=300 open=300 refused=0");
  EXPECT_EQ(children_of(hold.pid()).size(), 3u);
  EXPECT_EQ(server_current(server.port()), 301);
  auto r = hold.release();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("released idle=300 open=300 refused=0"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("by 3 process(es)"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace mux
