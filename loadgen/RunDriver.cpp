#include "RunDriver.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include <fmt/format.h>

#include "Progress.h"
#include "system.h"

namespace mux {

namespace {

// epoll tokens of the server's pidfd and of the control connection (--interval); connections
// use (generation << 32) | slot.
constexpr std::uint64_t kWatchToken = UINT64_MAX;
constexpr std::uint64_t kControlToken = UINT64_MAX - 1;
// An edge this close to the window's end would leave a sliver of an interval that says nothing.
constexpr std::uint64_t kMinIntervalNs = 1'000'000;
constexpr std::uint64_t kSecond = 1'000'000'000ULL;

std::uint64_t seconds_ns(double s) {
  return static_cast<std::uint64_t>(s * 1e9);
}

}  // namespace

void decide_status(const RunEnd& end, RunResult& r) {
  if (end.died) {
    r.status = end.dropped ? "error:dropped-by-server" : "server-died";
  } else if (end.fatal) {
    r.status = "error:" + end.fatal->substr(0, 40);
  } else if (end.refused > 0) {
    r.status = end.refused_line.find("FD_SETSIZE") != std::string::npos
                   ? "refused:FD_SETSIZE"
                   : "refused:" + end.refused_line.substr(0, 40);
  } else {
    WindowMeter::judge(r, end.server_error_lines);
  }
}

void Mode::on_closed(Conn& c, int err, std::uint64_t) {
  driver().lost(c, err == 0 ? "the server closed it" : errno_text("recv", err));
}

RunDriver::RunDriver(const Options& o, const Endpoint& server, ServerControl& control, RunResult& r,
                     Mode& mode)
    : o_(o),
      server_(server),
      control_(control),
      r_(r),
      mode_(mode),
      meter_(o, control),
      watch_(o.server_pid) {
  mode_.driver_ = this;
  if (o.interval > 0) series_.emplace(seconds_ns(o.interval), !o.hlog.empty());
  if (o.hostile > 0) {
    hostile_.emplace(loop_, server_, o.hostile, o.hostile_kinds, o.hostile_pacing);
    r_.hostile = o.hostile;
    r_.hostile_kinds = hostile_kinds_text(o.hostile_kinds, '+');
  }
}

RunDriver::~RunDriver() {
  for (auto& c : conns_) {
    if (c->fd >= 0) ::close(c->fd);
  }
}

// ---- connections ----

Conn& RunDriver::acquire() {
  Conn* c = nullptr;
  if (!free_.empty()) {
    c = conns_[free_.back()].get();
    free_.pop_back();
  } else {
    conns_.push_back(std::make_unique<Conn>());
    c = conns_.back().get();
    c->slot_ = static_cast<std::uint32_t>(conns_.size() - 1);
  }
  c->closed = c->released_ = false;
  c->out.clear();
  c->nick.clear();
  c->room.clear();
  c->member = c->joined = false;
  c->in_.clear();
  c->out_off_ = 0;
  c->out_armed_ = false;
  return *c;
}

RunDriver::Opened RunDriver::open(std::size_t tag) {
  Opened o;
  const int fd = start_connect(server_, nullptr);
  if (fd < 0) {
    o.err = -fd;
    o.error = connect_hint(o.err, server_);
    return o;
  }
  // Without it Nagle holds a small message back until the previous one is acknowledged: the
  // latency measured would be the delayed-ACK timer's.
  const int one = 1;
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
    o.err = errno;
    o.error = errno_text("setsockopt(TCP_NODELAY)", o.err);
    ::close(fd);
    return o;
  }
  Conn* c = &acquire();
  c->fd = fd;
  c->tag = tag;
  if (auto err = loop_.watch(fd, EPOLLIN, token(*c))) {
    o.err = errno;
    o.error = *err;
    shut(*c);
    close(*c);
    return o;
  }
  o.conn = c;
  return o;
}

RunDriver::Opened RunDriver::open_member(std::size_t tag, std::string nick, std::string room) {
  Opened o = open(tag);
  if (o.conn) {
    o.conn->member = true;
    o.conn->nick = std::move(nick);
    o.conn->room = std::move(room);
    ++members_;
  }
  return o;
}

