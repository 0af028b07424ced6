#include "ServerMain.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <CLI/CLI.hpp>

#include "Driver.h"
#include "MechanismRegistry.h"
#include "MemoryBound.h"
#include "system.h"

#ifndef MUXBENCH_VERSION
#define MUXBENCH_VERSION "unknown"
#endif

namespace mux {
namespace {

Driver* g_server = nullptr;

void on_stop_signal(int) {
  if (g_server) g_server->request_stop();
}

// The --help summary of a binary: each of its mechanisms and what selects it.
std::string describe(const std::vector<const Mechanism*>& served) {
  std::string out;
  for (const auto* m : served) {
    if (!out.empty()) out += "; ";
    const auto args = m->args();
    out += fmt::format("{}{} = mechanism {}", m->summary,
                       args.empty() ? "" : fmt::format(" with {}", fmt::join(args, " ")), m->name);
  }
  return out;
}

// Descriptors a server holds besides its connections: stdin, stdout and stderr (3), the
// listening socket (1), the stop signal's self-pipe (2), the spare kept to refuse a connection
// on EMFILE (1), the mechanism's own (an epoll or io_uring instance: 1; uring-completion's probe
// opens a socket pair, 2, before it listens), 9 in all. The rest is slack for descriptors that
// outlive their connection's count: uring-completion releases a closed connection's descriptor
// only when its CLOSE request completes, after the core has let a new connection in. Should
// the slack run out, accept meets EMFILE and the spare refuses the connection: never a spin.
constexpr std::uint64_t kFdMargin = 16;

// --max-conns as given (nullopt: not given) against the descriptor limit: the value to serve
// with, or why it cannot be served.
std::optional<std::string> resolve_max_conns(std::optional<std::uint64_t> requested,
                                             std::uint64_t fd_limit, std::uint64_t& max_conns) {
  const std::uint64_t allowed = fd_limit > kFdMargin ? fd_limit - kFdMargin : 0;
  if (!requested) {
    if (allowed == 0)
      return fmt::format(
          "the open-file limit is {}, which leaves no descriptor for a connection beside the "
          "server's own {}: raise it (ulimit -n {}, as root ulimit -Hn)",
          fd_limit, kFdMargin, kFdMargin + 1024);
    max_conns = allowed;
    return std::nullopt;
  }
  if (*requested > allowed) {
    const std::uint64_t need =
        *requested > UINT64_MAX - kFdMargin ? UINT64_MAX : *requested + kFdMargin;
    return fmt::format(
        "--max-conns {}: the open-file limit is {}, which allows {} connections beside the "
        "server's own {} descriptors; raise it (ulimit -n {}, as root ulimit -Hn first), or "
        "give --max-conns {}",
        *requested, fd_limit, allowed, kFdMargin, need, allowed);
  }
  max_conns = *requested;
  return std::nullopt;
}

// --max-queued-total by default: an eighth of the machine's memory (sysconf's physical pages,
// /proc/meminfo's MemTotal). The queued bytes may take twice their size in std::string capacity,
// and uring-completion holds a send in flight beside each queue: 4 x 8/7 of the budget at worst,
// so an eighth keeps the worst case near half of memory, the rest for the kernel's socket
// buffers and the machine's other processes. 0 when the system cannot say: no budget.
std::uint64_t physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return 0;
  return static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page);
}
std::uint64_t default_max_queued_total() {
  return physical_memory_bytes() / 8;
}

