// The fixture every server test runs with: one instance per mechanism of the registry, so that
// a new mechanism is tested without a line here. ChatServerIntegrationTest.cpp instantiates it
// (once for the whole test binary); other files add TEST_Ps to it.
#pragma once

#include <algorithm>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ChatHarness.h"
#include "MechanismRegistry.h"

namespace muxtest {

// One per mechanism of the registry, so that a new one is tested without a line here.
struct ServerKind {
  std::string label, binary;
  std::vector<std::string> args;
  std::string mechanism;
  bool fdsetsize_limited;
  const mux::Mechanism* entry;
};

inline std::ostream& operator<<(std::ostream& os, const ServerKind& k) {
  return os << k.label;
}

inline std::vector<ServerKind> server_kinds() {
  std::vector<ServerKind> out;
  for (const auto& m : mux::mechanisms()) {
    std::string label(m.name);
    std::replace(label.begin(), label.end(), '-', '_');
    // Only glibc's fd_set has the FD_SETSIZE wall; select-dynamic exists to get past it.
    out.push_back({label, std::string(m.binary), m.args(), std::string(m.name),
                   m.refuses_past_fd_setsize, &m});
  }
  return out;
}

class ChatServer : public ::testing::TestWithParam<ServerKind> {
 protected:
  static void SetUpTestSuite() { muxtest::raise_own_fd_limit(); }

  void SetUp() override {
    // An optional mechanism may be missing from the build or refused by this machine (io_uring:
    // kernel.io_uring_disabled, seccomp): its server then exits with kExitUnavailable, and its
    // tests are skipped with the reason instead of failing.
    if (GetParam().entry->optional) {
      if (auto why = mux::unavailable_reason(*GetParam().entry)) GTEST_SKIP() << *why;
    }
    if (!runs_full_suite(*GetParam().entry) && is_heavy(current_test_name()))
      GTEST_SKIP() << GetParam().mechanism << " runs the smoke subset (CI time): the full suite "
                   << "runs on libevent-epoll, libuv and py-epoll";
  }

  // The peers (docs/peers.md) add seven mechanisms over three drivers; CI has room for the full
  // suite on one mechanism per driver (libevent-epoll, libuv, py-epoll: py-poll shares its loop,
  // py-select its protocol code) and the protocol tests (seconds each) on the rest. The heavy tests
  // are those that move megabytes or open hundreds of connections; a mechanism that refuses
  // descriptors past FD_SETSIZE still runs the one that proves it.
  static bool runs_full_suite(const mux::Mechanism& m) {
    return m.group == "ours" || m.name == "libevent-epoll" || m.name == "libuv" ||
           m.name == "py-epoll";
  }
  bool is_heavy(const std::string& test) const {
    if (test.rfind("FifteenHundred", 0) == 0) return !GetParam().fdsetsize_limited;
    for (const char* heavy :
         {"ReaderKeepsEveryMessage", "BurstOfConnects", "OutOfDescriptors", "IdleServerMakes",
          "MemoryStaysUnderTheBound", "ClientsThatStopReading", "ConnectionsPastMaxConns"})
      if (test.rfind(heavy, 0) == 0) return true;
    return false;
  }
  static std::string current_test_name() {
    return ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }

  std::unique_ptr<ServerProcess> start(std::vector<std::string> extra = {"--quiet"},
                                       std::uint64_t fd_limit = 0) {
    auto args = GetParam().args;
    args.insert(args.end(), extra.begin(), extra.end());
    auto s = std::make_unique<ServerProcess>(GetParam().binary, args, fd_limit);
    EXPECT_TRUE(s->started()) << GetParam().binary << " did not print its listening line";
    return s;
  }

  // A connected client whose welcome line has been read and that sits in `room` as `nick`.
  std::unique_ptr<Client> member(const ServerProcess& s, const std::string& nick,
                                 const std::string& room) {
    auto c = std::make_unique<Client>(s.port());
    EXPECT_TRUE(c->connected());
    EXPECT_EQ(c->welcome().rfind("* welcome guest", 0), 0u);
    EXPECT_EQ(c->command("/nick " + nick), "* you are now " + nick);
    EXPECT_EQ(c->command("/join " + room), "* you joined " + room);
    return c;
  }
};

}  // namespace muxtest
