#pragma once
#include <memory>
#include <optional>
#include <string>

#include "Poller.h"

namespace mux {
// Returns an error text when epoll_create1 fails.
std::unique_ptr<Poller> make_epoll_poller(bool edge_triggered, std::string* error);
}  // namespace mux