void RunDriver::queued(Conn& c) {
  if (c.dirty_) return;
  c.dirty_ = true;
  queued_.push_back(&c);
}

void RunDriver::shut(Conn& c) {
  if (c.fd >= 0) ::close(c.fd);  // also takes it out of the epoll set
  c.fd = -1;
  c.closed = true;
}

void RunDriver::close(Conn& c) {
  shut(c);
  if (c.released_) return;
  c.released_ = true;
  // A later event of this batch may still name the old descriptor: the generation in the
  // token tells it apart, and the object is reused only from the next turn.
  c.generation_ = (c.generation_ + 1) & kGenerationMask;
  freed_.push_back(c.slot_);
}

void RunDriver::set_out_interest(Conn& c, bool want) {
  if (c.out_armed_ == want || c.closed) return;
  if (auto err = loop_.rewatch(c.fd, want ? (EPOLLIN | EPOLLOUT) : EPOLLIN, token(c))) {
    fatal(*err);
    return;
  }
  c.out_armed_ = want;
}

void RunDriver::flush(Conn& c) {
  c.dirty_ = false;
  while (!c.closed && c.out_off_ < c.out.size()) {
    const ssize_t n =
        send(c.fd, c.out.data() + c.out_off_, c.out.size() - c.out_off_, MSG_NOSIGNAL);
    if (n > 0) {
      c.out_off_ += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EAGAIN) {
      // The socket buffer is full (the server reads slower than we send): go on when the
      // kernel says there is room, without spinning.
      set_out_interest(c, true);
      return;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      const std::string why = errno_text("send", errno);
      if (phase_ == Phase::kSetup) {
        fatal(fmt::format("{}: {}", mode_.describe(c), why));
      } else {
        lost(c, why);
      }
      return;
    }
  }
  c.out.clear();
  c.out_off_ = 0;
  set_out_interest(c, false);
}

void RunDriver::flush_queued() {
  for (Conn* c : queued_) flush(*c);
  queued_.clear();
}

void RunDriver::on_ready(std::uint64_t tok, std::uint32_t events, std::uint64_t) {
  if (tok == kControlToken) {
    read_control();
    return;
  }
  if (tok == kWatchToken) {
    watch_.exited();
    server_gone(fmt::format("the server process {} is gone", o_.server_pid));
    return;
  }
  if (HostileClients::owns(tok)) {
    if (hostile_) hostile_->on_ready(tok, events);
    return;
  }
  const std::uint32_t slot = static_cast<std::uint32_t>(tok);
  if (slot >= conns_.size()) return;
  Conn& c = *conns_[slot];
  if (c.closed || token(c) != tok) return;  // an event of a descriptor closed in this batch
  if (events & EPOLLOUT) flush(c);
  if (!c.closed && (events & (EPOLLIN | EPOLLERR | EPOLLHUP))) read(c);
}

void RunDriver::on_ready_done() {
  flush_queued();
  free_.insert(free_.end(), freed_.begin(), freed_.end());
  freed_.clear();
}

void RunDriver::read(Conn& c) {
  const ssize_t n = recv(c.fd, buf_.data(), buf_.size(), MSG_DONTWAIT);
  const std::uint64_t now = now_ns();
  if (n <= 0) {
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    const int err = n == 0 ? 0 : errno;
    if (phase_ == Phase::kSetup) {
      on_setup_closed(c, err);
    } else {
      mode_.on_closed(c, err, now);
    }
    return;  // the mode may have closed c
  }
  const auto framed = c.in_.feed(std::string_view(buf_.data(), static_cast<std::size_t>(n)),
                                 [&](std::string_view line) {
                                   if (phase_ == Phase::kSetup) {
                                     on_setup_line(c, line);
                                   } else {
                                     mode_.on_line(c, line, now);
                                   }
                                   return !c.closed;
                                 });
  if (framed == LineFramer::Result::kTooLong) {
    const std::string why = fmt::format("a server line longer than {} bytes", kMaxServerLine);
    if (phase_ == Phase::kSetup) {
      fatal(fmt::format("{}: {}", mode_.describe(c), why));
    } else {
      lost(c, why);
    }
  }
}