// The --help footer: the memory bound (MemoryBound.h) as a formula, and its value with the
// default options on this machine.
std::string memory_footer(std::uint64_t fd_limit) {
  ServerOptions defaults;
  std::uint64_t max_conns = 0;
  if (resolve_max_conns(std::nullopt, fd_limit, max_conns)) return "";
  defaults.max_conns = max_conns;
  defaults.max_queued_total = default_max_queued_total();
  const auto gib = [](std::uint64_t bytes) { return static_cast<double>(bytes) / (1 << 30); };
  return fmt::format(
      "Memory (user space, worst case: every connection at its limits): at most {} MiB + "
      "--max-conns x ({} + 2 x (--max-line + 1) + {}) bytes + 2 x Q, Q = min(8/7 x "
      "--max-queued-total, --max-conns x --max-outbuf) + --max-conns x (--max-line + {}) bytes "
      "queued; uring-completion counts {} and Q twice (the send in flight) and adds "
      "--uring-buffers x {} bytes. With the defaults here (--max-conns {}, --max-queued-total "
      "{}): {:.1f} GiB (uring-completion {:.1f} GiB) of {:.1f} GiB of memory; lower "
      "--max-queued-total or --max-conns to lower it.",
      kBaseBytes >> 20, kConnectionBytes, kRetainedCapacity, kLineSlackBytes, kRetainedCapacity,
      kUringBufferBytes, max_conns, defaults.max_queued_total,
      gib(worst_case_memory_bytes(defaults, false)), gib(worst_case_memory_bytes(defaults, true)),
      gib(physical_memory_bytes()));
}

}  // namespace

