// What only the completion model (uring-completion) can get wrong: a provided-buffer ring that
// runs dry, sends whose bytes belong to the kernel until they complete, a close that must cancel
// its own connection's requests and no other's, and the system calls the model exists to save.
// The protocol itself is ChatServerIntegrationTest's, which runs against this mechanism like
// every other.
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "ChatHarness.h"
#include "MechanismRegistry.h"

using muxtest::Client;
using muxtest::ServerProcess;

namespace {

// "N PAD", built step by step: GCC 12 reports a false -Wrestrict for a chain of string operator+.
std::string numbered(int n, const std::string& pad) {
  std::string line = std::to_string(n);
  line += ' ';
  line += pad;
  return line;
}

std::string prefixed(const char* prefix, const std::string& rest) {
  std::string line = prefix;
  line += rest;
  return line;
}

class CompletionServer : public ::testing::Test {
 protected:
  void SetUp() override {
    mechanism_ = mux::find_mechanism("uring-completion");
    ASSERT_NE(mechanism_, nullptr) << "uring-completion is missing from the registry";
    if (auto why = mux::unavailable_reason(*mechanism_)) GTEST_SKIP() << *why;
  }

  std::unique_ptr<ServerProcess> start(std::vector<std::string> extra) {
    auto args = mechanism_->args();
    args.push_back("--quiet");
    args.insert(args.end(), extra.begin(), extra.end());
    auto s = std::make_unique<ServerProcess>(std::string(mechanism_->binary), args);
    EXPECT_TRUE(s->started());
    return s;
  }

  static std::unique_ptr<Client> member(const ServerProcess& s, const std::string& nick) {
    auto c = std::make_unique<Client>(s.port());
    EXPECT_TRUE(c->connected());
    c->welcome();
    EXPECT_EQ(c->command("/nick " + nick), "* you are now " + nick);
    EXPECT_EQ(c->command("/join r"), "* you joined r");
    return c;
  }

  const mux::Mechanism* mechanism_ = nullptr;
};

TEST_F(CompletionServer, BurstLargerThanTheBufferRingArrivesOnceAndInOrder) {
  // Two 4 KiB buffers, and each client sends 16 KB at once: every multishot recv runs the ring
  // dry. The bytes must wait in the socket until buffers come back, never be dropped.
  auto s = start({"--uring-buffers", "2"});
  constexpr int kClients = 8, kLines = 40;
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < kClients; ++i)
    clients.push_back(member(*s, prefixed("c", std::to_string(i))));
  const std::string pad(380, 'p');
  for (int i = 0; i < kClients; ++i) {
    std::string burst;
    for (int m = 0; m < kLines; ++m) (burst += numbered(m, pad)) += '\n';
    clients[i]->send(burst);
  }
  const std::regex format(R"(<c(\d+)> (\d+) p+)");
  for (int r = 0; r < kClients; ++r) {
    std::map<int, int> next;  // sender -> next expected line number
    for (int got = 0; got < (kClients - 1) * kLines; ++got) {
      auto l = clients[r]->line();
      ASSERT_TRUE(l) << "c" << r << " received only " << got << " lines";
      std::smatch m;
      ASSERT_TRUE(std::regex_match(*l, m, format)) << l->substr(0, 60);
      ASSERT_EQ(l->size() - m.position(2) - m[2].length(), 1 + pad.size()) << "a torn line";
      const int from = std::stoi(m[1]);
      ASSERT_NE(from, r) << "the sender got its own line back";
      ASSERT_EQ(std::stoi(m[2]), next[from]++) << "lost, duplicated or reordered from c" << from;
    }
  }
  const std::string stats = clients[0]->command("/stats");
  EXPECT_GT(muxtest::json_int(stats, "recv_nobufs"), 0) << "the ring never ran dry: " << stats;
  EXPECT_EQ(muxtest::json_int(stats, "msgs_in"), kClients * kLines);
  EXPECT_EQ(muxtest::json_int(stats, "msgs_out"), kClients * kLines * (kClients - 1));
}

