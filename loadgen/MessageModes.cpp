#include "MessageModes.h"

#include <unistd.h>

#include <algorithm>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "ArrivalSchedule.h"
#include "IntegrityChecker.h"
#include "MessageCodec.h"
#include "WindowTuner.h"
#include "system.h"

namespace mux {

namespace {

// One active connection: a sender and, per sender it hears, a receiver.
struct Member {
  Conn* conn = nullptr;
  std::uint32_t id = 0;
  std::uint64_t sent = 0;   // next sequence number = messages sent so far
  std::uint64_t acked = 0;  // flood: our messages delivered to the peer
  int peer = -1;            // pairs: the other member of the pair
  bool initiator = false;   // pingpong, rate: the side that asks
  std::unordered_map<std::uint32_t, IntegrityChecker> from;  // per sender
  // The checker of the last sender seen: pairs only ever hear one, so the hash lookup is skipped
  // (references into an unordered_map stay valid as it grows).
  std::uint32_t last_sender = UINT32_MAX;
  IntegrityChecker* last_from = nullptr;
};

// What pingpong, broadcast, rate and flood share: the members, sending, and the checks on every
// delivery. A subclass decides who sends when, and what a delivery triggers.
class MessageMode : public Mode {
 public:
  // count_replies_only: the row's msgs counts only the deliveries to a pair's asker (rate).
  explicit MessageMode(const Options& o, bool count_replies_only = false)
      : o_(o), codec_(o.size), count_replies_only_(count_replies_only) {}

  std::optional<std::string> on_setup() override;
  std::string members_noun() const override { return "active connections"; }
  void on_line(Conn& c, std::string_view line, std::uint64_t now) override;
  bool drained() const override { return delivered_ >= expected_; }
  Progress progress() const override;
  void finish(RunResult& r, bool server_died) override;
  std::string describe(const Conn& c) const override;

 protected:
  virtual bool broadcast() const { return false; }
  // A checked delivery of m to `to`.
  virtual void delivered(Member& to, const Message& m, std::uint64_t now) = 0;
  void send_msg(Member& m, std::uint64_t send_ns);
  // Pairs: `to` answers m; the answer carries the question's send time back.
  void answer(Member& to, const Message& m) { send_msg(to, m.send_ns); }
  void record_if_in_window(std::uint64_t now, std::uint64_t send_ns);

  const Options& o_;
  MessageCodec codec_;
  std::vector<Member> members_;
  std::uint64_t expected_ = 0, delivered_ = 0;
  const bool count_replies_only_;
};

std::optional<std::string> MessageMode::on_setup() {
  const std::size_t k = o_.active;
  members_.resize(k);
  const pid_t pid = getpid();
  for (std::size_t i = 0; i < k; ++i) {
    Member& m = members_[i];
    m.id = static_cast<std::uint32_t>(i);
    std::string room;
    if (broadcast()) {
      room = fmt::format("lg{}-bcast", pid);
    } else {
      room = fmt::format("lg{}-pair{}", pid, i / 2);
      m.peer = static_cast<int>(i ^ 1);
      m.initiator = (i % 2) == 0;
    }
    auto opened = driver().open_member(i, fmt::format("lg{}-{}", pid, i), std::move(room));
    if (!opened.conn) return fmt::format("active connection {} of {}: {}", i + 1, k, opened.error);
    m.conn = opened.conn;
  }
  return std::nullopt;
}

std::string MessageMode::describe(const Conn& c) const {
  return fmt::format("active connection {} ({})", c.tag, c.nick);
}

void MessageMode::send_msg(Member& m, std::uint64_t send_ns) {
  codec_.encode(Message{m.id, m.sent++, send_ns}, m.conn->out);
  expected_ += broadcast() ? members_.size() - 1 : 1;
  driver().queued(*m.conn);
}

void MessageMode::record_if_in_window(std::uint64_t now, std::uint64_t send_ns) {
  if (driver().in_window()) driver().result().latency.record(now > send_ns ? now - send_ns : 0);
}

void MessageMode::on_line(Conn& c, std::string_view line, std::uint64_t now) {
  RunResult& r = driver().result();
  if (line.empty()) {
    ++r.integrity.corrupted;
    return;
  }
  if (line[0] == '*' || line[0] == '{') return;  // join notices, /stats, ...: not ours
  if (line[0] == '!') {
    driver().server_error(line);
    return;
  }
  Member& to = members_[c.tag];
  const auto text = MessageCodec::delivery_text(line);
  const auto m = text ? codec_.decode(*text) : std::nullopt;
  if (!m || m->sender >= members_.size() || m->sender == to.id) {
    ++r.integrity.corrupted;
    return;
  }
  ++delivered_;
  if (m->sender != to.last_sender) {
    to.last_sender = m->sender;
    to.last_from = &to.from[m->sender];
  }
  to.last_from->receive(m->seq);
  if (driver().in_window() && (!count_replies_only_ || to.initiator)) ++r.msgs;
  delivered(to, *m, now);
}

MessageMode::Progress MessageMode::progress() const {
  const RunResult& r = driver().result();
  return {r.msgs, "msgs", r.latency.percentile(0.99)};
}

void MessageMode::finish(RunResult& r, bool server_died) {
  // Whatever was sent and never arrived is lost; every pair of members is one stream.
  for (auto& to : members_) {
    for (auto& from : members_) {
      if (&from == &to) continue;
      if (!broadcast() && static_cast<int>(from.id) != to.peer) continue;
      auto& checker = to.from[from.id];
      // Messages still owed when the server died are not the server's loss to count.
      if (!server_died) checker.finish(from.sent);
      r.integrity += checker.counts();
    }
  }
}

class Pingpong final : public MessageMode {
 public:
  using MessageMode::MessageMode;
  void on_start(std::uint64_t) override {
    for (auto& m : members_) {
      if (m.initiator) send_msg(m, now_ns());
    }
  }

