#include "ActiveRun.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "LineFramer.h"
#include "MessageCodec.h"
#include "Progress.h"
#include "WindowMeter.h"
#include "WindowTuner.h"
#include "system.h"

namespace mux {

namespace {

enum class Phase { kSetup, kWarmup, kWindow, kDrain, kDone };
// o.mode, decided once: a string comparison per delivery showed in the flood profile.
enum class Mode { kPingpong, kBroadcast, kFlood };

Mode mode_of(const std::string& mode) {
  if (mode == "pingpong") return Mode::kPingpong;
  if (mode == "broadcast") return Mode::kBroadcast;
  return Mode::kFlood;
}

// epoll data of the server's pidfd; connections are numbered from 0.
constexpr std::uint32_t kWatchEvent = UINT32_MAX;

struct Conn {
  int fd = -1;
  std::uint32_t id = 0;
  std::string nick, room;
  LineFramer in{kMaxServerLine};
  std::string out;
  std::size_t out_off = 0;
  bool out_armed = false;
  bool dirty = false;
  bool joined = false;
  bool closed = false;
  std::uint64_t sent = 0;   // next sequence number = messages sent so far
  std::uint64_t acked = 0;  // flood: our messages delivered to the peer
  int peer = -1;
  bool initiator = false;
  std::unordered_map<std::uint32_t, IntegrityChecker> from;  // per sender
  // The checker of the last sender seen: pairs only ever hear one, so the hash lookup is skipped
  // (references into an unordered_map stay valid as it grows).
  std::uint32_t last_sender = UINT32_MAX;
  IntegrityChecker* last_from = nullptr;
};

constexpr int kSetupTimeoutMs = 10000;
constexpr std::size_t kBroadcastBurst = 1024;  // sends per loop turn when catching up

class Loop {
 public:
  Loop(const Options& o, const Endpoint& server, ServerControl& control, RunResult& r)
      : o_(o),
        mode_(mode_of(o.mode)),
        server_(server),
        control_(control),
        r_(r),
        codec_(o.size),
        watch_(o.server_pid),
        meter_(o, control) {
    window_ = o.window;
    if (mode_ == Mode::kFlood && o.window_auto) {
      tuner_.emplace(WindowTuner::max_window(o.size));
      window_ = tuner_->window();
      // Slices shorter than a few ms would measure scheduling noise rather than throughput.
      slice_ns_ = std::max<std::uint64_t>(
          static_cast<std::uint64_t>(o.warmup * 1e9 / WindowTuner::kSlices), 5'000'000);
    }
  }

  RunOutcome run();

 private:
  std::optional<std::string> setup();
  void on_readable(Conn& c);
  void on_line(Conn& c, std::string_view line, std::uint64_t now);
  void on_setup_line(Conn& c, std::string_view line);
  void on_delivery(Conn& c, std::string_view line, std::uint64_t now);
  void send_msg(Conn& c, std::uint64_t send_ns);
  void flush(Conn& c);
  void flush_dirty();
  void refill(Conn& c, std::uint64_t now);
  void server_gone(Conn& c, const std::string& why);
  void set_out_interest(Conn& c, bool want);
  void begin_window(std::uint64_t now);
  void end_window(std::uint64_t now);
  void progress(std::uint64_t now);
  void start_slice(std::uint64_t now);
  void tune(std::uint64_t now);
  std::optional<double> server_cpu_us();
  bool sending() const { return phase_ == Phase::kWarmup || phase_ == Phase::kWindow; }
  std::uint64_t receivers_per_message() const {
    return mode_ == Mode::kBroadcast ? conns_.size() - 1 : 1;
  }