TEST_F(CompletionServer, LargeMessagesToALaggingReaderArriveWholeAndInOrder) {
  // The reader reads, but slower than the sender writes: the kernel takes only part of each send
  // (a short send), the rest goes again, and the lines queued meanwhile wait for it. A second
  // send in flight, or a lost remainder, shows up as a torn or reordered line. --max-outbuf is
  // large so that lagging is not dropping.
  auto s = start({"--max-outbuf", std::to_string(64 << 20)});
  auto sender = member(*s, "talker");
  auto reader = member(*s, "reader");
  constexpr int kMessages = 2000;  // 8 MB
  const std::string pad(4000, 'q');
  std::atomic<int> next = 0;
  std::string mismatch;
  std::thread reading([&] {
    while (next < kMessages) {
      auto l = reader->line(std::chrono::seconds(20));
      if (!l || *l != prefixed("<talker> ", numbered(next, pad))) {
        mismatch = l ? l->substr(0, 40) : "nothing";
        return;
      }
      if (++next % 25 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  std::string batch;
  for (int i = 0; i < kMessages; ++i) {
    (batch += numbered(i, pad)) += '\n';
    if (batch.size() > 256 * 1024 || i + 1 == kMessages) {
      sender->send(batch);
      batch.clear();
    }
  }
  reading.join();
  EXPECT_EQ(mismatch, "") << "torn, lost or reordered at message " << next;
  EXPECT_EQ(next, kMessages);
  const std::string stats = sender->command("/stats");
  EXPECT_EQ(muxtest::json_int(stats, "slow_dropped"), 0) << stats;
  // Fewer sends than messages: lines queued behind a send in flight leave together.
  EXPECT_LT(muxtest::json_int(stats, "sqe_send"), kMessages) << stats;
}

TEST_F(CompletionServer, ANonReadingClientIsStillDroppedAtTheBound) {
  // The send to a client that stopped reading never completes; what queues behind it passes
  // --max-outbuf and the client is dropped, its stuck send cancelled. The others go on.
  auto s = start({"--max-outbuf", "200000"});
  auto sender = member(*s, "talker");
  auto reader = member(*s, "reader");
  auto sloth = member(*s, "sloth");
  const std::string pad(1000, 's');
  for (int i = 0; i < 8000; ++i) {  // 8 MB: past what the kernel buffers for the sloth
    sender->send(numbered(i, pad) + '\n');
    ASSERT_EQ(reader->line(), prefixed("<talker> ", numbered(i, pad)));
  }
  EXPECT_TRUE(sloth->closed_by_server());
  const std::string stats = sender->command("/stats");
  EXPECT_EQ(muxtest::json_int(stats, "slow_dropped"), 1) << stats;
  EXPECT_EQ(muxtest::json_int(stats, "current"), 2) << stats;
}

TEST_F(CompletionServer, ClosingConnectionsLeavesEveryOtherReceiveArmed) {
  // A close cancels the closing connection's own requests by their user_data (CloseChain.h).
  // A cancel that reached another connection's multishot recv would end it with ECANCELED, and
  // that connection would be dropped or its recv armed again: after many closes, every idle
  // member must still be served by the recv it was given at the start.
  auto s = start({});
  constexpr int kIdle = 40, kClosed = 60;
  std::vector<std::unique_ptr<Client>> idle;
  for (int i = 0; i < kIdle; ++i) idle.push_back(member(*s, prefixed("i", std::to_string(i))));
  const std::string before = idle[0]->command("/stats");
  for (int i = 0; i < kClosed; ++i) {
    Client c(s->port());
    c.welcome();
    c.send("/quit\n");
    ASSERT_EQ(c.line(), "* bye");
    ASSERT_TRUE(c.closed_by_server());
  }
  idle[0]->send("still here\n");
  for (int i = 1; i < kIdle; ++i) EXPECT_EQ(idle[i]->line(), "<i0> still here") << "i" << i;
  const std::string after = idle[0]->command("/stats");
  EXPECT_EQ(muxtest::json_int(after, "current"), kIdle) << after;
  // Per closed connection: its multishot recv and its close chain's drain recv; none re-armed.
  EXPECT_EQ(muxtest::json_int(after, "sqe_recv") - muxtest::json_int(before, "sqe_recv"),
            2 * kClosed)
      << after;
}

TEST_F(CompletionServer, AClosedConnectionsSocketIsReleasedNotLeftToThePeer) {
  // The close chain's cancel must find the connection's multishot recv. A recv left armed holds
  // the socket after the CLOSE (the kernel releases a socket with its last reference), so the
  // socket would live on until the peer closes. A released socket answers later data with RST.
  auto s = start({});
  Client c(s->port());
  c.welcome();
  c.send("/quit\n");
  ASSERT_EQ(c.line(), "* bye");
  ASSERT_TRUE(c.closed_by_server());
  int err = 0;
  for (int i = 0; i < 100 && err == 0; ++i) {
    if (::send(c.fd(), "x\n", 2, MSG_NOSIGNAL) < 0) {
      err = errno;
    } else {
      // Wait for the RST, if it comes: it marks the socket with an error (POLLERR, POLLHUP),
      // which poll reports whatever `events` asks. Not POLLIN: the server's FIN already made
      // the socket readable, so a POLLIN poll returned at once and the loop spent its 100 tries
      // in a few ms, before a deferred RST arrived (failed on a 2-core haltpoll VM).
      pollfd p{c.fd(), 0, 0};
      poll(&p, 1, 50);
    }
  }
  EXPECT_TRUE(err == EPIPE || err == ECONNRESET) << (err ? std::strerror(err) : "no reset");
}

TEST_F(CompletionServer, MessagesCostNoRecvSendOrRegistrationSystemCalls) {
  // The model's claim: the bytes move through requests, and the only system call of a loop
  // iteration is the io_uring_enter that carries them.
  auto s = start({});
  auto a = member(*s, "alice");
  auto b = member(*s, "bob");
  constexpr int kRounds = 200;
  for (int i = 0; i < kRounds; ++i) {
    const std::string n = std::to_string(i);
    a->send(prefixed("ping ", n) + '\n');
    ASSERT_EQ(b->line(), prefixed("<alice> ping ", n));
    b->send(prefixed("pong ", n) + '\n');
    ASSERT_EQ(a->line(), prefixed("<bob> pong ", n));
  }
  const std::string stats = a->command("/stats");
  for (const char* key :
       {"sys_recv", "sys_send", "sys_accept", "sys_close", "sys_ctl", "ctl_calls", "fds_passed"}) {
    EXPECT_EQ(muxtest::json_int(stats, key), 0) << key << " in " << stats;
  }
  const long long waits = muxtest::json_int(stats, "sys_wait");
  EXPECT_EQ(muxtest::json_int(stats, "wait_calls"), waits);
  EXPECT_EQ(muxtest::json_int(stats, "syscalls"), waits + muxtest::json_int(stats, "sys_other"));
  // Per message: the enter that reaps its bytes and submits the send, and the one that reaps
  // the send's completion (often the same). A loop that spun would make thousands.
  EXPECT_LE(waits, 2 * (2 * kRounds) + 20) << stats;
  EXPECT_GE(muxtest::json_int(stats, "events"), 2 * kRounds) << stats;
}

}  // namespace
