#include "IdleHolders.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <variant>

#include <fmt/format.h>

#include "system.h"

namespace mux {

namespace {

// Connections between connect() and the server's first line, per helper. Far below the
// listen backlog (net.core.somaxconn, 4096 by default since Linux 5.4): a full accept queue
// drops SYNs and the client retries only after a 1 s timeout, which would make opening slow.
constexpr int kInFlight = 256;
// Descriptors a helper keeps for itself (pipes, epoll, stdio) below its open-file limit.
constexpr std::uint64_t kReservedFds = 16;

// 127.0.0.2-127.0.0.254: all of 127/8 is local on Linux, no configuration needed (127.0.0.1 is
// the default source of everything else, and the active connections').
constexpr std::uint32_t kFirstLoopbackSource = (127u << 24) | 2;
constexpr std::uint64_t kLoopbackSources = 253;

// Where connection i goes: destination i % D, then, among that destination's connections, source
// (i / D) % S, so that every (source, destination) pair carries an equal share.
struct Spread {
  std::vector<Endpoint> destinations;
  std::vector<in_addr> sources;  // empty: no binding, the kernel picks one

  std::uint32_t destination_of(std::uint64_t i) const {
    return static_cast<std::uint32_t>(i % destinations.size());
  }
  const in_addr* source_of(std::uint64_t i) const {
    return sources.empty() ? nullptr : &sources[(i / destinations.size()) % sources.size()];
  }
  std::string text() const {
    if (destinations.size() == 1) return destinations[0].text;
    return fmt::format("{} and {} other destination(s)", destinations[0].text,
                       destinations.size() - 1);
  }
};

bool all_loopback(const std::vector<Endpoint>& destinations) {
  return std::all_of(destinations.begin(), destinations.end(),
                     [](const Endpoint& e) { return e.loopback(); });
}

std::uint64_t ceil_div(std::uint64_t a, std::uint64_t b) {
  return (a + b - 1) / b;
}

// The addresses for o.count connections, or why they cannot hold them: each (source,
// destination) pair holds at most per_pair connections, one per local port.
std::variant<Spread, std::string> plan_spread(const IdleOptions& o) {
  Spread s;
  s.destinations = o.destinations.empty() ? std::vector<Endpoint>{o.server} : o.destinations;
  const std::uint64_t d = s.destinations.size();
  const PortRange ports = ephemeral_ports();
  // Half the range per pair leaves the kernel's port search (which probes from a random offset)
  // short, and the other half for TIME_WAIT leftovers and anyone else's connections.
  const std::uint64_t per_pair =
      o.per_pair > 0 ? o.per_pair : static_cast<std::uint64_t>(ports.size() / 2);
  const std::string budget =
      o.per_pair > 0
          ? "--idle-per-pair"
          : fmt::format("half of net.ipv4.ip_local_port_range {}-{}", ports.low, ports.high);
  if (!o.sources.empty()) {
    s.sources = o.sources;
  } else if (all_loopback(s.destinations)) {
    const std::uint64_t needed = ceil_div(o.count, d * per_pair);
    if (needed > kLoopbackSources) {
      return fmt::format(
          "{} idle connections to {} destination(s) need {} loopback source addresses of {} "
          "ports each ({}) but 127.0.0.2-127.0.0.254 has {}; add destinations with "
          "--idle-destinations (a server bound to 0.0.0.0 accepts on every 127.x.y.z) or widen "
          "net.ipv4.ip_local_port_range",
          o.count, d, needed, per_pair, budget, kLoopbackSources);
    }
    for (std::uint64_t k = 0; k < needed; ++k) {
      s.sources.push_back(in_addr{htonl(kFirstLoopbackSource + static_cast<std::uint32_t>(k))});
    }
  }
  const std::uint64_t sources = std::max<std::uint64_t>(1, s.sources.size());
  if (o.count > sources * d * per_pair) {
    return fmt::format(
        "{} idle connections need {} (source, destination) address pairs of {} ports each ({}), "
        "but {} source(s) x {} destination(s) make {} pair(s), room for {}; add addresses with "
        "--idle-sources or --idle-destinations (a server bound to 0.0.0.0 accepts on every "
        "address it has)",
        o.count, ceil_div(o.count, per_pair), per_pair, budget, sources, d, sources * d,
        sources * d * per_pair);
  }
  return s;
}

// Every listed source must be an address of this host: bind() says so now, before any
// connection, instead of a misleading "ports exhausted" from the first connect.
std::optional<std::string> check_sources(const std::vector<in_addr>& sources) {
  for (const in_addr& a : sources) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno_text("socket", errno);
    const int err = bind_source(fd, a);
    close(fd);
    if (err == EADDRNOTAVAIL) {
      return fmt::format(
          "--idle-sources: {} is not an address of this host (list them with `ip -4 addr`)",
          ipv4_text(a));
    }
    if (err != 0) return errno_text(fmt::format("--idle-sources: bind {}", ipv4_text(a)), err);
  }
  return std::nullopt;
}

struct Share {
  std::uint64_t first = 0;  // global index of the helper's first connection
  std::uint64_t count = 0;
};

// A report line to the parent. When it cannot be written the parent is gone or its end is
// closed; it will see our exit instead, but say why on the stderr we share.
void write_line(int fd, const std::string& line) {
  if (auto err = write_all(fd, line + "\n")) {
    fmt::print(stderr, "loadgen: idle helper {}: cannot report to loadgen: {}\n", getpid(), *err);
  }
}

// Reads and discards what is waiting; false when the connection is closed or broken.
bool drain(int fd) {
  char buf[4096];
  for (;;) {
    const ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) continue;
    if (n == 0) return false;
    return errno == EAGAIN || errno == EINTR;
  }
}

