#include "ServerMain.h"

#include <signal.h>

#include <cstdio>

#include <fmt/format.h>

#include "ChatServer.h"
#include "system.h"

#ifndef MUXBENCH_VERSION
#define MUXBENCH_VERSION "unknown"
#endif

namespace mux {
namespace {

ChatServer* g_server = nullptr;

void on_stop_signal(int) {
  if (g_server) g_server->request_stop();
}

}  // namespace

int server_main(int argc, char** argv, const Backend& backend) {
  CLI::App app{fmt::format("{}: muxbench chat server ({}). Speaks the line protocol of the README; "
                           "on SIGINT/SIGTERM prints its counters as one JSON line and exits 0.",
                           backend.program, backend.description),
               backend.program};
  ServerOptions opt;
  int cpu = -1;
  app.add_option("--bind", opt.bind, "numeric address to listen on")->capture_default_str();
  app.add_option("--port", opt.port, "TCP port (0 = any free port)")->capture_default_str();
  app.add_flag("--quiet", opt.quiet, "no join/leave/rename notices (benchmarks use this)");
  app.add_option("--max-line", opt.max_line, "longest accepted line in bytes")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 30));
  app.add_option("--max-outbuf", opt.max_outbuf,
                 "bytes queued for a client that does not read before it is dropped")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 40));
  app.add_option("--cpu", cpu, "pin the server to this CPU");
  app.set_version_flag("--version",
                       fmt::format("{} (muxbench {})", backend.program, MUXBENCH_VERSION));
  if (backend.add_options) backend.add_options(app);
  CLI11_PARSE(app, argc, argv);

  // A peer that disconnects while we write must cost an EPIPE, not the process.
  signal(SIGPIPE, SIG_IGN);

  const std::uint64_t fd_limit = raise_fd_limit();
  if (cpu >= 0) {
    if (auto err = pin_to_cpu(cpu)) {
      fmt::print(stderr, "{}: {}\n", backend.program, *err);
      return 2;
    }
  }
  std::string error;
  std::unique_ptr<Poller> poller = backend.create(&error);
  if (!poller) {
    fmt::print(stderr, "{}: {}\n", backend.program, error);
    return 1;
  }
  ChatServer server(opt, std::move(poller), fd_limit);
  if (auto err = server.listen()) {
    fmt::print(stderr, "{}: {}\n", backend.program, *err);
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
    fmt::print(stderr, "{}: {}\n", backend.program, *err);
    return 1;
  }
  return 0;
}

}  // namespace mux
