// One measured run against a server, whatever the traffic (libuv's benchmark-pound runs every
// variant through one pound_it(); wrk has one loop with callbacks and time events). The driver
// owns what every mode must do the same way, so that modes measure identically:
//
//   - the connections: non-blocking connect, TCP_NODELAY, one recv per readiness event, lines
//     framed and bounded, sends batched per loop turn and finished on EPOLLOUT;
//   - set-up: members wait for the welcome, send /nick and /join, and count as joined on the
//     server's "* you joined" (or as refused on `! server full` or a close without a word),
//     within kSetupTimeoutMs;
//   - the phases: warm-up, window (WindowMeter at its edges), drain (until the mode has what it
//     sent, or --drain-timeout), each edge a timer at its exact deadline;
//   - the server-death probe: the server's pidfd in the loop, and for a lost connection the
//     question whether the server died or dropped just that connection;
//   - the status rules (decide_status);
//   - with --hostile K, the misbehaving clients (HostileClients.h): started with the warm-up,
//     stopped when the window ends, their tokens told apart by HostileClients::kTokenBit;
//   - with --interval, the per-interval series (IntervalSeries.h): an edge timer inside the
//     window and the control connection in the loop for the /stats answers.
//
// A Mode (pingpong, broadcast, flood, churn, ...) is hooks: it opens its connections, starts
// traffic, handles each line, keeps its own timers on loop(), says when it is drained, and
// finally adds its figures to the row.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "EventLoop.h"
#include "HostileClients.h"
#include "IntervalSeries.h"
#include "LineFramer.h"
#include "MessageCodec.h"
#include "Net.h"
#include "Options.h"
#include "RunResult.h"
#include "ServerControl.h"
#include "WindowMeter.h"

namespace mux {

struct RunOutcome {
  // Set when the run could not be carried out at all (nothing measured).
  std::optional<std::string> fatal;
  // Set when the server went away during the run: the figures are partial.
  std::optional<std::string> server_died;
};

enum class Phase { kSetup, kWarmup, kWindow, kDrain, kDone };

// How a run ended, as the status rules see it.
struct RunEnd {
  std::optional<std::string> fatal;
  std::optional<std::string> died;  // the server died, or dropped a connection (dropped)
  bool dropped = false;
  std::uint64_t refused = 0;  // connections of this run the server refused
  std::string refused_line;   // the last refusal's `! ...` line
  std::uint64_t server_error_lines = 0;
};

// The row's status: server-died / error:dropped-by-server, else error:<fatal>, else
// refused:<why>, else WindowMeter::judge (integrity-errors, loadgen-bound, ok).
void decide_status(const RunEnd& end, RunResult& r);

// One connection to the server. The driver owns it and its descriptor; a mode keeps a pointer
// until it calls RunDriver::close (after which the object may be reused for another connection).
struct Conn {
  int fd = -1;
  std::size_t tag = 0;  // the mode's name for it (an index into its own tables)
  bool closed = false;  // by the server, by a loss, or by close()
  // Bytes for the server: append, then RunDriver::queued.
  std::string out;

  // Set-up of a member (RunDriver::open_member).
  std::string nick, room;
  bool member = false;
  bool joined = false;

 private:
  friend class RunDriver;
  LineFramer in_{kMaxServerLine};
  std::size_t out_off_ = 0;
  bool out_armed_ = false;
  bool dirty_ = false;
  bool released_ = false;  // close() was called: the slot is free
  std::uint32_t slot_ = 0;
  std::uint32_t generation_ = 0;
};

class RunDriver;

class Mode {
 public:
  virtual ~Mode() = default;

  // Opens the mode's connections (RunDriver::open_member for those that must be in their room
  // before traffic starts). Error text when that fails.
  virtual std::optional<std::string> on_setup() = 0;
  // What the members are, for messages ("active connections").
  virtual std::string members_noun() const = 0;
  // Traffic starts: the warm-up (or, without one, the window) has begun.
  virtual void on_start(std::uint64_t now) = 0;
  // The phase has just changed to `to` (kWindow: before the window's first snapshot).
  virtual void on_phase_change(Phase /*to*/, std::uint64_t /*now*/) {}
  // One line from the server on c, after set-up. now: when it was read.
  virtual void on_line(Conn& c, std::string_view line, std::uint64_t now) = 0;
  // After set-up, the server closed c (err 0) or recv failed with errno err, at `now`. By
  // default the connection is lost (RunDriver::lost), which ends the run.
  virtual void on_closed(Conn& c, int err, std::uint64_t now);
  // Everything sent has arrived: the drain may end.
  virtual bool drained() const = 0;
  // What the progress line counts in the window.
  struct Progress {
    std::uint64_t count = 0;
    std::string_view unit;
    std::optional<std::uint64_t> p99_ns;
  };
  virtual Progress progress() const = 0;
  // Traffic is over and the driver has filled the window's figures: add the mode's (integrity
  // above all). server_died: what the server still owed may never come, so it is not lost.
  virtual void finish(RunResult& r, bool server_died) = 0;
  // The connection, for messages: "active connection 3 (lg12-3)".
  virtual std::string describe(const Conn& c) const = 0;

 protected:
  RunDriver& driver() { return *driver_; }
  const RunDriver& driver() const { return *driver_; }
  // A mode that wraps another (a test's observer, a composite mode) hands it the driver.
  static void share_driver(Mode& inner, RunDriver& d) { inner.driver_ = &d; }