// ---- set-up ----

void RunDriver::on_setup_line(Conn& c, std::string_view line) {
  if (!c.member) return;
  if (line.rfind("* welcome", 0) == 0) {
    c.out += fmt::format("/nick {}\n/join {}\n", c.nick, c.room);
    queued(c);
  } else if (line == "* you joined " + c.room) {
    c.joined = true;
    ++joined_;
  } else if (line.rfind("! ", 0) == 0) {
    if (!c.joined && line.find("server full") != std::string_view::npos) {
      refused(c, line);
    } else {
      fatal(fmt::format("the server rejected {}'s set-up: {}", c.nick, line));
    }
  }
}

void RunDriver::on_setup_closed(Conn& c, int err) {
  if (err == 0 && !c.joined) {
    // Closed before the join ack: the server would not take this connection.
    refused(c, "");
  } else if (err == ECONNREFUSED) {
    shut(c);
    fatal(connect_hint(err, server_));
  } else {
    shut(c);
    fatal(err == 0 ? fmt::format("the server closed {} during set-up", mode_.describe(c))
                   : errno_text(mode_.describe(c), err));
  }
}

std::optional<std::string> RunDriver::setup() {
  if (auto err = mode_.on_setup()) {
    fatal(*err);
    return end_.fatal;
  }
  const auto deadline = loop_.at(now_ns() + kSetupTimeoutMs * 1'000'000ULL, [this](std::uint64_t) {
    fatal(fmt::format("only {} of {} {} joined their room within {} s ({} refused)", joined_,
                      members_, mode_.members_noun(), kSetupTimeoutMs / 1000, end_.refused));
  });
  while (!end_.fatal && joined_ + end_.refused < members_) {
    if (auto err = loop_.turn(*this)) fatal(*err);
  }
  loop_.cancel(deadline);
  return end_.fatal;
}

// ---- phases ----

void RunDriver::watch_server() {
  if (o_.server_pid <= 0) return;
  if (watch_.fd() >= 0 && !loop_.watch(watch_.fd(), EPOLLIN, kWatchToken)) return;
  // No pidfd (Linux < 5.3, a seccomp filter), or epoll would not take it: ask /proc on a timer
  // instead, which notices a death up to ProcessWatch::kPollNs late.
  watch_.without_fd();
  loop_.at(now_ns() + ProcessWatch::kPollNs, [this](std::uint64_t t) { poll_server(t); });
}

void RunDriver::poll_server(std::uint64_t now) {
  if (phase_ == Phase::kDone) return;
  if (watch_.gone(now)) {
    server_gone(fmt::format("the server process {} is gone", o_.server_pid));
  } else {
    loop_.at(now + ProcessWatch::kPollNs, [this](std::uint64_t t) { poll_server(t); });
  }
}

void RunDriver::begin_window(std::uint64_t now) {
  phase_ = Phase::kWindow;
  mode_.on_phase_change(Phase::kWindow, now);
  if (phase_ != Phase::kWindow) return;  // the mode ended the run
  const std::uint64_t end = meter_.begin() + seconds_ns(o_.duration);
  loop_.at(end, [this](std::uint64_t t) { end_window(t); });
  if (series_) open_series(end);
}

void RunDriver::end_window(std::uint64_t now) {
  if (phase_ != Phase::kWindow) return;
  meter_.end(!end_.died);
  stop_hostile();
  close_series();
  phase_ = Phase::kDrain;
  mode_.on_phase_change(Phase::kDrain, now);
  loop_.at(now + seconds_ns(o_.drain_timeout), [this](std::uint64_t) {
    if (phase_ == Phase::kDrain) done();
  });
}

// ---- the per-interval series (IntervalSeries.h says what each reading costs) ----