// The helper process body: never returns.
[[noreturn]] void helper_main(const IdleOptions& o, const Spread& spread, const Share& share,
                              int command_fd, int report_fd) {
  const std::uint64_t limit = raise_fd_limit();
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) {
    write_line(report_fd, "error " + errno_text("epoll_create1", errno));
    _exit(1);
  }
  enum : std::uint8_t { kFree, kPending, kHeld };
  std::vector<std::uint8_t> state;
  std::vector<std::uint32_t> destination;  // per descriptor, for error messages
  auto set_state = [&](int fd, std::uint8_t s) {
    if (static_cast<std::size_t>(fd) >= state.size()) {
      state.resize(fd + 1024, kFree);
      destination.resize(fd + 1024, 0);
    }
    state[fd] = s;
  };
  std::uint64_t next = 0, pending = 0, established = 0, refused = 0, dropped = 0;
  std::uint64_t last_progress = now_ns();
  auto fail = [&](const std::string& why) {
    write_line(report_fd, fmt::format("error {} (after {} of {} idle connections in this helper "
                                      "were established)",
                                      why, established, share.count));
    _exit(1);
  };

  std::vector<epoll_event> events(1024);
  while (established + refused + dropped < share.count) {
    while (pending < kInFlight && next < share.count) {
      const std::uint32_t to = spread.destination_of(share.first + next);
      const Endpoint& server = spread.destinations[to];
      const int fd = start_connect(server, spread.source_of(share.first + next));
      if (fd < 0) {
        if (-fd == EMFILE) {
          fail(
              fmt::format("out of file descriptors: this helper's open-file limit is {} "
                          "(raise it with ulimit -n)",
                          limit));
        }
        fail(connect_hint(-fd, server));
      }
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLRDHUP;
      ev.data.fd = fd;
      if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) fail(errno_text("epoll_ctl", errno));
      set_state(fd, kPending);
      destination[fd] = to;
      ++pending;
      ++next;
    }
    const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 1000);
    if (n < 0 && errno != EINTR) fail(errno_text("epoll_wait", errno));
    const std::uint64_t now = now_ns();
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (state[fd] == kHeld) {
        if (!drain(fd)) {
          ++dropped;
          epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
          close(fd);
          state[fd] = kFree;
        }
        continue;
      }
      last_progress = now;
      --pending;
      char first = 0;
      const ssize_t got = recv(fd, &first, 1, 0);
      if (got < 0 && errno == EAGAIN) {
        ++pending;  // spurious wake-up: still waiting for the first line
        continue;
      }
      if (got < 0) {
        const int err = errno;
        const Endpoint& server = spread.destinations[destination[fd]];
        if (err == ECONNREFUSED) fail(connect_hint(err, server));
        if (err == ECONNRESET) {
          // A reset before any line: the server closed a connection it could not take.
          ++refused;
        } else {
          fail(errno_text(fmt::format("connection to {}", server.text), err));
        }
      } else if (got == 1 && first == '*') {
        ++established;
        state[fd] = kHeld;
        if (!drain(fd)) {
          ++dropped;
          state[fd] = kFree;
          epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
          close(fd);
        }
        continue;
      } else {
        // `! server full ...`, or closed without a word: refused either way.
        ++refused;
      }
      epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
      close(fd);
      state[fd] = kFree;
    }
    if (now - last_progress > static_cast<std::uint64_t>(o.stall_timeout_ms) * 1'000'000) {
      fail(fmt::format("the server at {} stopped answering new connections for {} s", spread.text(),
                       o.stall_timeout_ms / 1000));
    }
  }
  write_line(report_fd, fmt::format("ok {} {} {}", established - dropped, refused, dropped));

  epoll_event cev{};
  cev.events = EPOLLIN;
  cev.data.fd = command_fd;
  epoll_ctl(ep, EPOLL_CTL_ADD, command_fd, &cev);
  set_state(command_fd, kFree);
  for (bool released = false; !released;) {
    const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), -1);
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == command_fd) {
        released = true;  // EOF (or anything): the parent wants us to finish
      } else if (state[fd] == kHeld && !drain(fd)) {
        epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
        close(fd);
        state[fd] = kFree;
      }
    }
  }
  std::uint64_t open = 0;
  const linger hard{1, 0};
  for (std::size_t fd = 0; fd < state.size(); ++fd) {
    if (state[fd] != kHeld) continue;
    if (drain(static_cast<int>(fd))) ++open;
    // Reset instead of FIN: thousands of TIME_WAIT sockets on our side would otherwise pile up
    // over a sweep of repeated holds.
    setsockopt(static_cast<int>(fd), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    close(static_cast<int>(fd));
  }
  write_line(report_fd, fmt::format("released {}", open));
  _exit(0);
}

}  // namespace

