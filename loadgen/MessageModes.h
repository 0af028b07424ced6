// Measured traffic over the active connections, as modes of the RunDriver (per-connection
// state, counters by kind and one histogram, as wrk and tcpkali keep them):
//
//   pingpong   K/2 pairs, each in its own room; the first of a pair sends, the other answers on
//              receipt; latency is the round trip (closed loop, one message in flight per pair).
//   broadcast  one room of K; open loop at `rate` messages/s in total, senders taking turns;
//              every message is scheduled at an intended time and its latency measured from that
//              time at every receiver, so a stalled server cannot hide its stalls (no
//              coordinated omission).
//   rate       pingpong's K/2 pairs under broadcast's open loop: `rate` questions/s in total, the
//              pairs taking turns, each sent at its intended time (--arrival fixed or poisson),
//              answered on receipt; latency from the intended time to the answer, msgs counts
//              the answers (the achieved rate), and how far the loadgen fell behind its schedule
//              is the row's max_send_lag_us.
//   flood      K/2 pairs, both sides sending, each keeping `window` messages in flight (closed
//              loop): the highest throughput the server sustains; latency is one way.
//
// Every delivery is decoded and checked per (sender, receiver) stream for loss, duplication,
// reordering and corruption. After the window no new message is sent and the driver drains
// until every message sent has arrived (or drain_timeout passes: what is missing is lost).
#pragma once

#include <memory>

#include "Options.h"
#include "RunDriver.h"

namespace mux {

// The mode for o.mode (pingpong, broadcast, rate or flood).
std::unique_ptr<Mode> make_message_mode(const Options& o);

}  // namespace mux
