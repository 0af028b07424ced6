// Idle connections: N TCP connections to the server that never send, held by as many forked
// helper processes as the open-file limit requires, spread over destination addresses
// (--idle-destinations; default the server alone) and, within each destination, over source
// addresses (--idle-sources; default 127.0.0.2, 127.0.0.3, ... towards loopback), so that no
// (source, destination) pair runs out of ephemeral ports. Connection i goes to destination
// i % D, and the k-th connection to a destination from source k % S.
//
// Each helper raises its own RLIMIT_NOFILE soft limit to the hard one, opens its share with
// non-blocking connects (a bounded number in flight, so the server's accept queue never
// overflows and no SYN waits a second for a retransmit), and counts a connection established
// when the server's first line arrives: `* welcome ...`, or a refusal (`! server full ...`),
// which is counted, not fatal. It then sleeps in epoll until released, draining anything the
// server sends and noticing closes; on release it checks every connection is still open.
// The parent talks to helpers over two pipes each; a helper whose parent dies sees EOF and exits.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "Net.h"

namespace mux {

struct IdleOptions {
  Endpoint server;                     // the destination when `destinations` is empty
  std::vector<Endpoint> destinations;  // --idle-destinations (each with the server's port)
  // --idle-sources, every one used. Empty: 127.0.0.2, 127.0.0.3, ... as many as needed when
  // every destination is loopback, else no binding (the kernel's choice, one address).
  std::vector<in_addr> sources;
  std::uint64_t count = 0;
  std::uint64_t per_process = 0;  // 0: what the open-file limit allows
  std::uint64_t per_pair = 0;     // per (source, destination); 0: half the ephemeral port range
  int stall_timeout_ms = 15000;   // no connection progressed for this long: give up
};

struct IdleStatus {
  std::uint64_t requested = 0;
  std::uint64_t established = 0;  // welcomed by the server
  std::uint64_t refused = 0;      // refused by the server (`! ...` line or closed at once)
  std::uint64_t open = 0;         // still open when released (valid after release())
  std::uint64_t processes = 0;
  std::uint64_t sources = 0;       // source addresses bound (0: the kernel chose one)
  std::uint64_t destinations = 0;  // destination addresses connected to
  double open_seconds = 0;         // time to establish all of them
};

class IdleHolders {
 public:
  IdleHolders() = default;
  IdleHolders(const IdleHolders&) = delete;
  IdleHolders& operator=(const IdleHolders&) = delete;
  ~IdleHolders();

  // Forks the helpers and returns when every connection is established or refused; an error
  // line otherwise (helpers are then stopped).
  std::optional<std::string> open(const IdleOptions& options);
  // Tells every helper to check and close its connections; fills status().open.
  std::optional<std::string> release();
  const IdleStatus& status() const { return status_; }

 private:
  struct Helper {
    pid_t pid = -1;
    int command_fd = -1;  // parent writes; closing it means "release"
    int report_fd = -1;   // helper writes its reports, one line each
    std::string pending;
  };
  std::optional<std::string> read_report(Helper& h, std::string& line, int timeout_ms);
  void stop_all();

  std::vector<Helper> helpers_;
  IdleStatus status_;
};

}  // namespace mux
