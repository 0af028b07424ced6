// The one list of mechanisms. The binaries, the tests and `chat-* --list-mechanisms` (which the
// sweep and the plots read) all come from this table, so a mechanism is named in one place:
// adding one is a backend file plus one line in MechanismRegistry.cpp.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ChatCore.h"
#include "Driver.h"
#include "Poller.h"

namespace mux {

// A server that cannot build its mechanism's poller on this machine (io_uring refused by the
// kernel or a seccomp filter) exits with this status (EX_UNAVAILABLE of sysexits.h) after one
// line on stderr saying why; callers test the status, never the wording.
inline constexpr int kExitUnavailable = 69;

struct Mechanism {
  std::string_view name;     // as in the listening line, /stats and runs.csv
  std::string_view binary;   // "chat-epoll"
  std::string_view summary;  // one line for --help
  // How the binary's command line selects it: nothing (option empty: the binary's default), a
  // flag (option "--edge", value empty), or an option's value (option "--fdset", value
  // "dynamic"). A binary whose mechanisms differ by an option's value names its default's value
  // too ("fixed"), with `is_default` set, so that the value can be given explicitly.
  std::string_view option = {};
  std::string_view value = {};
  bool is_default = false;
  bool edge_triggered = false;
  bool optional = false;  // built only where its library was found; may be refused by the kernel
  // What the mechanism's model predicts: the server's cost per message (per connection under
  // churn) does not depend on how many idle descriptors it holds, because the kernel reports
  // ready ones without the server passing or scanning the watched set (epoll, io_uring). The
  // report checks every mechanism that claims it against its idle sweep (plot/idle_growth.py).
  bool cost_independent_of_idle = false;
  std::string_view package = {};  // what an optional backend needs to be built: "liburing-dev"
  // "readiness": a Poller says which socket is ready and ReadinessDriver calls recv/send;
  // "completion": the kernel performs recv/send as requests and reports them done; "library":
  // an event library's loop (libevent, libuv) drives the core; "python": a Python script.
  std::string_view model = "readiness";
  // Which sweep group it belongs to: "ours" (the default sweep), or an opt-in group the sweep
  // runs only when asked (--mechanisms +libraries, +python) or with --full: "libraries" (the
  // chat core on libevent and libuv), "python" (the tutorial's kind of server, docs/peers.md).
  std::string_view group = "ours";
  // Its server refuses a connection whose descriptor is >= FD_SETSIZE (1024) with
  // "! server full: select() cannot watch descriptor N (FD_SETSIZE is 1024)".
  bool refuses_past_fd_setsize = false;
  // A script rather than a chat_main binary (the py-* servers): the binary is run by this
  // interpreter (its #! line), and the mechanism is available where the interpreter is.
  std::string_view interpreter = {};
  // A readiness mechanism builds its Poller, which ReadinessDriver then runs: null (with the
  // reason in *error) when this machine refuses it. A mechanism with its own I/O model (the
  // completion model) builds its whole driver instead, through make_driver. Both null when this
  // build lacks the backend.
  std::unique_ptr<Poller> (*make)(std::string* error) = nullptr;
  std::unique_ptr<Driver> (*make_driver)(const ServerOptions& options, std::uint64_t fd_limit,
                                         std::string* error) = nullptr;

  // The arguments after the binary that select it: [] for a default, else option [value].
  std::vector<std::string> args() const;
};

// Every mechanism, in the order the sweep runs them and the report first lists them.
const std::vector<Mechanism>& mechanisms();

// The mechanisms one binary serves (its default first), or empty when none.
std::vector<const Mechanism*> mechanisms_of(std::string_view binary);

const Mechanism* find_mechanism(std::string_view name);

// The server for this mechanism (a ReadinessDriver over its Poller, or its own driver), or null
// with the reason in *error.
std::unique_ptr<Driver> make_server(const Mechanism& m, const ServerOptions& options,
                                    std::uint64_t fd_limit, std::string* error);

// Why this mechanism cannot run here (not built, or refused by this kernel), or nothing. Builds
// and drops a poller to find out.
std::optional<std::string> unavailable_reason(const Mechanism& m);

// The table as JSON, one object per mechanism: name, binary, args, model, edge_triggered,
// optional, cost_independent_of_idle, available, unavailable_reason (null when available).
std::string mechanisms_json();

}  // namespace mux
