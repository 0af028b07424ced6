#include "ChatServer.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "system.h"

namespace mux {
namespace {

constexpr std::string_view kHelp[] = {
    "* commands:",
    "*   /nick NAME  rename yourself (1-32 characters of A-Z a-z 0-9 _ -)",
    "*   /join ROOM  leave your room and enter ROOM",
    "*   /who        list the members of your room",
    "*   /stats      server counters as one JSON line",
    "*   /quit       disconnect",
    "*   any other line is sent to the other members of your room",
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Closes a socket we are done with without turning our last line into a reset: close() on a
// socket with unread input makes the kernel send RST, and a peer that gets RST may discard our
// final line ("* bye", "! line too long") before reading it. So: FIN first, then discard what is
// already queued, then close.
void graceful_close(int fd) {
  shutdown(fd, SHUT_WR);
  char sink[4096];
  for (int i = 0; i < 64 && recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0; ++i) {
  }
  close(fd);
}

}  // namespace

ChatServer::ChatServer(ServerOptions options, std::unique_ptr<Poller> poller,
                       std::uint64_t fd_limit)
    : opt_(std::move(options)), poller_(std::move(poller)), fd_limit_(fd_limit) {}

ChatServer::~ChatServer() {
  for (auto& c : conns_)
    if (c) close(c->fd);
  for (int fd : {listen_fd_, wake_read_, wake_write_, reserve_fd_})
    if (fd >= 0) close(fd);
}

std::optional<std::string> ChatServer::listen() {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(opt_.port);
  if (int rc = getaddrinfo(opt_.bind.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return fmt::format("--bind {}: not a numeric IPv4/IPv6 address ({})", opt_.bind,
                       gai_strerror(rc));
  }
  const std::string where = fmt::format("{}:{}", opt_.bind, opt_.port);
  listen_fd_ = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) {
    freeaddrinfo(res);
    return errno_text("socket", errno);
  }
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const int brc = bind(listen_fd_, res->ai_addr, res->ai_addrlen);
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
  if (::listen(listen_fd_, SOMAXCONN) != 0) return errno_text("listen " + where, errno);

  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len);
  char host[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    bound_host_ = fmt::format("[{}]", host);
    bound_port_ = ntohs(a->sin6_port);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    bound_host_ = host;
    bound_port_ = ntohs(a->sin_port);
  }

  int pipefd[2];
  if (pipe2(pipefd, O_NONBLOCK | O_CLOEXEC) != 0) return errno_text("pipe2", errno);
  wake_read_ = pipefd[0];
  wake_write_ = pipefd[1];
  reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);

  if (auto err = poller_->add(listen_fd_, kReadable))
    return "watching the listening socket: " + *err;
  if (auto err = poller_->add(wake_read_, kReadable)) return "watching the wake-up pipe: " + *err;
  return std::nullopt;
}

std::string ChatServer::listening_line() const {
  return fmt::format("listening {}:{} mechanism={} fd_limit={}", bound_host_, bound_port_,
                     poller_->name(), fd_limit_);
}

void ChatServer::request_stop() {
  const int saved = errno;
  const char byte = 1;
  [[maybe_unused]] ssize_t rc = write(wake_write_, &byte, 1);
  errno = saved;
}

std::optional<std::string> ChatServer::run() {
  while (!stopping_) {
    // No timeout: with nothing to do the server sleeps in the kernel and uses no CPU, however
    // many idle connections it holds.
    if (auto err = poller_->wait(ready_, -1)) return err;
    for (const ReadyEvent& ev : ready_) {
      if (ev.fd == listen_fd_) {
        accept_all();
      } else if (ev.fd == wake_read_) {
        stopping_ = true;
      } else {
        on_ready(ev);
      }
    }
    settle();
  }
  return std::nullopt;
}

void ChatServer::accept_all() {
  // Accept until EAGAIN in every mode: edge-triggered epoll requires it, and for the
  // level-triggered mechanisms it saves one wait call per queued connection.
  for (;;) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) return;
      if (err == EINTR || err == ECONNABORTED) continue;
      if ((err == EMFILE || err == ENFILE) && reserve_fd_ >= 0) {
        // Out of descriptors: the pending connection would keep the listening socket readable
        // and a level-triggered loop would spin. Give up the spare descriptor, accept, refuse
        // with a line that says which limit, and take the spare back.
        close(reserve_fd_);
        const int victim = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (victim >= 0) {
          refuse(victim,
                 fmt::format("! server full: out of file descriptors (limit {})\n", fd_limit_));
        }
        reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (victim < 0) return;
        continue;
      }
      fmt::print(stderr, "{}\n", errno_text("accept4", err));
      return;
    }
    if (auto why = poller_->add(fd, kReadable)) {
      refuse(fd, fmt::format("! server full: {}\n", *why));
      continue;
    }
    // Chat lines are small writes: with Nagle's algorithm on, a line sent while the previous one
    // is unacknowledged waits for the peer's delayed ACK (up to 40 ms on Linux), and broadcast
    // latency would measure that instead of the mechanism.
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (static_cast<std::size_t>(fd) >= conns_.size()) conns_.resize(fd + 1);
    conns_[fd] = std::make_unique<Connection>(opt_.max_line);
    Connection& c = *conns_[fd];
    c.fd = fd;
    c.interest = kReadable;
    ++n_.accepted;
    if (++n_.current > n_.peak) n_.peak = n_.current;
    rooms_.admit(c);
    send_line(c, fmt::format("* welcome {} (room lobby; /help for commands)", c.nick));
    if (!opt_.quiet) broadcast(c, fmt::format("* {} joined\n", c.nick), false);
  }
}