void RunDriver::open_series(std::uint64_t window_end_ns) {
  window_end_ns_ = window_end_ns;
  series_->open(meter_.begin_ns(), mode_.progress().count, r_.latency, self_cpu_times());
  if (auto s = meter_.server_cpu_us_at_begin()) series_->server_at(0, *s, meter_.begin_ns());
  // The /stats answers are read when epoll reports them, never waited for.
  if (control_.connected() && !loop_.watch(control_.fd(), EPOLLIN, kControlToken)) {
    control_watched_ = true;
  }
  schedule_series_edge();
}

void RunDriver::schedule_series_edge() {
  const std::uint64_t next = series_->next_edge_ns();
  if (next + kMinIntervalNs >= window_end_ns_) return;  // the window's end closes the last one
  loop_.at(next, [this](std::uint64_t) { series_edge(); });
}

void RunDriver::series_edge() {
  if (phase_ != Phase::kWindow) return;
  const std::uint64_t now = now_ns();
  const std::size_t edge = series_->cut(now, mode_.progress().count, r_.latency, self_cpu_times());
  if (control_watched_) {
    if (!control_.request_stats()) series_owed_.push_back(edge);
  } else if (o_.server_pid > 0) {
    if (auto t = process_cpu_times(o_.server_pid)) {
      series_->server_at(edge, static_cast<double>(t->total_us()), now_ns());
    }
  }
  schedule_series_edge();
}

void RunDriver::read_control() {
  auto got = control_.take_answers();
  for (const auto& a : got.answers) {
    if (series_owed_.empty()) break;
    const std::size_t edge = series_owed_.front();
    series_owed_.pop_front();
    if (auto cpu = a.stats.cpu_us(); series_ && cpu) series_->server_at(edge, *cpu, a.at_ns);
  }
  // Level-triggered: a closed connection would be reported on every turn.
  if (got.closed) unwatch_control();
}

void RunDriver::unwatch_control() {
  if (!control_watched_) return;
  loop_.unwatch(control_.fd());
  control_watched_ = false;
}

void RunDriver::close_series() {
  if (!series_ || !series_->opened() || series_closed_) return;
  series_closed_ = true;
  if (control_watched_) read_control();  // answers the window's closing /stats read past
  unwatch_control();
  series_owed_.clear();
  const std::uint64_t end = meter_.ended() ? meter_.end_ns() : now_ns();
  const std::size_t edge = series_->cut(end, mode_.progress().count, r_.latency, self_cpu_times());
  if (auto s = meter_.server_cpu_us_at_end()) series_->server_at(edge, *s, end);
}

void RunDriver::progress(std::uint64_t now) {
  if (phase_ == Phase::kWarmup) {
    fmt::print(stderr, "loadgen: {}\n", warmup_progress(start_ns_, now, o_.warmup));
  } else if (phase_ == Phase::kWindow) {
    const auto p = mode_.progress();
    fmt::print(stderr, "loadgen: {}\n",
               window_progress(meter_.begin_ns(), now, o_.duration, p.count, p.unit, p.p99_ns));
  }
  if (phase_ != Phase::kDone) loop_.at(now + kSecond, [this](std::uint64_t t) { progress(t); });
}

std::vector<std::string> RunDriver::member_rooms() const {
  std::vector<std::string> rooms;
  for (const auto& c : conns_) {
    if (c->member && !c->room.empty() &&
        std::find(rooms.begin(), rooms.end(), c->room) == rooms.end()) {
      rooms.push_back(c->room);
    }
  }
  return rooms;
}

void RunDriver::stop_hostile() {
  if (!hostile_) return;
  hostile_->stop();
  r_.hostile_counts = hostile_->counts();
}

void RunDriver::done() {
  phase_ = Phase::kDone;
  loop_.stop_turn();
}

