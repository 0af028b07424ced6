#include "ChurnRun.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "LineFramer.h"
#include "MessageCodec.h"
#include "Progress.h"
#include "WindowMeter.h"
#include "system.h"

namespace mux {

namespace {

enum class Phase { kSetup, kWarmup, kWindow, kDrain, kDone };
constexpr int kSetupTimeoutMs = 10000;
// epoll data of the server's pidfd; slots use 2 * index + churner.
constexpr std::uint64_t kWatchEvent = UINT64_MAX;

struct Slot {
  std::uint32_t index = 0;
  std::string room, nick;
  int partner_fd = -1;
  LineFramer partner_in{kMaxServerLine};
  bool partner_joined = false;
  IntegrityChecker checker;  // the churners' messages as the partner sees them
  std::uint64_t sent = 0;    // churners started = messages sent
  int churn_fd = -1;
  LineFramer churn_in{kMaxServerLine};
  std::uint64_t started_ns = 0;
  bool welcomed = false, eof = false, delivered = false;
};

class Churn {
 public:
  Churn(const Options& o, const Endpoint& server, ServerControl& control, RunResult& r)
      : o_(o), server_(server), r_(r), codec_(o.size), meter_(o, control), watch_(o.server_pid) {}
  RunOutcome run();

 private:
  static std::uint64_t key(std::size_t slot, bool churner) { return slot * 2 + churner; }
  std::optional<std::string> setup();
  void start_churner(Slot& s);
  void close_churner(Slot& s);
  void on_partner(Slot& s);
  void on_churner(Slot& s);
  void maybe_complete(Slot& s, std::uint64_t now);
  void died(const std::string& why);
  bool sending() const { return phase_ == Phase::kWarmup || phase_ == Phase::kWindow; }