int server_main(int argc, char** argv, std::string_view program_name) {
  const std::string program(program_name);
  const auto served = mechanisms_of(program);
  if (served.empty()) {
    fmt::print(stderr, "{}: no mechanism of the registry is served by this binary\n", program);
    return 1;
  }
  CLI::App app{
      fmt::format("{}: muxbench chat server ({}). Speaks the protocol of docs/protocol.md; "
                  "on SIGINT/SIGTERM prints its counters as one JSON line and exits 0.",
                  program, describe(served)),
      program};
  // Before the options: --help states the default --max-conns this limit gives.
  const std::uint64_t fd_limit = raise_fd_limit();
  app.footer(memory_footer(fd_limit));
  ServerOptions opt;
  int cpu = -1;
  bool list = false;
  app.add_option("--bind", opt.bind, "numeric address to listen on")->capture_default_str();
  app.add_option("--port", opt.port, "TCP port (0 = any free port)")->capture_default_str();
  app.add_flag("--quiet", opt.quiet, "no join/leave/rename notices (benchmarks use this)");
  app.add_option("--max-line", opt.max_line, "longest accepted line in bytes")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 30));
  app.add_option("--max-outbuf", opt.max_outbuf,
                 "bytes queued for a client that does not read before it is dropped (suffixes "
                 "K, M, G: powers of 1024)")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 40));
  opt.max_queued_total = default_max_queued_total();
  app.add_option("--max-queued-total", opt.max_queued_total,
                 "bytes queued for all clients together (suffixes K, M, G: powers of 1024); "
                 "each connection may queue min(--max-outbuf, this / connections) before it is "
                 "dropped as slow. Default: an eighth of this machine's memory. 0: no total "
                 "budget")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  std::uint64_t max_conns = 0;
  auto* max_conns_option = app.add_option(
      "--max-conns", max_conns,
      fmt::format("connections served at once; one more gets `! server full: N connections "
                  "(--max-conns N)` and is closed. Default: the open-file limit minus {} for the "
                  "server's own descriptors. 0: no cap but the open-file limit's. Each connection "
                  "has one nick, so this bounds nicks too",
                  kFdMargin));
  app.add_option("--max-rooms", opt.max_rooms,
                 "rooms at once, lobby included; a /join that would create one more gets "
                 "`! too many rooms (max N)`")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 40));
  app.add_option("--cpu", cpu, "pin the server to this CPU");
  // Hidden (group ""): a test shrinks uring-completion's buffer ring until the kernel runs out.
  app.add_option("--uring-buffers", opt.uring_buffers,
                 "uring-completion: provided recv buffers of 4 KiB, a power of two")
      ->check([](const std::string& text) -> std::string {
        const unsigned long n = std::strtoul(text.c_str(), nullptr, 10);
        return n >= 1 && n <= 32768 && (n & (n - 1)) == 0 ? "" : "a power of two from 1 to 32768";
      })
      ->group("");
  app.add_flag("--list-mechanisms", list,
               "print every muxbench mechanism (of all chat-* binaries) as JSON: its binary and "
               "arguments, and whether this machine can run it, and exit");
  app.set_version_flag("--version", fmt::format("{} (muxbench {})", program, MUXBENCH_VERSION));

  // The options that choose among this binary's mechanisms, derived from their registry lines.
  // std::map nodes do not move, so CLI11 may keep pointers to the values.
  std::map<std::string, std::string> chosen_value;
  std::map<std::string, bool> flag_set;
  for (const auto* m : served) {
    if (m->option.empty()) continue;
    const std::string option(m->option);
    if (chosen_value.count(option) || flag_set.count(option)) continue;
    std::map<std::string, std::string> values;
    std::string help;
    for (const auto* other : served) {
      if (other->option != m->option) continue;
      if (!other->value.empty()) values.emplace(other->value, other->value);
      help += fmt::format("{}{}{}: {} (mechanism {})", help.empty() ? "" : "; ", other->value,
                          other->value.empty() ? option : "", other->summary, other->name);
    }
    if (values.empty()) {
      app.add_flag(option, flag_set[option], help);
      continue;
    }
    std::string& value = chosen_value[option];
    for (const auto* other : served)
      if (other->is_default && other->option == m->option) value = other->value;
    app.add_option(option, value, help)
        ->transform(CLI::CheckedTransformer(values, CLI::ignore_case))
        ->capture_default_str();
  }
  CLI11_PARSE(app, argc, argv);

  if (list) {
    fmt::print("{}\n", mechanisms_json());
    return 0;
  }

  // The mechanism is the one the options select, else the binary's default.
  const Mechanism* mechanism = nullptr;
  for (const auto* m : served) {
    const std::string option(m->option);
    const bool selected = m->option.empty()  ? false
                          : m->value.empty() ? flag_set[option]
                                             : chosen_value[option] == m->value;
    if (!selected || m->is_default) continue;
    if (mechanism) {
      fmt::print(stderr, "{}: {} and {} cannot be combined\n", program,
                 fmt::join(mechanism->args(), " "), fmt::join(m->args(), " "));
      return 2;
    }
    mechanism = m;
  }
  if (!mechanism) mechanism = served.front();

  // A peer that disconnects while we write must cost an EPIPE, not the process.
  signal(SIGPIPE, SIG_IGN);

  if (auto err = resolve_max_conns(
          max_conns_option->count() ? std::optional<std::uint64_t>(max_conns) : std::nullopt,
          fd_limit, opt.max_conns)) {
    fmt::print(stderr, "{}: {}\n", program, *err);
    return 2;
  }
  if (cpu >= 0) {
    if (auto err = pin_to_cpu(cpu)) {
      fmt::print(stderr, "{}: {}\n", program, *err);
      return 2;
    }
  }
  std::string error;
  std::unique_ptr<Driver> driver = make_server(*mechanism, opt, fd_limit, &error);
  if (!driver) {
    fmt::print(stderr, "{}: {}\n", program, error);
    return mechanism->optional ? kExitUnavailable : 1;
  }
  Driver& server = *driver;
  if (auto err = server.listen()) {
    fmt::print(stderr, "{}: {}\n", program, *err);
    return 1;
  }

  g_server = &server;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  // The harness waits for this exact line: print and flush it only once we are listening.
  fmt::print("{}\n", server.listening_line());
  std::fflush(stdout);

  auto err = server.run();
  fmt::print("{}\n", server.stats_json());
  std::fflush(stdout);
  g_server = nullptr;
  if (err) {
    fmt::print(stderr, "{}: {}\n", program, *err);
    return 1;
  }
  return 0;
}

}  // namespace mux
