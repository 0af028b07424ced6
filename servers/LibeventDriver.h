// The chat core on libevent (https://libevent.org), as a libevent user writes a server: one
// event_base, a persistent read event per connection, and a write event added only while that
// connection has output queued. The backend is forced (select, poll or epoll), so that each of
// libevent's loops can be compared with ours over the same core (docs/peers.md).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "ChatCore.h"
#include "Driver.h"

namespace mux {

// A driver on libevent's `backend` ("select", "poll", "epoll"), or null with the reason in *error
// (the library refuses the backend, or picked another one).
std::unique_ptr<Driver> make_libevent_driver(std::string_view backend, const ServerOptions& options,
                                             std::uint64_t fd_limit, std::string* error);

}  // namespace mux