  const Options& o_;
  const Endpoint& server_;
  RunResult& r_;
  MessageCodec codec_;
  WindowMeter meter_;
  ProcessWatch watch_;
  std::vector<Slot> slots_;
  std::vector<std::size_t> restart_;
  int ep_ = -1;
  Phase phase_ = Phase::kSetup;
  std::uint64_t start_ns_ = 0;
  std::optional<std::string> died_, fatal_;
  std::string refused_line_;
  std::uint64_t refused_ = 0, server_errors_ = 0, in_flight_ = 0;
  std::string last_server_error_;
};

void Churn::died(const std::string& why) {
  if (died_ || fatal_) return;
  died_ = fmt::format("{} {:.2f} s after churn started (warm-up {} s, window {} s)", why,
                      static_cast<double>(now_ns() - start_ns_) / 1e9, o_.warmup, o_.duration);
  phase_ = Phase::kDone;
}

void Churn::start_churner(Slot& s) {
  const int fd = start_connect(server_, nullptr);
  if (fd < 0) {
    fatal_ = connect_hint(-fd, server_);
    if (-fd == ECONNREFUSED) {
      died(fmt::format("connect: {}", *fatal_));
      fatal_.reset();
    }
    phase_ = Phase::kDone;
    return;
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = key(s.index, true);
  epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
  s.churn_fd = fd;
  s.churn_in.clear();
  s.started_ns = now_ns();
  s.welcomed = s.eof = s.delivered = false;
  ++in_flight_;
}

void Churn::close_churner(Slot& s) {
  if (s.churn_fd < 0) return;
  close(s.churn_fd);  // also removes it from the epoll set
  s.churn_fd = -1;
  --in_flight_;
}

void Churn::maybe_complete(Slot& s, std::uint64_t now) {
  if (!(s.eof && s.delivered)) return;
  close_churner(s);
  if (phase_ == Phase::kWindow) {
    ++r_.churn_conns;
    ++r_.msgs;
    r_.latency.record(now - s.started_ns);
  }
  if (sending()) restart_.push_back(s.index);
}

void Churn::on_churner(Slot& s) {
  char buf[4096];
  const ssize_t n = recv(s.churn_fd, buf, sizeof buf, MSG_DONTWAIT);
  const std::uint64_t now = now_ns();
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n < 0) {
    const int err = errno;
    if (err == ECONNREFUSED) {
      died(fmt::format("new connections are refused ({})", connect_hint(err, server_)));
    } else {
      died(fmt::format("churning connection: {}", errno_text("recv", err)));
    }
    return;
  }
  if (n == 0) {
    if (!s.welcomed) {
      // Closed before its welcome: a refusal without words.
      ++refused_;
      if (refused_line_.empty()) refused_line_ = "closed without a word";
      close_churner(s);
      phase_ = Phase::kDone;
      return;
    }
    s.eof = true;
    maybe_complete(s, now);
    return;
  }
  const auto framed = s.churn_in.feed(
      std::string_view(buf, static_cast<std::size_t>(n)), [&](std::string_view line) {
        if (!s.welcomed && line.rfind("* welcome", 0) == 0) {
          s.welcomed = true;
          std::string out = fmt::format("/join {}\n", s.room);
          codec_.encode(Message{s.index, s.sent++, now}, out);
          out += "/quit\n";
          const ssize_t w = send(s.churn_fd, out.data(), out.size(), MSG_NOSIGNAL);
          if (w != static_cast<ssize_t>(out.size())) {
            died(fmt::format("churning connection: short send ({})",
                             w < 0 ? errno_text("send", errno) : std::string("partial")));
            return false;
          }
        } else if (line.rfind("! ", 0) == 0) {
          if (line.find("server full") != std::string_view::npos) {
            ++refused_;
            refused_line_ = std::string(line);
            close_churner(s);
            phase_ = Phase::kDone;
            return false;
          }
          ++server_errors_;
          last_server_error_ = std::string(line);
        }
        return true;
      });
  if (framed == LineFramer::Result::kTooLong) {
    died(fmt::format("churning connection: a server line longer than {} bytes", kMaxServerLine));
  }
}

void Churn::on_partner(Slot& s) {
  char buf[16384];
  const ssize_t n = recv(s.partner_fd, buf, sizeof buf, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    const std::string why = n == 0 ? "the server closed it" : errno_text("recv", errno);
    if (phase_ == Phase::kSetup) {
      fatal_ = fmt::format("churn partner {}: {}", s.nick, why);
    } else {
      died(fmt::format("the server dropped churn partner {} ({})", s.nick, why));
    }
    return;
  }
  const std::uint64_t now = now_ns();
  const auto framed = s.partner_in.feed(
      std::string_view(buf, static_cast<std::size_t>(n)), [&](std::string_view line) {
        if (line.empty() || line[0] == '*' || line[0] == '{') {
          if (line == "* you joined " + s.room) s.partner_joined = true;
          return true;
        }
        if (line[0] == '!') {
          if (phase_ == Phase::kSetup && line.find("server full") != std::string_view::npos) {
            // select past FD_SETSIZE: reported in the row, not a crash.
            ++refused_;
            refused_line_ = std::string(line);
            close(s.partner_fd);
            s.partner_fd = -1;
            return false;
          }
          if (phase_ == Phase::kSetup) {
            fatal_ = fmt::format("the server rejected churn partner {}: {}", s.nick, line);
            return false;
          }
          ++server_errors_;
          last_server_error_ = std::string(line);
          return true;
        }
        const auto text = MessageCodec::delivery_text(line);
        const auto m = text ? codec_.decode(*text) : std::nullopt;
        if (!m || m->sender != s.index) {
          ++r_.integrity.corrupted;
          return true;
        }
        s.checker.receive(m->seq);
        if (s.churn_fd >= 0 && m->seq + 1 == s.sent) {
          s.delivered = true;
          maybe_complete(s, now);
        }
        return true;
      });
  if (framed == LineFramer::Result::kTooLong) {
    died(fmt::format("churn partner {}: a server line longer than {} bytes", s.nick,
                     kMaxServerLine));
  }
}

std::optional<std::string> Churn::setup() {
  const std::size_t n = o_.active / 2;
  slots_.resize(n);
  const pid_t pid = getpid();
  for (std::size_t i = 0; i < n; ++i) {
    Slot& s = slots_[i];
    s.index = static_cast<std::uint32_t>(i);
    s.room = fmt::format("lg{}-churn{}", pid, i);
    s.nick = fmt::format("lg{}-p{}", pid, i);
    auto c = connect_blocking(server_, 5000);
    if (auto* err = std::get_if<std::string>(&c)) return *err;
    s.partner_fd = std::get<int>(c);
    if (auto err = write_all(s.partner_fd, fmt::format("/nick {}\n/join {}\n", s.nick, s.room))) {
      return *err;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = key(i, false);
    epoll_ctl(ep_, EPOLL_CTL_ADD, s.partner_fd, &ev);
  }
  const std::uint64_t deadline = now_ns() + kSetupTimeoutMs * 1'000'000ULL;
  std::vector<epoll_event> events(64);
  for (;;) {
    std::size_t joined = 0;
    for (auto& s : slots_) joined += s.partner_joined;
    if (joined == n || refused_ > 0) return std::nullopt;
    if (fatal_) return fatal_;
    if (now_ns() > deadline) {
      return fmt::format("only {} of {} churn partners joined their rooms within {} s", joined, n,
                         kSetupTimeoutMs / 1000);
    }
    const int k = epoll_wait(ep_, events.data(), static_cast<int>(events.size()), 200);
    for (int i = 0; i < k; ++i) on_partner(slots_[events[i].data.u64 / 2]);
  }
}

RunOutcome Churn::run() {
  RunOutcome out;
  ep_ = epoll_create1(EPOLL_CLOEXEC);
  if (auto err = setup()) {
    out.fatal = err;
    for (auto& s : slots_) {
      if (s.partner_fd >= 0) close(s.partner_fd);
    }
    close(ep_);
    return out;
  }
  if (watch_.fd() >= 0) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kWatchEvent;
    if (epoll_ctl(ep_, EPOLL_CTL_ADD, watch_.fd(), &ev) != 0) watch_.without_fd();
  }
  start_ns_ = now_ns();
  const std::uint64_t warmup_end = start_ns_ + static_cast<std::uint64_t>(o_.warmup * 1e9);
  std::uint64_t window_end = UINT64_MAX, drain_end = UINT64_MAX;
  std::uint64_t next_progress = start_ns_ + 1'000'000'000ULL;
  const bool show_progress = o_.warmup + o_.duration > 3;
  phase_ = refused_ > 0 ? Phase::kDone : Phase::kWarmup;
  auto open_window = [&] {
    phase_ = Phase::kWindow;
    window_end = meter_.begin() + static_cast<std::uint64_t>(o_.duration * 1e9);
  };
  if (refused_ > 0) {
    phase_ = Phase::kDone;
  } else {
    if (o_.warmup <= 0) open_window();
    for (auto& s : slots_) start_churner(s);
  }

  std::vector<epoll_event> events(256);
  while (phase_ != Phase::kDone) {
    const int n = epoll_wait(ep_, events.data(), static_cast<int>(events.size()), 10);
    if (n < 0 && errno != EINTR) {
      out.fatal = errno_text("epoll_wait", errno);
      break;
    }
    for (int i = 0; i < n && phase_ != Phase::kDone; ++i) {
      if (events[i].data.u64 == kWatchEvent) {
        watch_.exited();
        continue;
      }
      Slot& s = slots_[events[i].data.u64 / 2];
      if (events[i].data.u64 % 2 == 1) {
        if (s.churn_fd >= 0) on_churner(s);
      } else {
        on_partner(s);
      }
    }
    // New connections only after the batch: a stale event for a slot's previous descriptor
    // must not be read as its successor's.
    for (std::size_t i : restart_) {
      if (phase_ != Phase::kDone && sending()) start_churner(slots_[i]);
    }
    restart_.clear();
    const std::uint64_t now = now_ns();
    if (phase_ == Phase::kWarmup && now >= warmup_end) open_window();
    if (phase_ == Phase::kWindow && now >= window_end) {
      meter_.end(true);
      phase_ = Phase::kDrain;
      drain_end = now + static_cast<std::uint64_t>(o_.drain_timeout * 1e9);
    }
    if (phase_ == Phase::kDrain && (in_flight_ == 0 || now >= drain_end)) phase_ = Phase::kDone;
    if (!died_ && watch_.gone(now)) {
      died(fmt::format("the server process {} is gone", o_.server_pid));
    }
    if (show_progress && now >= next_progress) {
      next_progress = now + 1'000'000'000ULL;
      if (phase_ == Phase::kWindow) {
        fmt::print(stderr, "loadgen: {}\n",
                   window_progress(meter_.begin_ns(), now, o_.duration, r_.churn_conns,
                                   "connections", std::nullopt));
      }
    }
  }
  if (fatal_ && !out.fatal) out.fatal = fatal_;
  meter_.end(!died_);
  meter_.fill(r_);
  if (r_.measured_s > 0) r_.conns_per_s = static_cast<double>(r_.churn_conns) / r_.measured_s;
  // Every churner that was welcomed sent one message; what the partner never saw is lost.
  for (auto& s : slots_) {
    std::uint64_t owed = s.sent;
    // A churner cut short by the end of the run (or the server's death) may not have been
    // delivered yet: only count it when it had its EOF, i.e. the server processed its /quit.
    if (s.churn_fd >= 0 && !(s.eof && s.welcomed)) owed = s.sent > 0 ? s.sent - 1 : 0;
    if (!died_) s.checker.finish(owed);
    r_.integrity += s.checker.counts();
    close_churner(s);
    if (s.partner_fd >= 0) close(s.partner_fd);
  }
  close(ep_);
  r_.refused += refused_;
  if (server_errors_ > 0) {
    fmt::print(stderr, "loadgen: the server sent {} error lines during churn, last: {}\n",
               server_errors_, last_server_error_);
  }
  if (died_) {
    out.server_died = died_;
    r_.status = "server-died";
  } else if (out.fatal) {
    r_.status = "error:" + out.fatal->substr(0, 40);
  } else if (refused_ > 0) {
    r_.status = refused_line_.find("FD_SETSIZE") != std::string::npos
                    ? "refused:FD_SETSIZE"
                    : "refused:" + refused_line_.substr(0, 40);
    fmt::print(stderr, "loadgen: the server refused a churning connection: {}\n", refused_line_);
  } else {
    WindowMeter::judge(r_, server_errors_);
  }
  return out;
}

}  // namespace

RunOutcome run_churn(const Options& o, const Endpoint& server, ServerControl& control,
                     RunResult& r) {
  Churn churn(o, server, control, r);
  return churn.run();
}

}  // namespace mux
