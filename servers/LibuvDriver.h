// The chat core on libuv (https://libuv.org, Node.js's loop), as a libuv user writes a server:
// uv_listen/uv_accept, uv_read_start, and uv_try_write with uv_write for what the kernel does not
// take at once. On Linux libuv waits with epoll (docs/peers.md).
#pragma once

#include <memory>
#include <string>

#include "ChatCore.h"
#include "Driver.h"

namespace mux {

// A driver on a fresh uv_loop_t, or null with the reason in *error.
std::unique_ptr<Driver> make_libuv_driver(const ServerOptions& options, std::uint64_t fd_limit,
                                          std::string* error);

}  // namespace mux