 private:
  void delivered(Member& to, const Message& m, std::uint64_t now) override {
    if (to.initiator) {
      record_if_in_window(now, m.send_ns);
      if (driver().sending()) send_msg(to, now_ns());
    } else {
      answer(to, m);
    }
  }
};

// broadcast and rate: each message sent at its intended time (ArrivalSchedule.h), whatever the
// deliveries do, and its latency measured from that time.
class OpenLoop : public MessageMode {
 public:
  OpenLoop(const Options& o, bool count_replies_only)
      : MessageMode(o, count_replies_only), schedule_(o.arrival, o.rate, o.seed) {}
  void on_start(std::uint64_t now) override {
    schedule_.start(now);
    driver().loop().at(schedule_.next_ns(), [this](std::uint64_t t) { send_due(t); });
  }
  void finish(RunResult& r, bool server_died) override {
    MessageMode::finish(r, server_died);
    if (r.measured) r.max_send_lag_us = static_cast<double>(max_lag_ns_) / 1e3;
  }

 protected:
  // Who sends message n of the schedule.
  virtual Member& sender_of(std::uint64_t n) = 0;

 private:
  // Sends per timer when behind schedule: the loop gets to read deliveries in between.
  static constexpr std::size_t kBurst = 1024;

  // Every message due by now is sent now, however late: its latency still counts from its
  // intended time, and how late the loadgen was is the row's max_send_lag_us.
  void send_due(std::uint64_t now) {
    if (!driver().sending()) return;
    for (std::size_t burst = 0; schedule_.next_ns() <= now && burst < kBurst; ++burst) {
      const std::uint64_t intended = schedule_.next_ns();
      if (driver().in_window()) max_lag_ns_ = std::max(max_lag_ns_, now - intended);
      send_msg(sender_of(schedule_.sent()), intended);
      schedule_.advance();
    }
    driver().loop().at(schedule_.next_ns(), [this](std::uint64_t t) { send_due(t); });
  }

  ArrivalSchedule schedule_;
  std::uint64_t max_lag_ns_ = 0;
};

class Broadcast final : public OpenLoop {
 public:
  explicit Broadcast(const Options& o) : OpenLoop(o, false) {}

 private:
  bool broadcast() const override { return true; }
  Member& sender_of(std::uint64_t n) override { return members_[n % members_.size()]; }
  void delivered(Member&, const Message& m, std::uint64_t now) override {
    record_if_in_window(now, m.send_ns);
  }
};

// Pingpong's pairs under an open-loop schedule: the offered rate is spread over the pairs in
// turn, each asker's questions may overlap, the other side answers each on receipt with the
// question's intended time, and the asker records the reply's latency from that time. msgs
// counts the replies, so throughput_msgs_s is the achieved rate to compare with the offered one.
class Rate final : public OpenLoop {
 public:
  explicit Rate(const Options& o) : OpenLoop(o, true) {}