void ChatServer::refuse(int fd, std::string_view line) {
  ++n_.refused;
  // A fresh socket's send buffer is empty, so this line fits without blocking.
  [[maybe_unused]] ssize_t rc = send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  graceful_close(fd);
}

void ChatServer::on_ready(const ReadyEvent& ev) {
  if (ev.fd < 0 || static_cast<std::size_t>(ev.fd) >= conns_.size()) return;
  Connection* c = conns_[ev.fd].get();
  if (!c || c->doomed) return;
  if ((ev.what & kWritable) && !c->out.empty()) flush(*c);
  if (!c->doomed && (ev.what & (kReadable | kHangup | kError))) on_readable(*c);
}

void ChatServer::on_readable(Connection& c) {
  for (;;) {
    const ssize_t n = recv(c.fd, read_buf_.data(), read_buf_.size(), 0);
    if (n > 0) {
      n_.bytes_in += n;
      if (c.closing) continue;  // input after /quit or an over-long line is discarded
      const auto result = c.in.feed(std::string_view(read_buf_.data(), n),
                                    [&](std::string_view line) { return on_line(c, line); });
      if (result == LineFramer::Result::kTooLong) {
        ++n_.overlong_dropped;
        send_line(c, fmt::format("! line too long (max {} bytes)", opt_.max_line));
        close_after_flush(c);
        return;
      }
      if (c.closing || c.doomed) return;
      // Level-triggered: one read per event; the mechanism reports the rest next call.
      // Edge-triggered: read until EAGAIN. The shortcut epoll(7) allows (stop at a short read)
      // loses an EOF that arrived together with the last data: both raise one edge, the short
      // read consumes the data and no further edge ever reports the EOF (the half-close test
      // caught it). The extra recv that returns EAGAIN is the price of edge-triggering.
      if (!poller_->edge_triggered()) return;
      continue;
    }
    if (n == 0) {
      // EOF: the peer half-closed or closed. A last line without `\n` is still a message; then
      // the connection leaves, after the peer (which may still be reading) gets pending output.
      if (!c.closing && !c.in.pending().empty()) {
        const std::string last(c.in.pending());
        c.in.clear();
        on_line(c, last);
      }
      close_after_flush(c);
      return;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) doom(c);  // ECONNRESET and friends
    return;
  }
}

bool ChatServer::on_line(Connection& c, std::string_view line) {
  if (!line.empty() && line.front() == '/') {
    const std::size_t sp = line.find(' ');
    const std::string_view cmd = line.substr(0, sp);
    const std::string_view arg = sp == std::string_view::npos ? "" : trim(line.substr(sp + 1));
    on_command(c, cmd, arg);
    return !c.closing && !c.doomed;
  }
  ++n_.msgs_in;
  line_buf_.clear();
  fmt::format_to(std::back_inserter(line_buf_), "<{}> ", c.nick);
  line_buf_.append(line);
  line_buf_ += '\n';
  broadcast(c, line_buf_, true);
  return true;
}

void ChatServer::on_command(Connection& c, std::string_view cmd, std::string_view arg) {
  if (cmd == "/nick" || cmd == "/join") {
    const bool nick = cmd == "/nick";
    if (arg.empty()) return send_line(c, nick ? "! usage: /nick NAME" : "! usage: /join ROOM");
    if (auto why = invalid_name_reason(arg)) {
      return send_line(c, fmt::format("! invalid name: {}", *why));
    }
    const std::string name(arg);
    if (nick) {
      const std::string old = c.nick;
      if (!rooms_.rename(c, name)) return send_line(c, fmt::format("! nick taken: {}", name));
      send_line(c, fmt::format("* you are now {}", name));
      if (!opt_.quiet && old != name)
        broadcast(c, fmt::format("* {} is now {}\n", old, name), false);
    } else {
      if (name != c.room) {
        if (!opt_.quiet) broadcast(c, fmt::format("* {} left\n", c.nick), false);
        rooms_.join(c, name);
        if (!opt_.quiet) broadcast(c, fmt::format("* {} joined\n", c.nick), false);
      }
      send_line(c, fmt::format("* you joined {}", name));
    }
  } else if (cmd == "/who") {
    const auto& members = rooms_.members(c.room);
    std::string line = fmt::format("* members of {} ({}):", c.room, members.size());
    for (const Member* m : members) {
      line += ' ';
      line += m->nick;
    }
    send_line(c, line);
  } else if (cmd == "/stats") {
    send_line(c, stats_json());
  } else if (cmd == "/quit") {
    send_line(c, "* bye");
    close_after_flush(c);
  } else if (cmd == "/help") {
    for (std::string_view h : kHelp) send_line(c, h);
  } else {
    send_line(c, fmt::format("! unknown command: {} (try /help)", cmd));
  }
}

