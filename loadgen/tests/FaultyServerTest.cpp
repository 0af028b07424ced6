// The integrity checks end to end: a deliberately broken chat server (in this test, on a
// thread) drops, duplicates, reorders or corrupts every 7th delivery, and loadgen must say so
// in the row, in its status and loudly on stderr.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "ProcessHarness.h"

namespace mux::test {
namespace {

enum class Fault { kDrop, kDuplicate, kReorder, kCorrupt, kHangUp };

class FaultyServer {
 public:
  explicit FaultyServer(Fault fault) : fault_(fault) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    listen(listen_fd_, 64);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { loop(); });
  }
  ~FaultyServer() {
    stop_ = true;
    thread_.join();
    for (auto& [fd, c] : clients_) close(fd);
    close(listen_fd_);
  }
  int port() const { return port_; }

 private:
  struct Client {
    std::string nick, room = "lobby", in;
  };

  static void put(int fd, const std::string& s) {
    std::size_t off = 0;
    while (off < s.size()) {
      const ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<std::size_t>(n);
    }
  }

  void deliver(int from, const std::string& text) {
    const Client& sender = clients_[from];
    const int n = ++messages_;
    std::string line = "<" + sender.nick + "> " + text + "\n";
    const bool hit = n % 7 == 0;
    if (hit && fault_ == Fault::kDrop) return;
    if (n == 20 && fault_ == Fault::kHangUp) {
      // Drop one receiver, as a server does with a slow consumer, and keep running.
      for (auto it = clients_.begin(); it != clients_.end(); ++it) {
        if (it->first != from && it->second.room == sender.room) {
          close(it->first);
          clients_.erase(it);
          return;
        }
      }
    }
    if (hit && fault_ == Fault::kCorrupt) line[line.size() / 2] ^= 1;
    for (auto& [fd, c] : clients_) {
      if (fd == from || c.room != sender.room) continue;
      if (hit && fault_ == Fault::kReorder) {
        held_[{fd, from}] = line;  // sent after this sender's next message
        continue;
      }
      put(fd, line);
      if (hit && fault_ == Fault::kDuplicate) put(fd, line);
      auto h = held_.find({fd, from});
      if (h != held_.end() && !hit) {
        put(fd, h->second);
        held_.erase(h);
      }
    }
  }

  void on_line(int fd, const std::string& line) {
    Client& c = clients_[fd];
    if (line.rfind("/nick ", 0) == 0) {
      c.nick = line.substr(6);
      put(fd, "* you are now " + c.nick + "\n");
    } else if (line.rfind("/join ", 0) == 0) {
      c.room = line.substr(6);
      put(fd, "* you joined " + c.room + "\n");
    } else if (line == "/stats") {
      put(fd, "{\"mechanism\":\"faulty\",\"wait_calls\":" + std::to_string(++waits_) + "}\n");
    } else {
      deliver(fd, line);
    }
  }

  void loop() {
    while (!stop_) {
      std::vector<pollfd> p{{listen_fd_, POLLIN, 0}};
      for (auto& [fd, c] : clients_) p.push_back({fd, POLLIN, 0});
      if (poll(p.data(), p.size(), 50) <= 0) continue;
      ++waits_;
      if (p[0].revents) {
        const int fd = accept(listen_fd_, nullptr, nullptr);
        clients_[fd].nick = "guest" + std::to_string(fd);
        put(fd, "* welcome " + clients_[fd].nick + " (room lobby; /help for commands)\n");
      }
      for (std::size_t i = 1; i < p.size(); ++i) {
        if (!p[i].revents) continue;
        char buf[65536];
        const ssize_t n = recv(p[i].fd, buf, sizeof buf, 0);
        if (n <= 0) {
          close(p[i].fd);
          clients_.erase(p[i].fd);
          continue;
        }
        std::string& in = clients_[p[i].fd].in;
        in.append(buf, static_cast<std::size_t>(n));
        for (std::size_t nl; (nl = in.find('\n')) != std::string::npos;) {
          std::string line = in.substr(0, nl);
          in.erase(0, nl + 1);
          on_line(p[i].fd, line);
        }
      }
    }
  }

  Fault fault_;
  int listen_fd_ = -1, port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::map<int, Client> clients_;
  std::map<std::pair<int, int>, std::string> held_;  // (receiver, sender) -> line
  int messages_ = 0;
  long waits_ = 0;
};

Result broadcast_against(Fault fault) {
  FaultyServer server(fault);
  return run_loadgen({"--port", std::to_string(server.port()), "--mode", "broadcast", "--active",
                      "3", "--rate", "300", "--warmup", "0", "--duration", "0.5", "--drain-timeout",
                      "0.5", "--csv-header"});
}

void expect_loud(const Result& r, const std::string& column) {
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto row = parse_csv(r.out);
  EXPECT_EQ(row["mechanism"], "faulty");
  EXPECT_EQ(row["status"], "integrity-errors");
  EXPECT_NE(row[column], "0") << column;
  EXPECT_NE(r.err.find("INTEGRITY ERRORS"), std::string::npos) << r.err;
}

TEST(FaultyServer, LossIsCountedAndReported) {
  expect_loud(broadcast_against(Fault::kDrop), "lost");
}
TEST(FaultyServer, DuplicationIsCountedAndReported) {
  expect_loud(broadcast_against(Fault::kDuplicate), "duplicated");
}
TEST(FaultyServer, ReorderingIsCountedAndReported) {
  expect_loud(broadcast_against(Fault::kReorder), "reordered");
}
TEST(FaultyServer, CorruptionIsCountedAndReported) {
  expect_loud(broadcast_against(Fault::kCorrupt), "corrupted");
}

TEST(FaultyServer, ADroppedConnectionIsNotMistakenForADeadServer) {
  Result r = broadcast_against(Fault::kHangUp);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  auto row = parse_csv(r.out);
  EXPECT_EQ(row["status"], "error:dropped-by-server");
  EXPECT_NE(r.err.find("still running"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace mux::test