 private:
  Member& sender_of(std::uint64_t n) override {
    return members_[2 * (n % (members_.size() / 2))];  // the askers are the even members
  }
  void delivered(Member& to, const Message& m, std::uint64_t now) override {
    if (to.initiator) {
      record_if_in_window(now, m.send_ns);
    } else {
      answer(to, m);
    }
  }
};

class Flood final : public MessageMode {
 public:
  explicit Flood(const Options& o) : MessageMode(o), window_(o.window) {
    if (o.window_auto) {
      tuner_.emplace(WindowTuner::max_window(o.size));
      window_ = tuner_->window();
      // Slices shorter than a few ms would measure scheduling noise rather than throughput.
      slice_ns_ = std::max<std::uint64_t>(
          static_cast<std::uint64_t>(o.warmup * 1e9 / WindowTuner::kSlices), 5'000'000);
    }
  }
  void on_start(std::uint64_t now) override {
    for (auto& m : members_) refill(m, now_ns());
    if (tuner_) start_slice(now);
  }
  void on_phase_change(Phase to, std::uint64_t) override {
    if (to != Phase::kWindow) return;
    if (tuner_) {
      tuner_->finish();
      window_ = tuner_->window();
    }
    driver().result().window_chosen = window_;
  }

 private:
  void delivered(Member&, const Message& m, std::uint64_t now) override {
    record_if_in_window(now, m.send_ns);
    Member& sender = members_[m.sender];
    ++sender.acked;
    if (driver().sending()) refill(sender, now);
  }
  void refill(Member& m, std::uint64_t now) {
    while (m.sent - m.acked < window_) send_msg(m, now);
  }
  std::optional<double> server_cpu_us();
  void start_slice(std::uint64_t now);
  void tune(std::uint64_t now);

  // Messages in flight per sender; with --window auto the tuner's current choice.
  std::uint64_t window_;
  std::optional<WindowTuner> tuner_;
  std::uint64_t slice_ns_ = 0, slice_start_ns_ = 0, slice_delivered_ = 0;
  CpuTimes slice_self_{};
  std::optional<double> slice_server_us_;
};

// The server's CPU so far in µs: its /stats (getrusage, µs) when the control connection works,
// else /proc/PID/stat (10 ms ticks: coarse for a slice of tens of ms, but only a threshold is
// read from it).
std::optional<double> Flood::server_cpu_us() {
  ServerControl& control = driver().control();
  if (control.connected()) {
    auto st = control.stats(1000);
    if (auto* line = std::get_if<StatsLine>(&st))
      if (auto cpu = line->cpu_us()) return cpu;
  }
  if (o_.server_pid > 0) {
    if (auto t = process_cpu_times(o_.server_pid)) return static_cast<double>(t->total_us());
  }
  return std::nullopt;
}

void Flood::start_slice(std::uint64_t now) {
  slice_server_us_ = server_cpu_us();
  slice_self_ = self_cpu_times();
  slice_start_ns_ = now_ns();
  slice_delivered_ = delivered_;
  driver().loop().at(std::max(now, slice_start_ns_) + slice_ns_, [this](std::uint64_t t) {
    // A slice that ends with the warm-up is not measured: the window is about to be chosen.
    if (driver().phase() == Phase::kWarmup && !tuner_->done() && t < driver().warmup_end_ns()) {
      tune(t);
    }
  });
}

void Flood::tune(std::uint64_t now) {
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
    for (auto& m : members_) refill(m, now);
  }
  if (!tuner_->done()) start_slice(now);
}

}  // namespace

std::unique_ptr<Mode> make_message_mode(const Options& o) {
  if (o.mode == "pingpong") return std::make_unique<Pingpong>(o);
  if (o.mode == "broadcast") return std::make_unique<Broadcast>(o);
  if (o.mode == "rate") return std::make_unique<Rate>(o);
  return std::make_unique<Flood>(o);
}

}  // namespace mux
