#include "ChurnMode.h"

#include <unistd.h>

#include <cerrno>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "IntegrityChecker.h"
#include "MessageCodec.h"
#include "system.h"

namespace mux {

namespace {

struct Slot {
  std::uint32_t index = 0;
  std::string room;
  Conn* partner = nullptr;
  IntegrityChecker checker;  // the churners' messages as the partner sees them
  std::uint64_t sent = 0;    // churners welcomed = messages sent
  Conn* churner = nullptr;   // the slot's churning connection, while it is open
  std::uint64_t started_ns = 0;
  bool welcomed = false, eof = false, delivered = false;
};

class Churn final : public Mode {
 public:
  explicit Churn(const Options& o) : o_(o), codec_(o.size) {}

  std::optional<std::string> on_setup() override;
  std::string members_noun() const override { return "churn partners"; }
  void on_start(std::uint64_t) override {
    for (auto& s : slots_) start_churner(s);
  }
  void on_line(Conn& c, std::string_view line, std::uint64_t now) override {
    Slot& s = slots_[c.tag / 2];
    if (is_churner(c)) {
      on_churner_line(s, line, now);
    } else {
      on_partner_line(s, line, now);
    }
  }
  void on_closed(Conn& c, int err, std::uint64_t now) override;
  bool drained() const override { return in_flight_ == 0; }
  Progress progress() const override {
    return {driver().result().churn_conns, "connections", std::nullopt};
  }
  void finish(RunResult& r, bool server_died) override;
  std::string describe(const Conn& c) const override {
    const Slot& s = slots_[c.tag / 2];
    return is_churner(c) ? fmt::format("the churning connection of slot {}", s.index)
                         : fmt::format("churn partner {}", c.nick);
  }

 private:
  // Tags: 2 * slot for the partner, 2 * slot + 1 for the churner.
  static bool is_churner(const Conn& c) { return c.tag % 2 == 1; }
  void start_churner(Slot& s);
  void close_churner(Slot& s);
  void on_churner_line(Slot& s, std::string_view line, std::uint64_t now);
  void on_partner_line(Slot& s, std::string_view line, std::uint64_t now);
  void maybe_complete(Slot& s, std::uint64_t now);

  const Options& o_;
  MessageCodec codec_;
  std::vector<Slot> slots_;
  std::uint64_t in_flight_ = 0;
};

std::optional<std::string> Churn::on_setup() {
  const std::size_t n = o_.active / 2;
  slots_.resize(n);
  const pid_t pid = getpid();
  for (std::size_t i = 0; i < n; ++i) {
    Slot& s = slots_[i];
    s.index = static_cast<std::uint32_t>(i);
    s.room = fmt::format("lg{}-churn{}", pid, i);
    auto opened = driver().open_member(2 * i, fmt::format("lg{}-p{}", pid, i), s.room);
    if (!opened.conn) return fmt::format("churn partner {} of {}: {}", i + 1, n, opened.error);
    s.partner = opened.conn;
  }
  return std::nullopt;
}

void Churn::start_churner(Slot& s) {
  auto opened = driver().open(2 * s.index + 1);
  if (!opened.conn) {
    if (opened.err == ECONNREFUSED) {
      driver().server_gone(fmt::format("connect: {}", opened.error));
    } else {
      driver().fatal(opened.error);
    }
    return;
  }
  s.churner = opened.conn;
  s.started_ns = now_ns();
  s.welcomed = s.eof = s.delivered = false;
  ++in_flight_;
}

void Churn::close_churner(Slot& s) {
  if (!s.churner) return;
  driver().close(*s.churner);
  s.churner = nullptr;
  --in_flight_;
}

void Churn::maybe_complete(Slot& s, std::uint64_t now) {
  if (!(s.eof && s.delivered)) return;
  close_churner(s);
  RunResult& r = driver().result();
  if (driver().in_window()) {
    ++r.churn_conns;
    ++r.msgs;
    r.latency.record(now - s.started_ns);
  }
  if (driver().sending()) start_churner(s);
}

void Churn::on_churner_line(Slot& s, std::string_view line, std::uint64_t now) {
  Conn& c = *s.churner;
  if (!s.welcomed && line.rfind("* welcome", 0) == 0) {
    s.welcomed = true;
    c.out += fmt::format("/join {}\n", s.room);
    codec_.encode(Message{s.index, s.sent++, now}, c.out);
    c.out += "/quit\n";
    driver().queued(c);
  } else if (line.rfind("! ", 0) == 0) {
    if (line.find("server full") != std::string_view::npos) {
      driver().refused(c, line);
      close_churner(s);
      return;
    }
    driver().server_error(line);
  }
}

void Churn::on_partner_line(Slot& s, std::string_view line, std::uint64_t now) {
  if (line.empty() || line[0] == '*' || line[0] == '{') return;
  if (line[0] == '!') {
    driver().server_error(line);
    return;
  }
  const auto text = MessageCodec::delivery_text(line);
  const auto m = text ? codec_.decode(*text) : std::nullopt;
  if (!m || m->sender != s.index) {
    ++driver().result().integrity.corrupted;
    return;
  }
  s.checker.receive(m->seq);
  if (s.churner && m->seq + 1 == s.sent) {
    s.delivered = true;
    maybe_complete(s, now);
  }
}

void Churn::on_closed(Conn& c, int err, std::uint64_t now) {
  if (!is_churner(c)) {
    Mode::on_closed(c, err, now);
    return;
  }
  Slot& s = slots_[c.tag / 2];
  if (err == ECONNREFUSED) {
    driver().server_gone(
        fmt::format("new connections are refused ({})", connect_hint(err, driver().server())));
  } else if (err != 0) {
    driver().lost(c, errno_text("recv", err));
  } else if (!s.welcomed) {
    driver().refused(c, "");  // closed before its welcome: a refusal without words
    close_churner(s);
  } else {
    s.eof = true;
    maybe_complete(s, now);
  }
}

void Churn::finish(RunResult& r, bool server_died) {
  if (r.measured_s > 0) r.conns_per_s = static_cast<double>(r.churn_conns) / r.measured_s;
  // Every churner that was welcomed sent one message; what the partner never saw is lost.
  for (auto& s : slots_) {
    std::uint64_t owed = s.sent;
    // A churner cut short by the end of the run (or the server's death) may not have been
    // delivered yet: only count it when it had its EOF, i.e. the server processed its /quit.
    if (s.churner && !(s.eof && s.welcomed)) owed = s.sent > 0 ? s.sent - 1 : 0;
    if (!server_died) s.checker.finish(owed);
    r.integrity += s.checker.counts();
  }
}

}  // namespace

std::unique_ptr<Mode> make_churn_mode(const Options& o) {
  return std::make_unique<Churn>(o);
}

}  // namespace mux
