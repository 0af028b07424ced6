// Clients that misbehave beside the measured ones (--hostile K): the known ways a chat server
// is abused, so that a run shows what they cost the honest clients. They live on the run's
// EventLoop, start when the warm-up starts (spread evenly over its first second) and are stopped
// when the window ends; each one paces itself with timers, so their number of connections per
// second is bounded by the pacing below, and they hold at most storm_burst descriptors each. Being
// refused or closed by the server is what a hostile client expects: it is counted, never an error
// of the run.
//
// Kinds (K clients are spread round-robin over the kinds asked for):
//   slowloris       one connection; one byte, never a newline, every slowloris_ms
//   never-read      joins the measured clients' room and never reads, so the server's output
//                   queue to it fills (small SO_RCVBUF and MSS); after never_read_hold_ms it resets
//                   and comes back
//   reset-mid-line  half a line, then close with SO_LINGER {1, 0} (RST); again after pause_ms
//   vanish          connect, close as soon as the connection is up; again after pause_ms
//   overlong        one line of line_bytes (longer than the servers' 4096 default), which the
//                   server answers with `! line too long` and a close; again after pause_ms
//   storm           storm_burst connects back to back, each closed on the welcome; the next
//                   burst storm_pause_ms after the last one closed
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "EventLoop.h"
#include "LineFramer.h"
#include "Net.h"

namespace mux {

enum class HostileKind { kSlowloris, kNeverRead, kResetMidLine, kVanish, kOverlong, kStorm };

// Every kind, in the order of --hostile-kinds' default.
const std::vector<HostileKind>& all_hostile_kinds();
std::string_view hostile_kind_name(HostileKind k);
// "slowloris,storm" -> kinds, or the error line for --hostile-kinds.
std::variant<std::vector<HostileKind>, std::string> parse_hostile_kinds(std::string_view list);
// Joined by `separator`: "," for --hostile-kinds, "+" for the row's hostile_kinds (no comma, so
// the CSV cell needs no quotes).
std::string hostile_kinds_text(const std::vector<HostileKind>& kinds, char separator = ',');

// The pacing: chosen so that hostile clients are a nuisance, not a flood that saturates a
// 2-core machine by itself (K = 12, two per kind, open ~130 connections/s in all, a few
// hundred times less than churn mode does).
struct HostilePacing {
  std::uint64_t slowloris_ms = 2000;
  std::uint64_t pause_ms = 200;       // between the cycles of one client, and after a drop
  std::uint64_t reset_after_ms = 50;  // half line to RST: the server reads the half line first
  std::uint64_t never_read_hold_ms = 2000;
  std::uint64_t line_bytes = 8192;
  std::uint64_t storm_burst = 50;
  std::uint64_t storm_pause_ms = 1000;
  // A welcome (or, overlong, the server's close) that takes longer than this is an error.
  std::uint64_t answer_timeout_ms = 5000;
};

struct HostileCounts {
  std::uint64_t connects = 0;  // connections opened
  std::uint64_t refused = 0;   // `! server full`, or closed by the server before its welcome
  std::uint64_t dropped = 0;   // closed by the server after its welcome (overlong: always)
  std::uint64_t errors = 0;    // failed on our side: connect, setsockopt, no answer in time
};

class HostileClients {
 public:
  // Tokens with this bit set are ours (RunDriver's connection tokens never set it).
  static constexpr std::uint64_t kTokenBit = 1ULL << 63;
  static bool owns(std::uint64_t token) { return (token & kTokenBit) != 0; }

  HostileClients(EventLoop& loop, const Endpoint& server, std::uint64_t count,
                 std::vector<HostileKind> kinds, HostilePacing pacing);
  ~HostileClients();
  HostileClients(const HostileClients&) = delete;
  HostileClients& operator=(const HostileClients&) = delete;

  // Starts every client. never-read clients join `rooms` round-robin (the measured clients'
  // rooms; lobby when empty).
  void start(std::vector<std::string> rooms);
  // Closes every hostile connection (RST, so that the server neither waits nor takes a
  // slowloris's partial line for a message) and cancels every timer. Idempotent.
  void stop();
  void on_ready(std::uint64_t token, std::uint32_t events);

  const HostileCounts& counts() const { return counts_; }
  // The first error, with its errno text, for stderr; empty when none.
  const std::string& first_error() const { return first_error_; }

 private:
  struct Sock {
    int fd = -1;
    std::uint32_t generation = 0;
    std::uint32_t client = 0;
    bool welcomed = false;
    LineFramer in{1 << 16};
    std::string out;
    std::size_t out_off = 0;
  };
  struct Client {
    HostileKind kind = HostileKind::kSlowloris;
    std::string room;
    std::optional<EventLoop::TimerId> timer;
    std::vector<std::uint32_t> socks;  // open sockets, by slot
    std::uint64_t drips = 0;           // slowloris: bytes sent on this connection
  };

  void begin_cycle(std::uint32_t client);
  void next_cycle(std::uint32_t client, std::uint64_t delay_ms);
  void arm(std::uint32_t client, std::uint64_t delay_ms, void (HostileClients::*fn)(std::uint32_t));
  std::optional<std::uint32_t> open(std::uint32_t client);
  void on_line(std::uint32_t slot, std::string_view line);
  void on_welcome(std::uint32_t slot);
  void on_closed_by_server(std::uint32_t slot);
  void on_connected(std::uint32_t slot);
  void send_out(std::uint32_t slot);
  void drip(std::uint32_t client);
  void reset_now(std::uint32_t client);
  void answer_overdue(std::uint32_t client);
  void storm_overdue(std::uint32_t client);
  // Closes the socket and frees its slot; abortive = RST (SO_LINGER {1, 0}).
  void close_sock(std::uint32_t slot, bool abortive);
  void close_all(std::uint32_t client, bool abortive);
  void error(const std::string& what);
  std::uint64_t token(std::uint32_t slot) const;

  EventLoop& loop_;
  const Endpoint& server_;
  HostilePacing pacing_;
  std::vector<Client> clients_;
  std::vector<Sock> socks_;
  std::vector<std::uint32_t> free_;
  HostileCounts counts_;
  std::string first_error_;
  bool running_ = false;
  char buf_[4096];
};

}  // namespace mux
