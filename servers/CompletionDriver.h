// io_uring in its completion model, as a whole chat server: mechanism uring-completion,
// `chat-uring --model completion`. What the model does and what its counters mean is told at
// the top of CompletionDriver.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "ChatCore.h"
#include "Driver.h"

namespace mux {

// The server, or null with the reason in *error when this machine cannot run it: io_uring
// refused (kernel.io_uring_disabled, seccomp), or a kernel without multishot recv into a
// provided-buffer ring (before Linux 6.0). Probes the kernel, so --list-mechanisms can tell.
// The driver must be run by the thread that made it (IORING_SETUP_SINGLE_ISSUER).
std::unique_ptr<Driver> make_completion_driver(const ServerOptions& options, std::uint64_t fd_limit,
                                               std::string* error);

}  // namespace mux
