#include "Net.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>

#include <fmt/format.h>

#include "system.h"

namespace mux {

std::uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

bool Endpoint::loopback() const {
  return (ntohl(addr.sin_addr.s_addr) >> 24) == 127;
}

std::variant<Endpoint, std::string> resolve(const std::string& host, int port) {
  if (port < 1 || port > 65535) return fmt::format("--port {}: not a TCP port (1-65535)", port);
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0 || res == nullptr) {
    return fmt::format("--host {}: cannot resolve to an IPv4 address ({})", host, gai_strerror(rc));
  }
  Endpoint e;
  e.addr = *reinterpret_cast<sockaddr_in*>(res->ai_addr);
  e.addr.sin_port = htons(static_cast<std::uint16_t>(port));
  freeaddrinfo(res);
  if (e.addr.sin_addr.s_addr == htonl(INADDR_ANY)) {
    // A server bound to every address prints `listening 0.0.0.0:PORT`. Linux connects 0.0.0.0 to
    // 127.0.0.1 (or to the bound source address), so name that: the idle holders then treat the
    // server as loopback and spread over 127.0.0.x sources.
    e.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  }
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &e.addr.sin_addr, buf, sizeof buf);
  e.text = fmt::format("{}:{}", buf, port);
  return e;
}

namespace {

// A typo such as 10.0.0.1-10.255.0.1 would otherwise expand to millions of addresses; no
// machine has this many local addresses to bind, nor a server this many to listen on.
constexpr std::uint64_t kMaxListedAddresses = 65536;

std::optional<std::uint32_t> parse_ipv4(std::string_view text) {
  in_addr a{};
  if (inet_pton(AF_INET, std::string(text).c_str(), &a) != 1) return std::nullopt;
  return ntohl(a.s_addr);
}

std::string bad_address(std::string_view option, std::string_view item, std::string_view text) {
  if (text.find(':') != std::string_view::npos) {
    return fmt::format(
        "{} {}: {} is an IPv6 address; the idle holders connect over IPv4 only (give IPv4 "
        "addresses)",
        option, item, text);
  }
  return fmt::format("{} {}: {} is not an IPv4 address (use A.B.C.D or a range A.B.C.D-E.F.G.H)",
                     option, item, text.empty() ? std::string_view("\"\"") : text);
}

}  // namespace

std::string ipv4_text(in_addr a) {
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

std::variant<std::vector<in_addr>, std::string> parse_ipv4_list(std::string_view list,
                                                                std::string_view option) {
  std::vector<in_addr> out;
  std::set<std::uint32_t> seen;
  if (list.empty()) return fmt::format("{}: give at least one address", option);
  for (std::size_t start = 0; start <= list.size();) {
    const std::size_t comma = std::min(list.find(',', start), list.size());
    const std::string_view item = list.substr(start, comma - start);
    start = comma + 1;
    if (item.empty())
      return fmt::format("{} {}: an empty item (two commas in a row?)", option, list);
    const std::size_t dash = item.find('-');
    const std::string_view first_text = item.substr(0, dash);
    const std::string_view last_text =
        dash == std::string_view::npos ? first_text : item.substr(dash + 1);
    const auto first = parse_ipv4(first_text);
    if (!first) return bad_address(option, item, first_text);
    const auto last = parse_ipv4(last_text);
    if (!last) return bad_address(option, item, last_text);
    if (*last < *first) {
      return fmt::format("{} {}: the range is reversed (write it as {}-{})", option, item,
                         last_text, first_text);
    }
    if (out.size() + (*last - *first) + 1 > kMaxListedAddresses) {
      return fmt::format("{} {}: more than {} addresses in the list", option, item,
                         kMaxListedAddresses);
    }
    for (std::uint64_t a = *first; a <= *last; ++a) {
      in_addr addr{};
      addr.s_addr = htonl(static_cast<std::uint32_t>(a));
      if (!seen.insert(static_cast<std::uint32_t>(a)).second) {
        // Counted twice, the address would be promised twice its ports.
        return fmt::format("{} {}: {} is already in the list", option, item, ipv4_text(addr));
      }
      out.push_back(addr);
    }
  }
  return out;
}

PortRange ephemeral_ports() {
  PortRange r;
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int lo = 0, hi = 0;
  if (in >> lo >> hi && lo > 0 && hi >= lo) r = {lo, hi};
  return r;
}

int bind_source(int fd, const in_addr& from) {
  // Without IP_BIND_ADDRESS_NO_PORT, bind() would pick a port unique on its own, limiting the
  // address to one connection per port whatever the destination; with it the kernel picks the
  // port at connect() time, where only the 4-tuple has to be unique: each destination gets the
  // whole port range again.
  const int one = 1;
  if (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one) != 0) return errno;
  sockaddr_in src{};
  src.sin_family = AF_INET;
  src.sin_addr = from;
  return bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) == 0 ? 0 : errno;
}