void RunDriver::traffic() {
  watch_server();
  traffic_started_ = true;
  start_ns_ = now_ns();
  warmup_end_ns_ = start_ns_ + seconds_ns(o_.warmup);
  phase_ = Phase::kWarmup;
  if (o_.warmup <= 0) {
    begin_window(start_ns_);
  } else {
    loop_.at(warmup_end_ns_, [this](std::uint64_t t) {
      if (phase_ == Phase::kWarmup) begin_window(t);
    });
  }
  if (o_.warmup + o_.duration > 3) {
    loop_.at(start_ns_ + kSecond, [this](std::uint64_t t) { progress(t); });
  }
  if (hostile_) hostile_->start(member_rooms());
  mode_.on_start(start_ns_);
  flush_queued();
  while (phase_ != Phase::kDone) {
    if (auto err = loop_.turn(*this)) {
      fatal(*err);
      break;
    }
    flush_queued();  // what the turn's timers queued
    if (phase_ == Phase::kDrain && mode_.drained()) done();
  }
  meter_.end(!end_.died);
  stop_hostile();
  close_series();  // a window cut short (the server died) still gets its last interval
}

RunOutcome RunDriver::run() {
  RunOutcome out;
  if (loop_.error()) {
    end_.fatal = loop_.error();
  } else if (!setup() && end_.refused == 0) {
    traffic();
  }
  meter_.fill(r_);
  if (traffic_started_ && !end_.fatal) mode_.finish(r_, end_.died.has_value());
  r_.refused += end_.refused;
  if (hostile_ && !hostile_->first_error().empty()) {
    fmt::print(stderr, "loadgen: {} hostile client error(s), the first: {}\n",
               r_.hostile_counts.errors, hostile_->first_error());
  }
  if (end_.server_error_lines > 0) {
    fmt::print(stderr, "loadgen: the server sent {} error lines during traffic, last: {}\n",
               end_.server_error_lines, last_server_error_);
  }
  decide_status(end_, r_);
  if (!end_.died && !end_.fatal && end_.refused > 0) {
    fmt::print(stderr, "loadgen: the server refused {} connection(s) of this run: {}\n",
               end_.refused, end_.refused_line);
  }
  out.fatal = end_.fatal;
  out.server_died = end_.died;
  for (auto& c : conns_) shut(*c);
  return out;
}

// ---- how runs end ----

double RunDriver::seconds_since_start() const {
  return static_cast<double>(now_ns() - start_ns_) / 1e9;
}

void RunDriver::lost(Conn& c, const std::string& why) {
  shut(c);
  if (end_.died || phase_ == Phase::kSetup || phase_ == Phase::kDone) return;
  const double at = seconds_since_start();
  bool gone = false;
  if (o_.server_pid > 0) {
    // A dying process closes its sockets a moment before it turns into a zombie.
    for (int i = 0; i < 20 && !(gone = process_gone(o_.server_pid)); ++i) usleep(5000);
  } else {
    gone = control_.peer_closed(100);
  }
  if (!gone && (o_.server_pid > 0 || control_.connected())) {
    end_.dropped = true;
    end_.died = fmt::format(
        "the server closed {} {:.2f} s after traffic started but is still running ({}; a "
        "slow-consumer drop? see its slow_dropped counter)",
        mode_.describe(c), at, why);
  } else {
    end_.died = fmt::format(
        "the server dropped {} {:.2f} s after traffic started ({}; warm-up {} s, window {} s)",
        mode_.describe(c), at, why, o_.warmup, o_.duration);
  }
  done();
}

void RunDriver::server_gone(const std::string& why) {
  if (end_.died || phase_ == Phase::kDone) return;
  end_.died = fmt::format("{} {:.2f} s after traffic started (warm-up {} s, window {} s)", why,
                          seconds_since_start(), o_.warmup, o_.duration);
  done();
}

void RunDriver::refused(Conn& c, std::string_view line) {
  shut(c);
  ++end_.refused;
  if (!line.empty()) {
    end_.refused_line = std::string(line);
  } else if (end_.refused_line.empty()) {
    end_.refused_line = "closed without a word";
  }
  if (phase_ != Phase::kSetup) done();
}

void RunDriver::server_error(std::string_view line) {
  ++end_.server_error_lines;
  last_server_error_ = std::string(line);
}

void RunDriver::fatal(const std::string& why) {
  if (!end_.fatal) end_.fatal = why;
  if (phase_ != Phase::kSetup) done();
  loop_.stop_turn();
}

}  // namespace mux
