#pragma once
#include <memory>
#include <string>

#include "Poller.h"

namespace mux {
// Returns null and says why when io_uring is unavailable (old kernel, kernel.io_uring_disabled,
// seccomp in a container).
std::unique_ptr<Poller> make_uring_poller(std::string* error);
}  // namespace mux
