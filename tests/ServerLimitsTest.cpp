// The limits that protect the host (docs/protocol.md#limits-that-protect-the-host), against every
// mechanism: the connection cap (--max-conns) and its refusal, the room cap (--max-rooms), the
// refusal of a cap the descriptor limit cannot honour, the total budget for queued output
// (--max-queued-total), and the memory bound of MemoryBound.h against the server's peak resident
// set with clients that stop reading.
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "ChatHarness.h"
#include "ChatServerFixture.h"
#include "MemoryBound.h"

using muxtest::ChatServer;
using muxtest::Client;
using muxtest::json_int;

namespace {

TEST_P(ChatServer, ConnectionsPastMaxConnsAreRefusedUntilOneLeaves) {
  auto s = start({"--quiet", "--max-conns", "5"});
  EXPECT_NE(s->listening_line().find(" max_conns=5"), std::string::npos) << s->listening_line();
  std::vector<std::unique_ptr<Client>> served;
  for (int i = 0; i < 5; ++i) {
    served.push_back(std::make_unique<Client>(s->port()));
    EXPECT_EQ(served.back()->welcome().rfind("* welcome guest", 0), 0u) << "client " << i;
  }
  for (int i = 0; i < 2; ++i) {
    Client extra(s->port());
    EXPECT_EQ(extra.line(), "! server full: 5 connections (--max-conns 5)");
    EXPECT_TRUE(extra.closed_by_server());
  }
  const std::string stats = served[0]->command("/stats");
  EXPECT_EQ(json_int(stats, "refused"), 2) << stats;
  EXPECT_EQ(json_int(stats, "current"), 5) << stats;
  EXPECT_EQ(json_int(stats, "accepted"), 5) << stats;

  // The refused connections left nothing behind for the loop to wake up for: with nothing to
  // do it blocks (at most the two wake-ups the requests themselves cause, as in
  // IdleServerMakesNoWaitCallsOfItsOwn).
  const long long before = json_int(served[0]->command("/stats"), "wait_calls");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_LE(json_int(served[0]->command("/stats"), "wait_calls") - before, 2);

  served[4]->send("/quit\n");
  EXPECT_EQ(served[4]->line(), "* bye");
  EXPECT_TRUE(served[4]->closed_by_server());
  Client again(s->port());
  EXPECT_EQ(again.welcome().rfind("* welcome guest", 0), 0u);
  served[0]->send("/join r\n");
  EXPECT_EQ(served[0]->line(), "* you joined r");
  again.send("/join r\nstill served\n");
  EXPECT_EQ(again.line(), "* you joined r");
  EXPECT_EQ(served[0]->line_starting("<"), "<guest6> still served");
  auto exit = s->stop();
  EXPECT_EQ(json_int(exit.json, "refused"), 2);
  EXPECT_EQ(json_int(exit.json, "peak"), 5);
}

TEST_P(ChatServer, MaxConnsBeyondTheDescriptorLimitIsRefusedAtStart) {
  // RLIMIT_NOFILE 64 leaves 64 - 16 = 48 connections: 49 cannot be served, and saying so at
  // start beats an EMFILE refusal under load.
  auto args = GetParam().args;
  args.insert(args.end(), {"--max-conns", "49"});
  const auto refused = muxtest::run_server(GetParam().binary, args, 64);
  EXPECT_EQ(refused.status, 2) << refused.output;
  EXPECT_NE(refused.output.find("--max-conns 49: the open-file limit is 64, which allows 48"),
            std::string::npos)
      << refused.output;
  EXPECT_NE(refused.output.find("ulimit -n 65"), std::string::npos) << refused.output;
  EXPECT_EQ(refused.output.find("listening"), std::string::npos) << refused.output;

  auto at_most = start({"--quiet", "--max-conns", "48"}, 64);
  EXPECT_NE(at_most->listening_line().find(" max_conns=48"), std::string::npos);
  auto by_default = start({"--quiet"}, 64);
  EXPECT_NE(by_default->listening_line().find("fd_limit=64 max_conns=48"), std::string::npos)
      << by_default->listening_line();
}

TEST_P(ChatServer, RoomsPastMaxRoomsAreRefusedUntilOneEmpties) {
  auto s = start({"--quiet", "--max-rooms", "3"});
  auto red = member(*s, "red1", "red");
  auto blue = member(*s, "blue1", "blue");
  Client lobby(s->port());
  lobby.welcome();
  Client asker(s->port());
  asker.welcome();
  // lobby, red, blue: a fourth is refused and the asker stays in lobby, still served there.
  EXPECT_EQ(asker.command("/join green"), "! too many rooms (max 3)");
  EXPECT_EQ(asker.command("/who").rfind("* members of lobby (2):", 0), 0u);
  lobby.send("still in lobby\n");
  EXPECT_EQ(asker.line_starting("<"), "<guest3> still in lobby");
  EXPECT_EQ(asker.command("/join red"), "* you joined red");  // an existing room is no new one
  // blue's last member moves on: blue is gone, and green fits.
  EXPECT_EQ(blue->command("/join red"), "* you joined red");
  EXPECT_EQ(asker.command("/join green"), "* you joined green");
  // The last member of a room may move to a new one at the cap: its old room goes with it.
  EXPECT_EQ(asker.command("/join violet"), "* you joined violet");
  EXPECT_EQ(red->command("/join indigo"), "! too many rooms (max 3)");
}

TEST_P(ChatServer, MemoryStaysUnderTheBoundWhenClientsStopReading) {
  // Four clients stop reading while a fifth sends to their room, 1 MB at a time, until all four
  // are dropped (64 MB at most). The kernel holds a few MB per receiver (socket buffers: 4 MB
  // here, net.ipv4.tcp_wmem's maximum); the rest piles up in the server until --max-outbuf
  // drops the receiver. Without that bound the queues would grow with what is sent (24 MB of
  // peak resident set for this traffic with a 16 MiB --max-outbuf, against a bound of 9 MiB);
  // with it the peak stays under worst_case_memory_bytes.
  mux::ServerOptions o;
  o.max_conns = 8;
  o.max_line = 1024;
  o.max_outbuf = 64 * 1024;
  o.uring_buffers = 64;
  auto s = start({"--quiet", "--max-conns", std::to_string(o.max_conns), "--max-line",
                  std::to_string(o.max_line), "--max-outbuf", std::to_string(o.max_outbuf),
                  "--uring-buffers", std::to_string(o.uring_buffers)});
  std::vector<std::unique_ptr<Client>> stoppers;
  for (int i = 0; i < 4; ++i) stoppers.push_back(member(*s, "stopper" + std::to_string(i), "r"));
  auto sender = member(*s, "sender", "r");
  const std::string line(1000, 'x');
  std::string burst;
  for (int i = 0; i < 1000; ++i) burst += line + "\n";
  long long dropped = 0;
  for (int mb = 0; mb < 64 && dropped < 4; ++mb) {
    sender->send(burst);
    // /stats answers after every line before it was handled.
    dropped = json_int(sender->command("/stats"), "slow_dropped");
  }
  EXPECT_EQ(dropped, 4);
#if defined(__SANITIZE_ADDRESS__)
  // The servers are built like this test: under AddressSanitizer their resident set holds its
  // shadow memory and quarantine, which the bound does not count (the drops above still count).
  GTEST_SKIP() << "AddressSanitizer build: the resident set is the sanitizer's, not the server's";
#endif
  if (GetParam().entry->model == "python")
    GTEST_SKIP() << "the bound is the C++ core's allocation model; a Python server's resident "
                    "set is the interpreter's (docs/peers.md#differences)";
  const auto peak_kib = muxtest::peak_rss_kib(s->pid());
  ASSERT_TRUE(peak_kib);
  const bool completion = GetParam().entry->model == "completion";
  const auto bound = mux::worst_case_memory_bytes(o, completion);
  EXPECT_LE(static_cast<std::uint64_t>(*peak_kib) * 1024, bound)
      << "peak resident set " << *peak_kib << " KiB";
}

TEST_P(ChatServer, ClientsThatStopReadingShareTheQueuedTotalAndHonestReadersLoseNothing) {
  // Twelve members of a room stop reading while a sender sends 4 KB lines to it and a
  // thirteenth member reads everything. Fourteen connections share 4 MiB: each may queue
  // 4 MiB / 14, far under --max-outbuf 4M, so the twelve are dropped as slow once the kernel's
  // socket buffers and that share are full, before all of them together hold more than the
  // budget: the peak resident set stays under worst_case_memory_bytes, which counts the budget
  // (18 MiB here, 28 MiB uring-completion; measured 8.6-13 MiB). Without the budget each would
  // queue 4 MiB (measured peak: 55-59 MiB).
  mux::ServerOptions o;
  o.max_conns = 16;
  o.max_outbuf = 4 << 20;
  o.max_queued_total = 4 << 20;
  o.uring_buffers = 64;
  auto s = start({"--quiet", "--max-conns", std::to_string(o.max_conns), "--max-outbuf", "4M",
                  "--max-queued-total", "4M", "--uring-buffers", std::to_string(o.uring_buffers)});
  constexpr int kStoppers = 12;
  std::vector<std::unique_ptr<Client>> stoppers;
  for (int i = 0; i < kStoppers; ++i)
    stoppers.push_back(member(*s, "stopper" + std::to_string(i), "r"));
  auto reader = member(*s, "reader", "r");
  auto sender = member(*s, "sender", "r");
  const std::string stats = sender->command("/stats");
  EXPECT_EQ(json_int(stats, "max_queued_total"), 4 << 20) << stats;
  EXPECT_EQ(json_int(stats, "queue_limit"), (4 << 20) / (kStoppers + 2)) << stats;

  const std::string line(4000, 'x');
  constexpr int kLinesPerBurst = 64;
  std::string burst;
  for (int i = 0; i < kLinesPerBurst; ++i) burst += line + "\n";
  long long received = 0;
  std::thread read_all([&] {
    while (auto got = reader->line()) {
      if (*got != "<sender> " + line) break;
      ++received;
    }
  });
  long long sent = 0, dropped = 0;
  for (int b = 0; b < 400 && dropped < kStoppers; ++b) {  // 100 MB at most
    sender->send(burst);
    sent += kLinesPerBurst;
    dropped = json_int(sender->command("/stats"), "slow_dropped");
  }
  EXPECT_EQ(dropped, kStoppers);
  // Every line the reader was sent arrives: the last one ends its wait.
  sender->send("done\n");
  read_all.join();
  EXPECT_EQ(received, sent);
  const std::string after = sender->command("/stats");
  EXPECT_EQ(json_int(after, "current"), 2) << after;
  EXPECT_EQ(json_int(after, "queue_limit"), 2 << 20) << after;  // two share 4 MiB
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer build: the resident set is the sanitizer's, not the server's";
#endif
  if (GetParam().entry->model == "python")
    GTEST_SKIP() << "the bound is the C++ core's allocation model (docs/peers.md#differences)";
  const auto peak_kib = muxtest::peak_rss_kib(s->pid());
  ASSERT_TRUE(peak_kib);
  const auto bound = mux::worst_case_memory_bytes(o, GetParam().entry->model == "completion");
  EXPECT_LE(static_cast<std::uint64_t>(*peak_kib) * 1024, bound)
      << "peak resident set " << *peak_kib << " KiB";
}

}  // namespace
