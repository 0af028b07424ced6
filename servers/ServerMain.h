// The command line and life cycle shared by every chat-* binary
// (docs/protocol.md#command-line-and-output). A binary only says its name: the mechanisms it
// serves, and the options that choose among them, come from the registry (MechanismRegistry.cpp).
#pragma once

#include <string_view>

namespace mux {

// Exits 0 after SIGINT/SIGTERM, kExitUnavailable (69) when this machine refuses the mechanism,
// CLI11's status on a bad command line, 2 when --cpu or --max-conns cannot be honoured (a CPU
// that does not exist; more connections than the open-file limit leaves room for), 1 on any
// other failure.
int server_main(int argc, char** argv, std::string_view program);

}  // namespace mux
