// --mode floor: the cost of the loopback round trip itself, with no chat server and no event
// loop. A forked echo peer (pinned to --peer-cpu) and this process (pinned to --cpu) play a
// plain blocking send/recv ping-pong of `size`-byte messages over loopback TCP. Every server's
// pingpong p50 is read against this floor measured in the same placement.
#pragma once

#include <optional>
#include <string>

#include "Options.h"
#include "RunResult.h"

namespace mux {

// Fills r; returns an error line when the floor could not be measured.
std::optional<std::string> run_floor(const Options& o, RunResult& r);

}  // namespace mux
