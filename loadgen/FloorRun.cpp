#include "FloorRun.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

#include <fmt/format.h>

#include "Net.h"
#include "system.h"

namespace mux {

namespace {

bool send_exact(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    p += k;
    n -= static_cast<std::size_t>(k);
  }
  return true;
}

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

[[noreturn]] void echo_peer(const sockaddr_in& at, std::size_t size, int cpu) {
  if (cpu >= 0) {
    if (auto err = pin_to_cpu(cpu)) {
      fmt::print(stderr, "loadgen: floor peer: {}\n", *err);
      _exit(1);
    }
  }
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<const sockaddr*>(&at), sizeof at) != 0) _exit(1);
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::string buf(size, '\0');
  while (recv_exact(fd, buf.data(), size) && send_exact(fd, buf.data(), size)) {
  }
  _exit(0);
}

}  // namespace

std::optional<std::string> run_floor(const Options& o, RunResult& r) {
  r.mechanism = "floor";
  const int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in at{};
  at.sin_family = AF_INET;
  at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof at;
  if (lfd < 0 || bind(lfd, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0 ||
      listen(lfd, 1) != 0 || getsockname(lfd, reinterpret_cast<sockaddr*>(&at), &len) != 0) {
    return errno_text("floor: listening socket on 127.0.0.1", errno);
  }
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return errno_text("floor: fork of the echo peer", errno);
  if (pid == 0) echo_peer(at, o.size, o.peer_cpu);
  const int fd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
  close(lfd);
  if (fd < 0) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return errno_text("floor: accept", errno);
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

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
  for (;;) {
    const std::uint64_t s = now_ns();
    if (!begun && s >= window_start) {
      begun = true;
      cpu0 = self_cpu_times();
      t0 = now_ns();
    }
    if (s >= window_end) break;
    if (!send_exact(fd, msg.data(), msg.size()) || !recv_exact(fd, back.data(), back.size())) {
      err = "floor: the echo peer went away";
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
  shutdown(fd, SHUT_WR);
  close(fd);
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
