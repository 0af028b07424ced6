#pragma once
#include <memory>
#include <string>

#include "Poller.h"

namespace mux {
// Returns null and says why when io_uring is unavailable (old kernel, kernel.io_uring_disabled,
// seccomp in a container).
std::unique_ptr<Poller> make_uring_poller(std::string* error);
// Why io_uring_setup failed with `err`, with what would allow it ("io_uring unavailable: ...").
// Shared by both io_uring mechanisms.
std::string uring_setup_failure(int err);
}  // namespace mux
