// The floors: what a round trip costs with no chat server and no event loop, so that every
// server's pingpong p50 can be read against a floor measured in the same CPU placement.
//
//   floor        2 hops, A -> peer -> A: a forked echo peer (pinned to --peer-cpu) and this
//                process (pinned to --cpu) play a plain blocking send/recv ping-pong of
//                `size`-byte messages over one loopback TCP connection.
//   relay-floor  4 hops, A -> peer -> B -> peer -> A, the path of a chat pingpong round trip:
//                the forked peer holds two connections and relays with blocking recv/send in
//                strict alternation (A to B, then B to A); this process plays both A and B,
//                B answering on receipt as pingpong's responder does. It is what a server
//                costs at the least: two reads and two writes per round trip, no readiness wait.
#pragma once

#include <optional>
#include <string>

#include "Options.h"
#include "RunResult.h"

namespace mux {

// Runs the floor o.mode names ("floor" or "relay-floor"); fills r; returns an error line when
// the floor could not be measured.
std::optional<std::string> run_floor(const Options& o, RunResult& r);

}  // namespace mux