 private:
  friend class RunDriver;
  RunDriver* driver_ = nullptr;
};

class RunDriver : private EventLoop::Dispatcher {
 public:
  // Everything must have joined its room within this long.
  static constexpr int kSetupTimeoutMs = 10000;

  // `control` may be disconnected (e.g. refused by select): the server's counters stay empty.
  RunDriver(const Options& o, const Endpoint& server, ServerControl& control, RunResult& r,
            Mode& mode);
  ~RunDriver() override;
  RunDriver(const RunDriver&) = delete;
  RunDriver& operator=(const RunDriver&) = delete;

  // Runs set-up, warm-up, window and drain; fills r (status included).
  RunOutcome run();
  // The per-interval series (--interval), or nullptr.
  const IntervalSeries* series() const { return series_ ? &*series_ : nullptr; }
  // When the measuring window began (now_ns() clock); 0 when it never did.
  std::uint64_t window_begin_ns() const { return r_.measured ? meter_.begin_ns() : 0; }

  // --- for modes ---
  const Options& options() const { return o_; }
  const Endpoint& server() const { return server_; }
  ServerControl& control() { return control_; }
  RunResult& result() { return r_; }
  const RunResult& result() const { return r_; }
  EventLoop& loop() { return loop_; }
  Phase phase() const { return phase_; }
  bool sending() const { return phase_ == Phase::kWarmup || phase_ == Phase::kWindow; }
  bool in_window() const { return phase_ == Phase::kWindow; }
  std::uint64_t start_ns() const { return start_ns_; }
  std::uint64_t warmup_end_ns() const { return warmup_end_ns_; }

  // A new connection (non-blocking connect under way, TCP_NODELAY, in the loop), or why not:
  // err is the errno and error the text saying what to do.
  struct Opened {
    Conn* conn = nullptr;
    int err = 0;
    std::string error;
  };
  Opened open(std::size_t tag);
  // A connection that joins `room` as `nick` during set-up (see the top of this file).
  Opened open_member(std::size_t tag, std::string nick, std::string room);
  // c.out has grown: it is sent at the end of this loop turn.
  void queued(Conn& c);
  // The mode is done with c: its descriptor is closed and the object may be reused.
  void close(Conn& c);
  // The server closed c, or c broke, where the mode did not expect it: probes whether the
  // server died or dropped only c (error:dropped-by-server), and ends the run either way.
  void lost(Conn& c, const std::string& why);
  // The server is known to be gone (e.g. new connections are refused); ends the run.
  void server_gone(const std::string& why);
  // The server refused c (`line`, or "" for a close without a word): counted in the row's
  // `refused`; after set-up it ends the run.
  void refused(Conn& c, std::string_view line);
  // A `! ...` line during traffic: counted, and the status says integrity-errors.
  void server_error(std::string_view line);
  // The run cannot go on (nothing measured): e.g. out of descriptors.
  void fatal(const std::string& why);

 private:
  void on_ready(std::uint64_t token, std::uint32_t events, std::uint64_t now) override;
  void on_ready_done() override;
  Conn& acquire();
  std::optional<std::string> setup();
  void traffic();
  void watch_server();
  void poll_server(std::uint64_t now);
  void begin_window(std::uint64_t now);
  void end_window(std::uint64_t now);
  void progress(std::uint64_t now);
  void open_series(std::uint64_t window_end_ns);
  void schedule_series_edge();
  void series_edge();
  void close_series();
  void read_control();
  void unwatch_control();
  void done();
  // The rooms the members joined: where never-read hostile clients go.
  std::vector<std::string> member_rooms() const;
  void stop_hostile();
  void read(Conn& c);
  void on_setup_line(Conn& c, std::string_view line);
  void on_setup_closed(Conn& c, int err);
  void flush(Conn& c);
  void flush_queued();
  void set_out_interest(Conn& c, bool want);
  void shut(Conn& c);
  double seconds_since_start() const;
  static std::uint64_t token(const Conn& c) {
    return (static_cast<std::uint64_t>(c.generation_) << 32) | c.slot_;
  }
  // Generations wrap below bit 63, which marks HostileClients' tokens.
  static constexpr std::uint32_t kGenerationMask = 0x7fffffff;

  const Options& o_;
  const Endpoint& server_;
  ServerControl& control_;
  RunResult& r_;
  Mode& mode_;
  EventLoop loop_;
  std::optional<HostileClients> hostile_;  // destroyed before loop_: it cancels its timers
  WindowMeter meter_;
  ProcessWatch watch_;
  Phase phase_ = Phase::kSetup;
  std::uint64_t start_ns_ = 0, warmup_end_ns_ = 0;
  bool traffic_started_ = false;

  std::vector<std::unique_ptr<Conn>> conns_;  // by slot
  std::vector<std::uint32_t> free_;           // slots to reuse
  std::vector<std::uint32_t> freed_;          // closed this turn: reused from the next one
  std::vector<Conn*> queued_;
  std::size_t members_ = 0, joined_ = 0;

  std::optional<IntervalSeries> series_;
  std::deque<std::size_t> series_owed_;  // edges whose /stats answer has not arrived yet
  std::uint64_t window_end_ns_ = 0;
  bool series_closed_ = false, control_watched_ = false;

  RunEnd end_;
  std::string last_server_error_;
  // One recv per readiness event takes whatever is there, up to this much.
  std::array<char, 65536> buf_;
};

}  // namespace mux