  const Options& o_;
  const Mode mode_;
  const Endpoint& server_;
  ServerControl& control_;
  RunResult& r_;
  MessageCodec codec_;
  ProcessWatch watch_;
  std::vector<Conn> conns_;
  std::vector<Conn*> dirty_;
  int ep_ = -1;
  Phase phase_ = Phase::kSetup;
  std::uint64_t start_ns_ = 0, warmup_end_ns_ = 0, window_end_ns_ = 0, drain_end_ns_ = 0;
  std::uint64_t next_progress_ns_ = 0;
  // flood: messages in flight per sender; with --window auto the tuner's current choice.
  std::uint64_t window_ = 1;
  std::optional<WindowTuner> tuner_;
  std::uint64_t slice_ns_ = 0, slice_start_ns_ = 0, slice_end_ns_ = 0, slice_delivered_ = 0;
  CpuTimes slice_self_{};
  std::optional<double> slice_server_us_;
  std::uint64_t expected_ = 0, delivered_ = 0;
  std::uint64_t bc_n_ = 0, bc_next_ns_ = 0;
  std::uint64_t server_errors_ = 0;
  std::string last_server_error_;
  std::optional<std::string> died_;
  bool dropped_ = false;  // died_ is set, but the server itself is still running
  std::size_t joined_ = 0, refused_ = 0;
  std::string refused_line_;
  std::optional<std::string> setup_error_;
  WindowMeter meter_;
};

void Loop::set_out_interest(Conn& c, bool want) {
  if (c.out_armed == want || c.closed) return;
  epoll_event ev{};
  ev.events = want ? (EPOLLIN | EPOLLOUT) : EPOLLIN;
  ev.data.u32 = c.id;
  epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
  c.out_armed = want;
}

void Loop::flush(Conn& c) {
  c.dirty = false;
  while (!c.closed && c.out_off < c.out.size()) {
    const ssize_t n = send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
    if (n > 0) {
      c.out_off += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EAGAIN) {
      set_out_interest(c, true);
      return;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      server_gone(c, errno_text("send", errno));
      return;
    }
  }
  c.out.clear();
  c.out_off = 0;
  set_out_interest(c, false);
}

void Loop::flush_dirty() {
  for (Conn* c : dirty_) flush(*c);
  dirty_.clear();
}

void Loop::send_msg(Conn& c, std::uint64_t send_ns) {
  codec_.encode(Message{c.id, c.sent++, send_ns}, c.out);
  expected_ += receivers_per_message();
  if (!c.dirty) {
    c.dirty = true;
    dirty_.push_back(&c);
  }
}

void Loop::refill(Conn& c, std::uint64_t now) {
  while (c.sent - c.acked < window_) send_msg(c, now);
}

void Loop::server_gone(Conn& c, const std::string& why) {
  if (!c.closed) {
    epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
    c.closed = true;
  }
  if (died_ || phase_ == Phase::kSetup) return;
  const std::uint64_t now = now_ns();
  const double at = static_cast<double>(now - start_ns_) / 1e9;
  bool gone = false;
  if (o_.server_pid > 0) {
    // A dying process closes its sockets a moment before it turns into a zombie.
    for (int i = 0; i < 20 && !(gone = process_gone(o_.server_pid)); ++i) usleep(5000);
  } else {
    gone = control_.peer_closed(100);
  }
  if (!gone && (o_.server_pid > 0 || control_.connected())) {
    dropped_ = true;
    died_ = fmt::format(
        "the server closed active connection {} ({}) {:.2f} s after traffic started but is "
        "still running ({}; a slow-consumer drop? see its slow_dropped counter)",
        c.id, c.nick, at, why);
  } else {
    died_ = fmt::format(
        "the server dropped active connection {} ({}) {:.2f} s after traffic "
        "started ({}; warm-up {} s, window {} s)",
        c.id, c.nick, at, why, o_.warmup, o_.duration);
  }
  phase_ = Phase::kDone;
}

void Loop::on_setup_line(Conn& c, std::string_view line) {
  if (line.rfind("* welcome", 0) == 0) {
    c.out += fmt::format("/nick {}\n/join {}\n", c.nick, c.room);
    if (!c.dirty) {
      c.dirty = true;
      dirty_.push_back(&c);
    }
  } else if (line == "* you joined " + c.room) {
    c.joined = true;
    ++joined_;
  } else if (line.rfind("! ", 0) == 0) {
    if (!c.joined && c.out.empty() && line.find("server full") != std::string_view::npos) {
      ++refused_;
      refused_line_ = std::string(line);
      server_gone(c, "refused");
    } else {
      setup_error_ = fmt::format("the server rejected {}'s set-up: {}", c.nick, line);
    }
  }
}

void Loop::on_delivery(Conn& c, std::string_view line, std::uint64_t now) {
  if (line.empty()) {
    ++r_.integrity.corrupted;
    return;
  }
  if (line[0] == '*' || line[0] == '{') return;  // join notices, /stats, ...: not ours
  if (line[0] == '!') {
    ++server_errors_;
    last_server_error_ = std::string(line);
    return;
  }
  const auto text = MessageCodec::delivery_text(line);
  const auto m = text ? codec_.decode(*text) : std::nullopt;
  if (!m || m->sender >= conns_.size() || m->sender == c.id) {
    ++r_.integrity.corrupted;
    return;
  }
  ++delivered_;
  if (m->sender != c.last_sender) {
    c.last_sender = m->sender;
    c.last_from = &c.from[m->sender];
  }
  c.last_from->receive(m->seq);
  const bool in_window = phase_ == Phase::kWindow;
  if (in_window) ++r_.msgs;
  const std::uint64_t latency = now > m->send_ns ? now - m->send_ns : 0;
  if (mode_ == Mode::kPingpong) {
    if (c.initiator) {
      if (in_window) r_.latency.record(latency);
      if (sending()) send_msg(c, now_ns());
    } else {
      send_msg(c, m->send_ns);  // the answer carries the question's send time back
    }
  } else {
    if (in_window) r_.latency.record(latency);
    if (mode_ == Mode::kFlood) {
      Conn& sender = conns_[m->sender];
      ++sender.acked;
      if (sending()) refill(sender, now);
    }
  }
}

void Loop::on_line(Conn& c, std::string_view line, std::uint64_t now) {
  if (phase_ == Phase::kSetup) {
    on_setup_line(c, line);
  } else {
    on_delivery(c, line, now);
  }
}

void Loop::on_readable(Conn& c) {
  char buf[65536];
  const ssize_t n = recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
  const std::uint64_t now = now_ns();
  if (n == 0) {
    if (phase_ == Phase::kSetup && !c.joined) {
      // Closed before the join ack: the server would not take this connection.
      ++refused_;
      if (refused_line_.empty()) refused_line_ = "closed without a word";
    }
    server_gone(c, "the server closed it");
    return;
  }
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    const int err = errno;
    if (phase_ == Phase::kSetup) {
      setup_error_ = err == ECONNREFUSED
                         ? connect_hint(err, server_)
                         : errno_text(fmt::format("active connection {}", c.id), err);
      c.closed = true;
      epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
      return;
    }
    server_gone(c, errno_text("recv", err));
    return;
  }
  const auto framed =
      c.in.feed(std::string_view(buf, static_cast<std::size_t>(n)), [&](std::string_view line) {
        on_line(c, line, now);
        return !c.closed;
      });
  if (framed == LineFramer::Result::kTooLong) {
    server_gone(c, fmt::format("a server line longer than {} bytes", kMaxServerLine));
  }
}

// The server's CPU so far in µs: its /stats (getrusage, µs) when the control connection works,
// else /proc/PID/stat (10 ms ticks: coarse for a slice of tens of ms, but only a threshold is
// read from it).
std::optional<double> Loop::server_cpu_us() {
  if (control_.connected()) {
    auto st = control_.stats(1000);
    if (auto* line = std::get_if<StatsLine>(&st)) {
      auto u = line->number("cpu_user_us"), s = line->number("cpu_sys_us");
      if (u && s && *u >= 0 && *s >= 0) return static_cast<double>(*u) + static_cast<double>(*s);
    }
  }
  if (o_.server_pid > 0) {
    if (auto t = process_cpu_times(o_.server_pid)) return static_cast<double>(t->total_us());
  }
  return std::nullopt;
}

void Loop::start_slice(std::uint64_t now) {
  slice_server_us_ = server_cpu_us();
  slice_self_ = self_cpu_times();
  slice_start_ns_ = now_ns();
  slice_end_ns_ = std::max(now, slice_start_ns_) + slice_ns_;
  slice_delivered_ = delivered_;
}

void Loop::tune(std::uint64_t now) {
  const auto server_us = server_cpu_us();
  const CpuTimes self = self_cpu_times();
  const std::uint64_t end = now_ns();
  const double us = static_cast<double>(end - slice_start_ns_) / 1e3;
  WindowTuner::Slice s;
  s.msgs_per_s = static_cast<double>(delivered_ - slice_delivered_) / us * 1e6;
  s.loadgen_cpu_pct = static_cast<double>(self.total_us() - slice_self_.total_us()) / us * 100;
  if (server_us && slice_server_us_) s.server_cpu_pct = (*server_us - *slice_server_us_) / us * 100;
  const std::uint64_t before = window_;
  tuner_->record(s);
  window_ = tuner_->window();
  if (window_ > before) {
    for (auto& c : conns_) refill(c, now);
    flush_dirty();
  }
  if (!tuner_->done()) start_slice(now);
}

void Loop::begin_window(std::uint64_t) {
  if (tuner_) {
    tuner_->finish();
    window_ = tuner_->window();
  }
  if (mode_ == Mode::kFlood) r_.window_chosen = window_;
  phase_ = Phase::kWindow;
  window_end_ns_ = meter_.begin() + static_cast<std::uint64_t>(o_.duration * 1e9);
}

void Loop::end_window(std::uint64_t) {
  meter_.end(!died_);
}

void Loop::progress(std::uint64_t now) {
  if (o_.warmup + o_.duration <= 3 || now < next_progress_ns_) return;
  next_progress_ns_ = now + 1'000'000'000ULL;
  if (phase_ == Phase::kWarmup) {
    fmt::print(stderr, "loadgen: {}\n", warmup_progress(start_ns_, now, o_.warmup));
  } else if (phase_ == Phase::kWindow) {
    fmt::print(stderr, "loadgen: {}\n",
               window_progress(meter_.begin_ns(), now, o_.duration, r_.msgs, "msgs",
                               r_.latency.percentile(0.99)));
  }
}

std::optional<std::string> Loop::setup() {
  const std::size_t k = o_.active;
  conns_.resize(k);
  const pid_t pid = getpid();
  for (std::size_t i = 0; i < k; ++i) {
    Conn& c = conns_[i];
    c.id = static_cast<std::uint32_t>(i);
    c.nick = fmt::format("lg{}-{}", pid, i);
    if (mode_ == Mode::kBroadcast) {
      c.room = fmt::format("lg{}-bcast", pid);
    } else {
      c.room = fmt::format("lg{}-pair{}", pid, i / 2);
      c.peer = static_cast<int>(i ^ 1);
      c.initiator = (i % 2) == 0;
    }
    const int fd = start_connect(server_, nullptr);
    if (fd < 0) {
      return fmt::format("active connection {} of {}: {}", i + 1, k, connect_hint(-fd, server_));
    }
    c.fd = fd;
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = c.id;
    if (epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) return errno_text("epoll_ctl", errno);
  }
  const std::uint64_t deadline = now_ns() + kSetupTimeoutMs * 1'000'000ULL;
  std::vector<epoll_event> events(256);
  while (joined_ + refused_ < k) {
    if (setup_error_) return setup_error_;
    const int n = epoll_wait(ep_, events.data(), static_cast<int>(events.size()), 200);
    for (int i = 0; i < n; ++i) {
      Conn& c = conns_[events[i].data.u32];
      if (c.closed) continue;
      if (events[i].events & EPOLLOUT) flush(c);
      if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c);
    }
    flush_dirty();
    if (now_ns() > deadline) {
      return fmt::format(
          "only {} of {} active connections joined their room within {} s "
          "({} refused)",
          joined_, k, kSetupTimeoutMs / 1000, refused_);
    }
  }
  return setup_error_;
}

