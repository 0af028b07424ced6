#include "FloorRun.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "Net.h"
#include "system.h"

namespace mux {

namespace {

// How long either side waits for the other before calling the run failed: a blocking recv on a
// peer that stopped would otherwise hang the run for ever.
constexpr int kPeerTimeoutMs = 5000;

// The connections between this process and the peer: one for the echo floor (A), two for the
// relay floor (A, B).
constexpr std::size_t kMaxLinks = 2;

bool recv_exact(int fd, char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t k = recv(fd, p, n, 0);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    p += k;
    n -= static_cast<std::size_t>(k);
  }
  return true;
}

void set_nodelay(int fd) {
  // As the servers set on accepted sockets and loadgen on its own: without it Nagle holds back
  // the second small write of a connection until the first is acknowledged.
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void set_recv_timeout(int fd) {
  timeval tv{kPeerTimeoutMs / 1000, (kPeerTimeoutMs % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

// The forked peer: connects `links` times, says which link each connection is (one byte), then
// forwards each message from link i to link i+1 (mod links) in strict alternation, which is all
// a ping-pong needs. With one link that is an echo; with two it is a relay A -> B, B -> A.
[[noreturn]] void peer_main(const sockaddr_in& at, std::size_t links, std::size_t size, int cpu) {
  // Dies with the load generator even if the sockets somehow stay open.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (cpu >= 0) {
    if (auto err = pin_to_cpu(cpu)) {
      fmt::print(stderr, "loadgen: floor peer: {}\n", *err);
      _exit(1);
    }
  }
  std::array<int, kMaxLinks> fds{};
  for (std::size_t i = 0; i < links; ++i) {
    fds[i] = socket(AF_INET, SOCK_STREAM, 0);
    if (fds[i] < 0 || connect(fds[i], reinterpret_cast<const sockaddr*>(&at), sizeof at) != 0) {
      _exit(1);
    }
    set_nodelay(fds[i]);
    const char index = static_cast<char>(i);
    if (write_all(fds[i], std::string_view(&index, 1))) _exit(1);
  }
  std::string buf(size, '\0');
  for (std::size_t i = 0;; i = (i + 1) % links) {
    if (!recv_exact(fds[i], buf.data(), size) || write_all(fds[(i + 1) % links], buf)) {
      break;
    }
  }
  _exit(0);
}

// The accepted connections, ordered by the index byte each sends first.
std::optional<std::string> accept_links(int lfd, std::size_t links,
                                        std::array<int, kMaxLinks>& fds) {
  for (std::size_t n = 0; n < links; ++n) {
    pollfd p{lfd, POLLIN, 0};
    if (poll(&p, 1, kPeerTimeoutMs) <= 0) {
      return fmt::format("floor: the peer did not connect within {} s", kPeerTimeoutMs / 1000);
    }
    const int fd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return errno_text("floor: accept", errno);
    set_nodelay(fd);
    set_recv_timeout(fd);
    char index = 0;
    if (!recv_exact(fd, &index, 1) || static_cast<std::size_t>(index) >= links ||
        fds[static_cast<std::size_t>(index)] >= 0) {
      close(fd);
      return "floor: the peer's connection did not introduce itself";
    }
    fds[static_cast<std::size_t>(index)] = fd;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> run_floor(const Options& o, RunResult& r) {
  r.mechanism = "floor";
  const std::size_t links = o.mode == "relay-floor" ? 2 : 1;
  const char* peer_name = links == 2 ? "relay peer" : "echo peer";
  const int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in at{};
  at.sin_family = AF_INET;
  at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof at;
  if (lfd < 0 || bind(lfd, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0 ||
      listen(lfd, static_cast<int>(links)) != 0 ||
      getsockname(lfd, reinterpret_cast<sockaddr*>(&at), &len) != 0) {
    return errno_text("floor: listening socket on 127.0.0.1", errno);
  }
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return errno_text(fmt::format("floor: fork of the {}", peer_name), errno);
  if (pid == 0) peer_main(at, links, o.size, o.peer_cpu);
  std::array<int, kMaxLinks> fds;
  fds.fill(-1);
  auto accepted = accept_links(lfd, links, fds);
  close(lfd);
  auto close_all = [&] {
    for (int fd : fds) {
      if (fd < 0) continue;
      shutdown(fd, SHUT_WR);
      close(fd);
    }
  };
  if (accepted) {
    close_all();
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return accepted;
  }

  std::string msg(o.size, 'f');
  msg.back() = '\n';
  std::string back(o.size, '\0');
  const std::uint64_t start = now_ns();
  const std::uint64_t window_start = start + static_cast<std::uint64_t>(o.warmup * 1e9);
  const std::uint64_t window_end = window_start + static_cast<std::uint64_t>(o.duration * 1e9);
  CpuTimes cpu0{};
  std::uint64_t t0 = 0, t1 = 0;
  bool begun = false;
  std::optional<std::string> err;
  std::optional<std::string> send_err;
  // One round trip: A sends; on the relay floor B receives and answers what it got at once (as
  // pingpong's responder does); A's receipt ends it. Timed like pingpong: from just before A's
  // send to just after A's receive.
  auto round_trip = [&]() -> bool {
    if ((send_err = write_all(fds[0], msg))) return false;
    for (std::size_t i = 1; i < links; ++i) {
      if (!recv_exact(fds[i], back.data(), back.size())) return false;
      if (back != msg) ++r.integrity.corrupted;
      if ((send_err = write_all(fds[i], back))) return false;
    }
    return recv_exact(fds[0], back.data(), back.size());
  };
  for (;;) {
    const std::uint64_t s = now_ns();
    if (!begun && s >= window_start) {
      begun = true;
      cpu0 = self_cpu_times();
      t0 = now_ns();
    }
    if (s >= window_end) break;
    errno = 0;
    if (!round_trip()) {
      if (send_err) {
        err = fmt::format("floor: the {} went away ({})", peer_name, *send_err);
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        err = fmt::format("floor: the {} did not answer within {} s", peer_name,
                          kPeerTimeoutMs / 1000);
      } else {
        err = errno == 0 ? fmt::format("floor: the {} went away (end of file)", peer_name)
                         : fmt::format("floor: the {} went away ({})", peer_name,
                                       errno_text("recv", errno));
      }
      break;
    }
    const std::uint64_t e = now_ns();
    if (back != msg) ++r.integrity.corrupted;
    if (begun) {
      r.latency.record(e - s);
      r.msgs += 2;  // two deliveries per round trip, as in pingpong
    }
  }
  t1 = now_ns();
  const CpuTimes cpu1 = self_cpu_times();
  close_all();
  // The peer exits on the end of file it now reads; one that stopped answering is not waited for.
  if (err) kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  if (begun) {
    r.measured = true;
    r.measured_s = static_cast<double>(t1 - t0) / 1e9;
    r.loadgen_cpu_pct =
        static_cast<double>(cpu1.total_us() - cpu0.total_us()) / (r.measured_s * 1e6) * 100;
  }
  if (err) return err;
  if (r.integrity.total() > 0) r.status = "integrity-errors";
  return std::nullopt;
}

}  // namespace mux
