// Measured traffic over the active connections, on one epoll event loop (as wrk and tcpkali
// do: per-connection state, counters by kind, one histogram).
//
//   pingpong   K/2 pairs, each in its own room; the first of a pair sends, the other answers on
//              receipt; latency is the round trip (closed loop, one message in flight per pair).
//   broadcast  one room of K; open loop at `rate` messages/s in total, senders taking turns;
//              every message is scheduled at an intended time and its latency measured from that
//              time at every receiver, so a stalled server cannot hide its stalls (no
//              coordinated omission).
//   flood      K/2 pairs, both sides sending, each keeping `window` messages in flight (closed
//              loop): the highest throughput the server sustains; latency is one way.
//
// Every delivery is decoded and checked per (sender, receiver) stream for loss, duplication,
// reordering and corruption. After the window no new message is sent and the loop drains until
// every message sent has arrived (or drain_timeout passes: what is missing is lost).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "Net.h"
#include "Options.h"
#include "RunResult.h"
#include "ServerControl.h"

namespace mux {

struct RunOutcome {
  // Set when the run could not be carried out at all (nothing measured).
  std::optional<std::string> fatal;
  // Set when the server went away during the run: the figures are partial.
  std::optional<std::string> server_died;
};

// Runs one measured session; fills r (status included). `control` may be disconnected (e.g.
// refused by select), then the server counters stay empty.
RunOutcome run_active(const Options& o, const Endpoint& server, ServerControl& control,
                      RunResult& r);

}  // namespace mux