RunOutcome Loop::run() {
  RunOutcome out;
  ep_ = epoll_create1(EPOLL_CLOEXEC);
  if (ep_ < 0) {
    out.fatal = errno_text("epoll_create1", errno);
    return out;
  }
  if (auto err = setup()) {
    out.fatal = err;
  } else if (refused_ > 0) {
    r_.refused += refused_;
    r_.status = refused_line_.find("FD_SETSIZE") != std::string::npos
                    ? "refused:FD_SETSIZE"
                    : "refused:" + refused_line_.substr(0, 40);
    fmt::print(stderr, "loadgen: the server refused {} of {} active connections: {}\n", refused_,
               conns_.size(), refused_line_);
  } else {
    if (watch_.fd() >= 0) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u32 = kWatchEvent;
      if (epoll_ctl(ep_, EPOLL_CTL_ADD, watch_.fd(), &ev) != 0) watch_.without_fd();
    }
    start_ns_ = now_ns();
    warmup_end_ns_ = start_ns_ + static_cast<std::uint64_t>(o_.warmup * 1e9);
    phase_ = Phase::kWarmup;
    if (o_.warmup <= 0) begin_window(start_ns_);
    next_progress_ns_ = start_ns_ + 1'000'000'000ULL;
    if (mode_ == Mode::kPingpong) {
      for (auto& c : conns_) {
        if (c.initiator) send_msg(c, now_ns());
      }
    } else if (mode_ == Mode::kFlood) {
      for (auto& c : conns_) refill(c, now_ns());
      if (tuner_) start_slice(start_ns_);
    } else {
      bc_next_ns_ = start_ns_;
    }
    flush_dirty();

    std::vector<epoll_event> events(1024);
    while (phase_ != Phase::kDone) {
      std::uint64_t now = now_ns();
      std::uint64_t wake = phase_ == Phase::kWarmup   ? warmup_end_ns_
                           : phase_ == Phase::kWindow ? window_end_ns_
                                                      : drain_end_ns_;
      if (mode_ == Mode::kBroadcast && sending()) wake = std::min(wake, bc_next_ns_);
      if (tuner_ && !tuner_->done() && phase_ == Phase::kWarmup)
        wake = std::min(wake, slice_end_ns_);
      if (o_.warmup + o_.duration > 3) wake = std::min(wake, next_progress_ns_);
      timespec ts{};
      if (wake > now) {
        ts.tv_sec = static_cast<time_t>((wake - now) / 1'000'000'000ULL);
        ts.tv_nsec = static_cast<long>((wake - now) % 1'000'000'000ULL);
      }
      const int n = epoll_pwait2(ep_, events.data(), static_cast<int>(events.size()), &ts, nullptr);
      if (n < 0 && errno != EINTR) {
        out.fatal = errno_text("epoll_pwait2", errno);
        break;
      }
      for (int i = 0; i < n && phase_ != Phase::kDone; ++i) {
        if (events[i].data.u32 == kWatchEvent) {
          watch_.exited();
          continue;
        }
        Conn& c = conns_[events[i].data.u32];
        if (c.closed) continue;
        if (events[i].events & EPOLLOUT) flush(c);
        if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c);
      }
      now = now_ns();
      if (mode_ == Mode::kBroadcast && sending()) {
        const double interval = 1e9 / o_.rate;
        for (std::size_t burst = 0; bc_next_ns_ <= now && burst < kBroadcastBurst; ++burst) {
          send_msg(conns_[bc_n_ % conns_.size()], bc_next_ns_);
          ++bc_n_;
          bc_next_ns_ =
              start_ns_ + static_cast<std::uint64_t>(static_cast<double>(bc_n_) * interval);
        }
      }
      flush_dirty();
      if (phase_ == Phase::kDone) break;
      if (tuner_ && !tuner_->done() && phase_ == Phase::kWarmup && now >= slice_end_ns_ &&
          now < warmup_end_ns_) {
        tune(now);
      }
      if (phase_ == Phase::kWarmup && now >= warmup_end_ns_) begin_window(now);
      if (phase_ == Phase::kWindow && now >= window_end_ns_) {
        end_window(now);
        phase_ = Phase::kDrain;
        drain_end_ns_ = now + static_cast<std::uint64_t>(o_.drain_timeout * 1e9);
      }
      if (phase_ == Phase::kDrain && (delivered_ >= expected_ || now >= drain_end_ns_)) {
        phase_ = Phase::kDone;
      }
      if (!died_ && watch_.gone(now)) {
        died_ = fmt::format("the server process {} is gone", o_.server_pid);
        phase_ = Phase::kDone;
      }
      progress(now);
    }
    end_window(now_ns());
  }

  // Whatever was sent and never arrived is lost; every pair of members is one stream.
  if (phase_ != Phase::kSetup && !out.fatal) {
    for (auto& c : conns_) {
      for (auto& s : conns_) {
        if (&s == &c) continue;
        if (mode_ != Mode::kBroadcast && static_cast<int>(s.id) != c.peer) continue;
        auto& checker = c.from[s.id];
        // Messages still owed when the server died are not the server's loss to count.
        if (!died_) checker.finish(s.sent);
        r_.integrity += checker.counts();
      }
    }
  }
  meter_.fill(r_);
  if (server_errors_ > 0) {
    fmt::print(stderr, "loadgen: the server sent {} error lines during traffic, last: {}\n",
               server_errors_, last_server_error_);
  }
  if (died_) {
    out.server_died = died_;
    r_.status = dropped_ ? "error:dropped-by-server" : "server-died";
  } else if (out.fatal) {
    r_.status = "error:" + out.fatal->substr(0, 40);
  } else {
    WindowMeter::judge(r_, server_errors_);
  }
  for (auto& c : conns_) {
    if (c.fd >= 0) close(c.fd);
  }
  close(ep_);
  return out;
}

}  // namespace

RunOutcome run_active(const Options& o, const Endpoint& server, ServerControl& control,
                      RunResult& r) {
  Loop loop(o, server, control, r);
  return loop.run();
}

}  // namespace mux