void ChatServer::broadcast(const Connection& from, std::string_view bytes, bool is_message) {
  for (Member* m : rooms_.members(from.room)) {
    if (m == &from) continue;
    auto& to = static_cast<Connection&>(*m);
    if (to.doomed || to.closing) continue;
    queue(to, bytes);
    if (is_message) ++n_.msgs_out;
  }
}

void ChatServer::send_line(Connection& c, std::string_view line) {
  if (c.doomed) return;
  queue(c, line, "\n");
}

void ChatServer::queue(Connection& c, std::string_view bytes, std::string_view tail) {
  c.out.append(bytes);
  c.out.append(tail);
  if (c.out.size() > opt_.max_outbuf) {
    // Over the bound: give the kernel a chance first, so that only a peer that really stopped
    // reading is dropped, not one that is merely behind within this loop iteration.
    flush(c);
    if (!c.doomed && c.out.size() > opt_.max_outbuf) {
      ++n_.slow_dropped;
      doom(c);
      return;
    }
  }
  if (!c.dirty && !c.doomed) {
    c.dirty = true;
    dirty_.push_back(c.fd);
  }
}

void ChatServer::flush(Connection& c) {
  while (!c.out.empty()) {
    const std::string_view data = c.out.front();
    const ssize_t n = send(c.fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return doom(c);  // EPIPE, ECONNRESET
      break;
    }
    n_.bytes_out += n;
    c.out.consume(n);
    if (static_cast<std::size_t>(n) < data.size()) break;  // send buffer full
  }
  if (c.closing && c.out.empty()) return doom(c);
  update_interest(c);
}

void ChatServer::close_after_flush(Connection& c) {
  c.closing = true;
  // Write the last lines now: usually they fit, the connection closes at once, and the interest
  // change a level-triggered backend would otherwise make (one epoll_ctl per /quit) is saved.
  flush(c);
}

void ChatServer::update_interest(Connection& c) {
  // A closing connection stops reading: after EOF a level-triggered mechanism would otherwise
  // report the socket readable on every call until the last bytes are flushed.
  const std::uint8_t want = (c.closing ? 0 : kReadable) | (c.out.empty() ? 0 : kWritable);
  if (want == c.interest) return;
  c.interest = want;
  if (auto err = poller_->modify(c.fd, want)) {
    fmt::print(stderr, "{}: closing descriptor {}\n", *err, c.fd);
    doom(c);
  }
}

void ChatServer::doom(Connection& c) {
  if (c.doomed) return;
  c.doomed = true;
  doomed_.push_back(c.fd);
}

void ChatServer::settle() {
  // Output is written once per loop iteration, after every ready descriptor was served, so a
  // burst of messages to one receiver costs one send. Closing may queue "left" notices, and a
  // flush may find a dead peer: repeat until both lists are empty.
  std::vector<int> batch;
  while (!dirty_.empty() || !doomed_.empty()) {
    batch.swap(dirty_);
    for (int fd : batch) {
      Connection* c = conns_[fd].get();
      if (!c || c->doomed) continue;
      c->dirty = false;
      flush(*c);
    }
    batch.clear();
    batch.swap(doomed_);
    for (int fd : batch)
      if (conns_[fd]) close_connection(*conns_[fd]);
    batch.clear();
  }
}

void ChatServer::close_connection(Connection& c) {
  const int fd = c.fd;
  poller_->remove(fd);
  if (!opt_.quiet) {
    broadcast(c, fmt::format("* {} left\n", c.nick), false);
  }
  rooms_.forget(c);
  --n_.current;
  graceful_close(fd);
  conns_[fd].reset();
}

std::string ChatServer::stats_json() const {
  const PollerCounters& p = poller_->counters();
  const CpuTimes cpu = self_cpu_times();
  return fmt::format(
      R"({{"mechanism":"{}","accepted":{},"refused":{},"current":{},"peak":{},"msgs_in":{},)"
      R"("msgs_out":{},"bytes_in":{},"bytes_out":{},"wait_calls":{},"events":{},"fds_passed":{},)"
      R"("ctl_calls":{},"slow_dropped":{},"overlong_dropped":{},"cpu_user_us":{},"cpu_sys_us":{},)"
      R"("fd_limit":{}}})",
      poller_->name(), n_.accepted, n_.refused, n_.current, n_.peak, n_.msgs_in, n_.msgs_out,
      n_.bytes_in, n_.bytes_out, p.wait_calls, p.events_returned, p.fds_passed, p.ctl_calls,
      n_.slow_dropped, n_.overlong_dropped, cpu.user_us, cpu.system_us, fd_limit_);
}

}  // namespace mux