IdleHolders::~IdleHolders() {
  stop_all();
}

void IdleHolders::stop_all() {
  for (auto& h : helpers_) {
    if (h.command_fd >= 0) close(h.command_fd);
    if (h.report_fd >= 0) close(h.report_fd);
    if (h.pid > 0) {
      kill(h.pid, SIGKILL);
      waitpid(h.pid, nullptr, 0);
    }
  }
  helpers_.clear();
}

std::optional<std::string> IdleHolders::read_report(Helper& h, std::string& line, int timeout_ms) {
  auto got = mux::read_line(h.report_fd, h.pending, timeout_ms);
  switch (got.status) {
    case LineRead::Status::kLine:
      line = std::move(got.line);
      return std::nullopt;
    case LineRead::Status::kTimeout:
      return fmt::format("idle helper process {} did not report within {} s", h.pid,
                         timeout_ms / 1000);
    case LineRead::Status::kError:
      return fmt::format("reading idle helper {}'s report: {}", h.pid, got.error);
    case LineRead::Status::kEof:
      break;
  }
  int st = 0;
  waitpid(h.pid, &st, 0);
  const pid_t pid = h.pid;
  h.pid = -1;
  return WIFSIGNALED(st)
             ? fmt::format("idle helper process {} was killed by signal {} ({})", pid, WTERMSIG(st),
                           strsignal(WTERMSIG(st)))
             : fmt::format("idle helper process {} exited (status {}) without reporting", pid,
                           WEXITSTATUS(st));
}

