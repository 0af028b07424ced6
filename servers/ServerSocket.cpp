#include "ServerSocket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "system.h"

namespace mux {

Listener::~Listener() {
  for (int fd : {fd, wake_read, wake_write, reserve_fd})
    if (fd >= 0) close(fd);
}

std::optional<std::string> open_listener(const ServerOptions& opt, Listener& l) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(opt.port);
  if (int rc = getaddrinfo(opt.bind.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return fmt::format("--bind {}: not a numeric IPv4/IPv6 address ({})", opt.bind,
                       gai_strerror(rc));
  }
  const std::string where = fmt::format("{}:{}", opt.bind, opt.port);
  l.fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (l.fd < 0) {
    freeaddrinfo(res);
    return errno_text("socket", errno);
  }
  int one = 1;
  setsockopt(l.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  // Chat lines are small writes: with Nagle's algorithm on, a line sent while the previous one
  // is unacknowledged waits for the peer's delayed ACK (up to 40 ms on Linux), and broadcast
  // latency would measure that instead of the mechanism. Accepted sockets inherit the option.
  setsockopt(l.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const int brc = bind(l.fd, res->ai_addr, res->ai_addrlen);
  const int berr = errno;
  freeaddrinfo(res);
  if (brc != 0) {
    return errno_text(fmt::format("bind {}{}", where,
                                  berr == EADDRINUSE ? " (another server is running there? try "
                                                       "--port 0 for any free port)"
                                                     : ""),
                      berr);
  }
  // SOMAXCONN: a benchmark opens thousands of connections in bursts; the kernel caps it further
  // at net.core.somaxconn.
  if (::listen(l.fd, SOMAXCONN) != 0) return errno_text("listen " + where, errno);

  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(l.fd, reinterpret_cast<sockaddr*>(&ss), &len);
  char host[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    l.host = fmt::format("[{}]", host);
    l.port = ntohs(a->sin6_port);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    l.host = host;
    l.port = ntohs(a->sin_port);
  }

  int pipefd[2];
  if (pipe2(pipefd, O_NONBLOCK | O_CLOEXEC) != 0) return errno_text("pipe2", errno);
  l.wake_read = pipefd[0];
  l.wake_write = pipefd[1];
  l.reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  return std::nullopt;
}

std::string listening_line(const Listener& l, std::string_view mechanism, std::uint64_t fd_limit,
                           std::optional<std::uint64_t> max_conns) {
  std::string line =
      fmt::format("listening {}:{} mechanism={} fd_limit={}", l.host, l.port, mechanism, fd_limit);
  if (max_conns) fmt::format_to(std::back_inserter(line), " max_conns={}", *max_conns);
  return line;
}

void wake(const Listener& l) {
  const int saved = errno;
  const char byte = 1;
  [[maybe_unused]] ssize_t rc = write(l.wake_write, &byte, 1);
  errno = saved;
}

int graceful_close(int fd) {
  // close() on a socket with unread input makes the kernel send RST, and a peer that gets RST
  // may discard our final line ("* bye", "! line too long") before reading it. So: FIN first,
  // then discard what is already queued, then close.
  shutdown(fd, SHUT_WR);
  int calls = 2;
  char sink[4096];
  for (int i = 0; i < 64; ++i) {
    ++calls;
    if (recv(fd, sink, sizeof sink, MSG_DONTWAIT) <= 0) break;
  }
  close(fd);
  return calls;
}

int refuse(int fd, std::string_view line) {
  // A fresh socket's send buffer is empty, so this line fits without blocking.
  [[maybe_unused]] ssize_t rc = send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  return 1 + graceful_close(fd);
}

bool refuse_for_want_of_descriptors(Listener& l, std::uint64_t fd_limit, SyscallCounts& sys) {
  if (l.reserve_fd < 0) return false;
  close(l.reserve_fd);
  const int victim = accept4(l.fd, nullptr, nullptr, SOCK_CLOEXEC);
  ++sys.accept;
  if (victim >= 0) {
    sys.close += refuse(
        victim, fmt::format("! server full: out of file descriptors (limit {})\n", fd_limit));
  }
  l.reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  sys.other += 2;
  return victim >= 0;
}

}  // namespace mux
