// accept-counter: a test-only listener that accepts, greets and holds every connection, and
// counts them. Several processes share one port with SO_REUSEPORT, so that tests can hold more
// connections than one process's open-file limit allows (loadgen/tests/IdleHolders60kTest.cpp).
//
// Prints `listening HOST:PORT mechanism=accept-counter fd_limit=N` (the servers' listening
// line, common/ListeningLine.h) once listening. Each line on stdin asks for the counts:
// `counts accepted=A open=O closed=C`. At stdin EOF it prints the counts once more and exits,
// resetting what is still open.
//
// Each connection gets `* welcome\n` at once: the idle holders count a connection established
// when the server's first line arrives. Nothing else is ever sent; anything received is dropped.
#include <netdb.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "system.h"

namespace {

using mux::errno_text;

[[noreturn]] void die(const std::string& why) {
  fmt::print(stderr, "accept-counter: {}\n", why);
  std::exit(1);
}

int listen_on(const std::string& bind_address, int port, std::string& host_out, int& port_out) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(bind_address.c_str(), std::to_string(port).c_str(), &hints, &res)) {
    die(fmt::format("--bind {}: not a numeric IPv4 address ({})", bind_address, gai_strerror(rc)));
  }
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die(errno_text("socket", errno));
  const int one = 1;
  // SO_REUSEPORT: the kernel spreads incoming connections over every process listening on the
  // port (by a hash of the 4-tuple), which is what lets several of us share one port.
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    die(errno_text("setsockopt SO_REUSEADDR/SO_REUSEPORT", errno));
  }
  if (bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
    die(errno_text(fmt::format("bind {}:{}", bind_address, port), errno));
  }
  freeaddrinfo(res);
  if (listen(fd, SOMAXCONN) != 0) die(errno_text("listen", errno));
  sockaddr_in a{};
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  host_out = bind_address;
  port_out = ntohs(a.sin_port);
  return fd;
}

struct Counts {
  std::uint64_t accepted = 0, open = 0, closed = 0;
  std::string text() const {
    return fmt::format("counts accepted={} open={} closed={}", accepted, open, closed);
  }
};

void print_line(const std::string& line) {
  fmt::print("{}\n", line);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  std::string bind_address = "0.0.0.0";
  int port = 0;
  CLI::App app{"accept-counter: accept, greet, hold and count connections (a test listener)"};
  app.add_option("--bind", bind_address, "numeric IPv4 address")->capture_default_str();
  app.add_option("--port", port, "port (0: any free one); share it with SO_REUSEPORT")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  const std::uint64_t fd_limit = mux::raise_fd_limit();
  std::string host;
  const int listener = listen_on(bind_address, port, host, port);
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die(errno_text("epoll_create1", errno));
  auto watch = [ep](int fd, std::uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) die(errno_text("epoll_ctl ADD", errno));
  };
  watch(listener, EPOLLIN);
  watch(STDIN_FILENO, EPOLLIN);
  print_line(
      fmt::format("listening {}:{} mechanism=accept-counter fd_limit={}", host, port, fd_limit));

  Counts counts;
  std::vector<bool> held;
  std::vector<epoll_event> events(1024);
  char buf[4096];
  for (;;) {
    const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), -1);
    if (n < 0 && errno != EINTR) die(errno_text("epoll_wait", errno));
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == listener) {
        for (;;) {
          const int c = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (c < 0) {
            if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) break;
            // EMFILE included: this test tool has no reserve descriptor; the test must start
            // enough processes instead, so say how far this one got.
            die(errno_text(fmt::format("accept after {} open (fd_limit {})", counts.open, fd_limit),
                           errno));
          }
          static constexpr char kWelcome[] = "* welcome\n";
          send(c, kWelcome, sizeof kWelcome - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
          watch(c, EPOLLIN | EPOLLRDHUP);
          if (static_cast<std::size_t>(c) >= held.size()) held.resize(c + 4096, false);
          held[c] = true;
          ++counts.accepted;
          ++counts.open;
        }
      } else if (fd == STDIN_FILENO) {
        const ssize_t got = read(STDIN_FILENO, buf, sizeof buf);
        if (got <= 0) {
          print_line(counts.text());
          // Reset, not FIN: a FIN from us would leave each connection in TIME_WAIT on this
          // side for 60 s, thousands of them, when a failed test stops us with connections up.
          const linger hard{1, 0};
          for (std::size_t c = 0; c < held.size(); ++c) {
            if (!held[c]) continue;
            setsockopt(static_cast<int>(c), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
            close(static_cast<int>(c));
          }
          return 0;
        }
        for (ssize_t k = 0; k < got; ++k) {
          if (buf[k] == '\n') print_line(counts.text());
        }
      } else {
        const ssize_t got = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (got > 0 || (got < 0 && errno == EAGAIN)) continue;
        // EOF or reset: the client closed first, so no TIME_WAIT is left on our side.
        epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
        close(fd);
        held[fd] = false;
        --counts.open;
        ++counts.closed;
      }
    }
  }
}