std::optional<std::string> IdleHolders::open(const IdleOptions& o) {
  status_ = IdleStatus{};
  status_.requested = o.count;
  if (o.count == 0) return std::nullopt;
  const std::uint64_t start = now_ns();

  const std::uint64_t limit = raise_fd_limit();
  if (limit <= kReservedFds + 1) {
    return fmt::format(
        "the open-file limit is {}, too small to hold idle connections (raise it "
        "with ulimit -n)",
        limit);
  }
  std::uint64_t per_process = limit - kReservedFds;
  if (o.per_process > 0) per_process = std::min(per_process, o.per_process);
  const std::uint64_t processes = (o.count + per_process - 1) / per_process;

  auto planned = plan_spread(o);
  if (auto* err = std::get_if<std::string>(&planned)) return *err;
  const Spread& spread = std::get<Spread>(planned);
  if (!o.sources.empty()) {
    if (auto err = check_sources(o.sources)) return err;
  }
  status_.processes = processes;
  status_.sources = spread.sources.size();
  status_.destinations = spread.destinations.size();

  std::fflush(nullptr);  // a forked child must not flush our buffered output a second time
  for (std::uint64_t p = 0; p < processes; ++p) {
    Share share;
    share.first = p * per_process;
    share.count = std::min(per_process, o.count - share.first);
    int cmd[2], rep[2];
    if (pipe2(cmd, O_CLOEXEC) != 0 || pipe2(rep, O_CLOEXEC) != 0) {
      stop_all();
      return errno_text("pipe for an idle helper", errno);
    }
    const pid_t pid = fork();
    if (pid < 0) {
      const int err = errno;
      stop_all();
      return errno_text(fmt::format("fork of idle helper {} of {}", p + 1, processes), err);
    }
    if (pid == 0) {
      // Nothing but our own pipes and stdio stays open here: other helpers' pipe ends would keep
      // their release (EOF) from ever coming, and the parent's control connection would outlive
      // the parent in us.
      close(cmd[1]);
      close(rep[0]);
      const unsigned lo = static_cast<unsigned>(std::min(cmd[0], rep[1]));
      const unsigned hi = static_cast<unsigned>(std::max(cmd[0], rep[1]));
      if (lo > 3) close_range(3, lo - 1, 0);
      if (hi > lo + 1) close_range(lo + 1, hi - 1, 0);
      close_range(hi + 1, ~0U, 0);
      signal(SIGINT, SIG_IGN);  // Ctrl-C goes to the whole group; the parent releases us
      helper_main(o, spread, share, cmd[0], rep[1]);
    }
    close(cmd[0]);
    close(rep[1]);
    helpers_.push_back(Helper{pid, cmd[1], rep[0], {}});
  }

  for (auto& h : helpers_) {
    std::string line;
    // Each helper gives up on its own after stall_timeout_ms without progress; this bound is
    // only for a helper that hangs outright.
    if (auto err = read_report(h, line, 600'000)) {
      stop_all();
      return err;
    }
    if (line.rfind("error ", 0) == 0) {
      stop_all();
      return line.substr(6);
    }
    unsigned long long est = 0, ref = 0, dropped = 0;
    if (std::sscanf(line.c_str(), "ok %llu %llu %llu", &est, &ref, &dropped) != 3) {
      stop_all();
      return fmt::format("idle helper {} sent a garbled report: {}", h.pid, line);
    }
    status_.established += est;
    status_.refused += ref;
  }
  status_.open_seconds = static_cast<double>(now_ns() - start) / 1e9;
  return std::nullopt;
}

std::optional<std::string> IdleHolders::release() {
  for (auto& h : helpers_) {
    close(h.command_fd);
    h.command_fd = -1;
  }
  status_.open = 0;
  std::optional<std::string> first_error;
  for (auto& h : helpers_) {
    std::string line;
    unsigned long long open = 0;
    if (auto err = read_report(h, line, 60'000)) {
      if (!first_error) first_error = err;
    } else if (std::sscanf(line.c_str(), "released %llu", &open) == 1) {
      status_.open += open;
    } else if (!first_error) {
      first_error = fmt::format("idle helper {} sent a garbled report: {}", h.pid, line);
    }
    if (h.pid > 0) waitpid(h.pid, nullptr, 0);
    h.pid = -1;
    close(h.report_fd);
    h.report_fd = -1;
  }
  helpers_.clear();
  return first_error;
}

}  // namespace mux