int start_connect(const Endpoint& to, const in_addr* from) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  if (from != nullptr) {
    if (const int err = bind_source(fd, *from); err != 0) {
      close(fd);
      return -err;
    }
  }
  if (connect(fd, reinterpret_cast<const sockaddr*>(&to.addr), sizeof to.addr) != 0 &&
      errno != EINPROGRESS) {
    const int err = errno;
    close(fd);
    return -err;
  }
  return fd;
}

std::string connect_hint(int err, const Endpoint& to) {
  switch (err) {
    case ECONNREFUSED:
      return fmt::format(
          "nothing is listening on {} (start a server, e.g. build/bin/chat-epoll "
          "--port {}, or pass --host/--port)",
          to.text, ntohs(to.addr.sin_port));
    case EMFILE: {
      rlimit lim{};
      getrlimit(RLIMIT_NOFILE, &lim);
      return fmt::format(
          "out of file descriptors: the open-file limit is {} (hard {}); raise it "
          "with ulimit -n, LimitNOFILE= or /etc/security/limits.conf",
          lim.rlim_cur, lim.rlim_max);
    }
    case ENFILE:
      return "the system is out of file descriptors (fs.file-max; raise it with sysctl)";
    case EADDRNOTAVAIL:
      return fmt::format(
          "local ports exhausted connecting to {} (net.ipv4.ip_local_port_range "
          "is {}-{}; use fewer connections per source address or widen the range)",
          to.text, ephemeral_ports().low, ephemeral_ports().high);
    case ETIMEDOUT:
      return fmt::format("connecting to {} timed out (is the server's accept queue stuck?)",
                         to.text);
    default:
      return errno_text(fmt::format("connect to {}", to.text), err);
  }
}

std::variant<int, std::string> connect_blocking(const Endpoint& to, int timeout_ms) {
  const int fd = start_connect(to, nullptr);
  if (fd < 0) return connect_hint(-fd, to);
  pollfd p{fd, POLLOUT, 0};
  const int n = poll(&p, 1, timeout_ms);
  int err = 0;
  socklen_t len = sizeof err;
  if (n == 0) {
    err = ETIMEDOUT;
  } else if (n < 0) {
    err = errno;
  } else {
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  }
  if (err != 0) {
    close(fd);
    return connect_hint(err, to);
  }
  const int flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

LineRead read_line(int fd, std::string& pending, int timeout_ms) {
  const std::uint64_t deadline = now_ns() + static_cast<std::uint64_t>(timeout_ms) * 1'000'000;
  LineRead r;
  for (;;) {
    const auto nl = pending.find('\n');
    if (nl != std::string::npos) {
      r.status = LineRead::Status::kLine;
      r.line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      if (!r.line.empty() && r.line.back() == '\r') r.line.pop_back();
      return r;
    }
    const std::uint64_t now = now_ns();
    if (now >= deadline) {
      r.status = LineRead::Status::kTimeout;
      return r;
    }
    pollfd p{fd, POLLIN, 0};
    // poll counts whole ms: round up, or the last turn would spin with a timeout of 0.
    const int n = poll(&p, 1, static_cast<int>((deadline - now + 999'999) / 1'000'000));
    if (n < 0 && errno != EINTR) {
      r.status = LineRead::Status::kError;
      r.error = errno_text("poll", errno);
      return r;
    }
    if (n <= 0) continue;
    // read(), not recv(): the same reader serves the idle helpers' report pipes.
    char buf[4096];
    const ssize_t got = read(fd, buf, sizeof buf);
    if (got > 0) {
      pending.append(buf, static_cast<std::size_t>(got));
    } else if (got == 0) {
      r.status = LineRead::Status::kEof;
      return r;
    } else if (errno != EAGAIN && errno != EINTR) {
      r.status = LineRead::Status::kError;
      r.error = errno_text("read", errno);
      return r;
    }
  }
}

std::optional<std::string> write_all(int fd, std::string_view data) {
  // send() with MSG_NOSIGNAL so that a peer gone away is an EPIPE to report, not a SIGPIPE that
  // kills us; a pipe (ENOTSOCK) falls back to write().
  bool socket = true;
  while (!data.empty()) {
    const ssize_t n = socket ? send(fd, data.data(), data.size(), MSG_NOSIGNAL)
                             : write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOTSOCK && socket) {
        socket = false;
        continue;
      }
      return errno_text(socket ? "send" : "write", errno);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return std::nullopt;
}

std::optional<std::string> write_text_file(const std::string& path, const std::string& text) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) return std::strerror(errno);
  const bool wrote = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  const int write_errno = errno;
  if (std::fclose(f) != 0 || !wrote) return std::strerror(wrote ? errno : write_errno);
  return std::nullopt;
}

}  // namespace mux
