#include "MechanismRegistry.h"

#include <unistd.h>

#include <fmt/format.h>

#include "EpollPoller.h"
#include "Json.h"
#include "PollPoller.h"
#include "ReadinessDriver.h"
#include "SelectPoller.h"
#ifdef MUXBENCH_HAVE_LIBEVENT
#include "LibeventDriver.h"
#endif
#ifdef MUXBENCH_HAVE_LIBUV
#include "LibuvDriver.h"
#endif
#ifdef MUXBENCH_HAVE_URING
#include "CompletionDriver.h"
#include "UringPoller.h"
#endif

namespace mux {
namespace {

// Captureless lambdas, so that the table is plain data: a factory is a function pointer.
using Factory = std::unique_ptr<Poller> (*)(std::string*);

constexpr Factory kSelectFixed = [](std::string*) {
  return make_select_poller(SelectFdSet::kFixed);
};
constexpr Factory kSelectDynamic = [](std::string*) {
  return make_select_poller(SelectFdSet::kDynamic);
};
constexpr Factory kPoll = [](std::string*) { return make_poll_poller(); };
constexpr Factory kEpollLevel = [](std::string* error) { return make_epoll_poller(false, error); };
constexpr Factory kEpollEdge = [](std::string* error) { return make_epoll_poller(true, error); };
using DriverFactory = std::unique_ptr<Driver> (*)(const ServerOptions&, std::uint64_t,
                                                  std::string*);

#ifdef MUXBENCH_HAVE_URING
constexpr Factory kUring = [](std::string* error) { return make_uring_poller(error); };
constexpr DriverFactory kUringCompletion = make_completion_driver;
#else
constexpr Factory kUring = nullptr;  // configured without liburing-dev
constexpr DriverFactory kUringCompletion = nullptr;
#endif

#ifdef MUXBENCH_HAVE_LIBEVENT
constexpr DriverFactory kLibeventSelect = [](const ServerOptions& o, std::uint64_t n,
                                             std::string* e) {
  return make_libevent_driver("select", o, n, e);
};
constexpr DriverFactory kLibeventPoll = [](const ServerOptions& o, std::uint64_t n,
                                           std::string* e) {
  return make_libevent_driver("poll", o, n, e);
};
constexpr DriverFactory kLibeventEpoll = [](const ServerOptions& o, std::uint64_t n,
                                            std::string* e) {
  return make_libevent_driver("epoll", o, n, e);
};
#else
constexpr DriverFactory kLibeventSelect = nullptr;  // configured without libevent-dev
constexpr DriverFactory kLibeventPoll = nullptr;
constexpr DriverFactory kLibeventEpoll = nullptr;
#endif
#ifdef MUXBENCH_HAVE_LIBUV
constexpr DriverFactory kLibuv = make_libuv_driver;
#else
constexpr DriverFactory kLibuv = nullptr;  // configured without libuv1-dev
#endif

}  // namespace

const std::vector<Mechanism>& mechanisms() {
  // The order is the sweep's: the first repeat runs them in this order. A field left out is
  // false or empty. One entry per mechanism, kept compact so that the table reads as a table.
  // clang-format off
  static const std::vector<Mechanism> table{
      {.name = "select", .binary = "chat-select",
       .summary = "select(2) with glibc's fd_set: refuses descriptors >= FD_SETSIZE",
       .option = "--fdset", .value = "fixed", .is_default = true, .refuses_past_fd_setsize = true,
       .make = kSelectFixed},
      {.name = "poll", .binary = "chat-poll", .summary = "poll(2)", .is_default = true,
       .make = kPoll},
      {.name = "epoll-lt", .binary = "chat-epoll", .summary = "epoll(7), level-triggered",
       .is_default = true, .cost_independent_of_idle = true, .make = kEpollLevel},
      {.name = "epoll-et", .binary = "chat-epoll", .summary = "epoll(7), edge-triggered (EPOLLET)",
       .option = "--edge", .edge_triggered = true, .cost_independent_of_idle = true,
       .make = kEpollEdge},
      {.name = "select-dynamic", .binary = "chat-select",
       .summary = "select(2) with a heap bitmap sized to the highest descriptor",
       .option = "--fdset", .value = "dynamic", .make = kSelectDynamic},
      {.name = "uring", .binary = "chat-uring",
       .summary = "io_uring multishot poll (edge-triggered) feeding recv/send",
       .option = "--model", .value = "poll", .is_default = true, .edge_triggered = true,
       .optional = true, .cost_independent_of_idle = true, .package = "liburing-dev",
       .make = kUring},
      {.name = "uring-completion", .binary = "chat-uring",
       .summary = "io_uring completion model: multishot accept and recv, sends and closes as "
                  "requests",
       .option = "--model", .value = "completion", .optional = true,
       .cost_independent_of_idle = true, .package = "liburing-dev", .model = "completion",
       .make_driver = kUringCompletion},
      {.name = "libevent-select", .binary = "chat-libevent",
       .summary = "libevent's select backend: refuses descriptors >= FD_SETSIZE",
       .option = "--backend", .value = "select", .optional = true, .package = "libevent-dev",
       .model = "library", .group = "libraries", .refuses_past_fd_setsize = true,
       .make_driver = kLibeventSelect},
      {.name = "libevent-poll", .binary = "chat-libevent", .summary = "libevent's poll backend",
       .option = "--backend", .value = "poll", .optional = true, .package = "libevent-dev",
       .model = "library", .group = "libraries", .make_driver = kLibeventPoll},
      {.name = "libevent-epoll", .binary = "chat-libevent", .summary = "libevent's epoll backend",
       .option = "--backend", .value = "epoll", .is_default = true, .optional = true,
       .cost_independent_of_idle = true, .package = "libevent-dev", .model = "library",
       .group = "libraries", .make_driver = kLibeventEpoll},
      {.name = "libuv", .binary = "chat-libuv", .summary = "libuv (epoll underneath on Linux)",
       .is_default = true, .optional = true, .cost_independent_of_idle = true,
       .package = "libuv1-dev", .model = "library", .group = "libraries", .make_driver = kLibuv},
      {.name = "py-select", .binary = "py-select",
       .summary = "Python's select.select, a tutorial-style server: refuses descriptors >= 1024",
       .is_default = true, .optional = true, .package = "python3", .model = "python",
       .group = "python", .refuses_past_fd_setsize = true, .interpreter = "/usr/bin/python3"},
      {.name = "py-poll", .binary = "py-poll", .summary = "Python's select.poll, tutorial-style",
       .is_default = true, .optional = true, .package = "python3", .model = "python",
       .group = "python", .interpreter = "/usr/bin/python3"},
      {.name = "py-epoll", .binary = "py-epoll", .summary = "Python's select.epoll, tutorial-style",
       .is_default = true, .optional = true, .cost_independent_of_idle = true,
       .package = "python3", .model = "python", .group = "python",
       .interpreter = "/usr/bin/python3"},
  };
  // clang-format on
  return table;
}

std::vector<std::string> Mechanism::args() const {
  if (is_default || option.empty()) return {};
  if (value.empty()) return {std::string(option)};
  return {std::string(option), std::string(value)};
}

std::vector<const Mechanism*> mechanisms_of(std::string_view binary) {
  std::vector<const Mechanism*> out;
  for (const auto& m : mechanisms()) {
    if (m.binary != binary) continue;
    out.insert(m.is_default ? out.begin() : out.end(), &m);
  }
  return out;
}

const Mechanism* find_mechanism(std::string_view name) {
  for (const auto& m : mechanisms())
    if (m.name == name) return &m;
  return nullptr;
}

std::unique_ptr<Driver> make_server(const Mechanism& m, const ServerOptions& options,
                                    std::uint64_t fd_limit, std::string* error) {
  if (!m.interpreter.empty()) {
    if (error) *error = fmt::format("{} is a script of its own, not a chat-* server", m.binary);
    return nullptr;
  }
  if (m.make_driver) return m.make_driver(options, fd_limit, error);
  if (!m.make) {
    if (error) *error = *unavailable_reason(m);
    return nullptr;
  }
  std::unique_ptr<Poller> poller = m.make(error);
  if (!poller) return nullptr;
  return std::make_unique<ReadinessDriver>(options, std::move(poller), fd_limit);
}

std::optional<std::string> unavailable_reason(const Mechanism& m) {
  if (!m.interpreter.empty()) {
    if (access(std::string(m.interpreter).c_str(), X_OK) == 0) return std::nullopt;
    return fmt::format("{} is a script for {}, which is not installed (Debian: {})", m.binary,
                       m.interpreter, m.package);
  }
  if (!m.make && !m.make_driver) {
    return fmt::format("not built: {} needs {}, which this build was configured without", m.binary,
                       m.package.empty() ? "a library" : m.package);
  }
  std::string error;
  const bool made = m.make_driver ? m.make_driver(ServerOptions{}, 0, &error) != nullptr
                                  : m.make(&error) != nullptr;
  if (!made) return error.empty() ? "its I/O mechanism could not be created" : error;
  return std::nullopt;
}

std::string mechanisms_json() {
  Json table = Json::array();
  for (const auto& m : mechanisms()) {
    const auto reason = unavailable_reason(m);
    table.push_back({{"name", m.name},
                     {"binary", m.binary},
                     {"args", m.args()},
                     {"model", m.model},
                     {"edge_triggered", m.edge_triggered},
                     {"optional", m.optional},
                     {"cost_independent_of_idle", m.cost_independent_of_idle},
                     {"available", !reason},
                     {"unavailable_reason", reason ? Json(*reason) : Json(nullptr)},
                     {"group", m.group},
                     {"refuses_past_fd_setsize", m.refuses_past_fd_setsize}});
  }
  return json_lines(table);
}

}  // namespace mux
