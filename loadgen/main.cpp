// loadgen: idle connections, measured traffic and one CSV row per run. See docs/loadgen.md.
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <string>
#include <tuple>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "ChurnMode.h"
#include "FloorRun.h"
#include "HdrLog.h"
#include "HistogramJson.h"
#include "HostileClients.h"
#include "IdleHolders.h"
#include "IntervalSeries.h"
#include "MessageCodec.h"
#include "MessageModes.h"
#include "Net.h"
#include "Options.h"
#include "RunDriver.h"
#include "RunResult.h"
#include "ServerControl.h"
#include "system.h"

namespace {

using namespace mux;

constexpr int kExitFatal = 1;
constexpr int kExitUsage = 2;
constexpr int kExitServerDied = 3;
// A storm client holds at most one burst of descriptors at a time.
constexpr std::uint64_t kMaxStormBurst = 500;

bool is_floor(const std::string& mode) {
  return mode == "floor" || mode == "relay-floor";
}

int fatal(const std::string& message, int code = kExitFatal) {
  fmt::print(stderr, "loadgen: {}\n", message);
  return code;
}

std::optional<std::string> validate(const Options& o) {
  if (o.hostile > 0 && (o.hold || is_floor(o.mode))) {
    return "--hostile K needs a run against a server (pingpong, broadcast, rate, flood or churn)";
  }
  const HostilePacing& hp = o.hostile_pacing;
  if (hp.storm_burst < 1 || hp.storm_burst > kMaxStormBurst) {
    return fmt::format(
        "--hostile-storm-burst {}: use 1 to {} (chat-select refuses descriptors "
        ">= 1024; a storm must stay far below)",
        hp.storm_burst, kMaxStormBurst);
  }
  if (hp.slowloris_ms < 1) return "--hostile-slowloris-ms must be >= 1";
  if (hp.line_bytes < 1) return "--hostile-line-bytes must be >= 1";
  if (o.hold) {
    if (o.idle == 0) return "--hold needs --idle N (N > 0)";
    if (!o.histogram_out.empty()) return "--histogram-out needs a run (--mode), not --hold";
    if (!o.series_out.empty()) return "--series-out needs a run (--mode), not --hold";
    if (!o.hlog.empty()) return "--hlog needs a run (--mode), not --hold";
    return std::nullopt;
  }
  if (o.mode.empty()) {
    return "--mode is required (pingpong, broadcast, rate, flood, churn, floor or relay-floor)";
  }
  if (o.idle > 0 && o.idle_held > 0) return "--idle and --idle-held exclude each other";
  if (o.idle == 0 && !(o.idle_sources.empty() && o.idle_destinations.empty())) {
    return "--idle-sources and --idle-destinations place the idle connections: give --idle N";
  }
  if (o.duration <= 0) return fmt::format("--duration {}: must be > 0 seconds", o.duration);
  if (o.warmup < 0) return fmt::format("--warmup {}: must be >= 0 seconds", o.warmup);
  if (o.interval < 0) return fmt::format("--interval {}: must be > 0 seconds", o.interval);
  if (o.interval > 0 && o.series_out.empty() && o.hlog.empty()) {
    return "--interval S cuts the window for a file: name it with --series-out FILE or --hlog "
           "FILE";
  }
  if (is_floor(o.mode)) {
    if (!o.series_out.empty()) {
      return "--series-out needs a server mode (pingpong, broadcast, rate, flood or churn)";
    }
    if (!o.hlog.empty()) {
      return "--hlog needs a server mode (pingpong, broadcast, rate, flood or churn)";
    }
    if (o.size < 1) return "--size must be at least 1 byte";
    return std::nullopt;
  }
  if (o.size < MessageCodec::kHeader) {
    return fmt::format("--size {}: messages carry a {}-byte header, use --size {} or more", o.size,
                       MessageCodec::kHeader, MessageCodec::kHeader);
  }
  if (o.size > 4000) {
    return fmt::format(
        "--size {}: the servers' default line limit is 4096 bytes with the nick "
        "prefix; use at most 4000",
        o.size);
  }
  if ((o.mode == "pingpong" || o.mode == "rate" || o.mode == "flood" || o.mode == "churn") &&
      (o.active < 2 || o.active % 2 != 0)) {
    return fmt::format("--active {}: {} works in pairs, use an even number >= 2", o.active, o.mode);
  }
  if (o.mode == "broadcast") {
    if (o.active < 2) return fmt::format("--active {}: broadcast needs >= 2", o.active);
    if (o.rate <= 0) return fmt::format("--rate {}: broadcast needs a rate > 0 messages/s", o.rate);
  }
  if (o.mode == "rate" && o.rate <= 0) {
    return fmt::format("--rate {}: rate needs an offered rate > 0 messages/s", o.rate);
  }
  if (o.mode == "flood" && !o.window_auto && o.window < 1) return "--window must be >= 1";
  if (o.mode == "flood" && o.window_auto && o.warmup <= 0) {
    return "--window auto chooses the window during the warm-up: give --warmup > 0 (e.g. 1)";
  }
  return std::nullopt;
}

std::optional<std::string> parse_window(const std::string& text, Options& o) {
  if (text == "auto") {
    o.window_auto = true;
    return std::nullopt;
  }
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n < 1) {
    return fmt::format("--window {}: use a number of messages >= 1, or auto", text);
  }
  o.window = n;
  return std::nullopt;
}

void emit(const Options& o, const RunResult& r) {
  fmt::print(stderr, "{}", human_summary(r));
  if (o.json) {
    fmt::print("{}\n", json_object(r));
  } else {
    if (o.csv_header) fmt::print("{}\n", csv_header());
    fmt::print("{}\n", csv_row(r));
  }
  std::fflush(stdout);
}

// Writes --histogram-out after the row is printed; a failure is one line and exit status 1 (the
// row stays valid, the requested file is missing).
int write_histogram(const Options& o, const RunResult& r, int code) {
  if (o.histogram_out.empty()) return code;
  const HistogramIdentity id{r.mechanism, r.mode, r.idle, r.label};
  if (auto err = write_histogram_file(o.histogram_out, r.latency, id)) {
    return fatal(fmt::format("--histogram-out {}: {}", o.histogram_out, *err));
  }
  return code;
}

// Writes --series-out after the row is printed, like write_histogram.
int write_series(const Options& o, const RunResult& r, const IntervalSeries* series, int code) {
  if (o.series_out.empty() || !series) return code;
  const HistogramIdentity id{r.mechanism, r.mode, r.idle, r.label};
  if (auto err = write_text_file(o.series_out, series->csv(id))) {
    return fatal(fmt::format("--series-out {}: {}", o.series_out, *err));
  }
  return code;
}

// Writes --hlog after the row is printed, like write_histogram: one interval per --interval (the
// series' own cuts of the row's histogram), else one for the whole window.
int write_hlog(const Options& o, const RunResult& r, const RunDriver& driver, int code) {
  if (o.hlog.empty()) return code;
  std::vector<hdr::LogInterval> intervals;
  if (const IntervalSeries* series = driver.series()) {
    for (const auto& iv : series->intervals()) {
      intervals.push_back({iv.start_s, iv.end_s - iv.start_s, series->latency_of(iv.index)});
    }
  } else if (r.measured) {
    intervals.push_back({0, r.measured_s, &r.latency});
  }
  // The log's StartTime is the window's start on the wall clock (our clock is monotonic).
  timespec wall{};
  clock_gettime(CLOCK_REALTIME, &wall);
  const std::uint64_t begin = driver.window_begin_ns();
  const double ago_s = begin > 0 ? static_cast<double>(now_ns() - begin) / 1e9 : 0.0;
  const double start_epoch_s =
      static_cast<double>(wall.tv_sec) + static_cast<double>(wall.tv_nsec) / 1e9 - ago_s;
  std::string text;
  auto err = hdr::interval_log(start_epoch_s, intervals, text);
  if (!err) err = write_text_file(o.hlog, text);
  if (err) return fatal(fmt::format("--hlog {}: {}", o.hlog, *err));
  return code;
}

// Blocks until stdin reaches EOF or SIGINT/SIGTERM arrives.
void wait_for_release() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  const int sfd = signalfd(-1, &set, SFD_CLOEXEC);
  pollfd p[2] = {{STDIN_FILENO, POLLIN, 0}, {sfd, POLLIN, 0}};
  for (;;) {
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (p[1].revents) return;
    if (p[0].revents & (POLLNVAL | POLLERR)) return;
    if (p[0].revents) {
      char buf[4096];
      const ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
      if (n <= 0) return;
    }
  }
}

// --idle-sources and --idle-destinations (each destination on --port); the measured active
// connections keep using --host.
std::variant<IdleOptions, std::string> idle_options(const Options& o, const Endpoint& server,
                                                    std::uint64_t count) {
  IdleOptions io;
  io.server = server;
  io.count = count;
  io.per_process = o.idle_per_process;
  io.per_pair = o.idle_per_pair;
  if (!o.idle_sources.empty()) {
    auto sources = parse_ipv4_list(o.idle_sources, "--idle-sources");
    if (auto* err = std::get_if<std::string>(&sources)) return *err;
    io.sources = std::get<std::vector<in_addr>>(sources);
  }
  if (!o.idle_destinations.empty()) {
    auto destinations = parse_ipv4_list(o.idle_destinations, "--idle-destinations");
    if (auto* err = std::get_if<std::string>(&destinations)) return *err;
    for (in_addr a : std::get<std::vector<in_addr>>(destinations)) {
      auto e = resolve(ipv4_text(a), o.port);
      if (auto* err = std::get_if<std::string>(&e)) return *err;
      io.destinations.push_back(std::get<Endpoint>(e));
    }
  }
  return io;
}

// "127.0.0.1:8002", or "5 destinations on port 8002" with --idle-destinations.
std::string destinations_text(const IdleOptions& idle) {
  if (idle.destinations.empty()) return idle.server.text;
  return fmt::format("{} destination(s) on port {}", idle.destinations.size(),
                     ntohs(idle.server.addr.sin_port));
}

int hold_main(const Options& o, const IdleOptions& idle) {
  IdleHolders holders;
  if (auto err = holders.open(idle)) return fatal(*err);
  const auto& s = holders.status();
  fmt::print(stderr,
             "loadgen: {} idle connections to {} established in {:.2f} s ({} refused) by {} "
             "process(es) from {}\n",
             s.established, destinations_text(idle), s.open_seconds, s.refused, s.processes,
             s.sources == 0 ? std::string("the kernel's source address")
                            : fmt::format("{} source address(es)", s.sources));
  fmt::print("holding idle={} open={} refused={} sources={} destinations={}\n", o.idle,
             s.established, s.refused, s.sources, s.destinations);
  std::fflush(stdout);
  wait_for_release();
  const std::uint64_t established = s.established;
  if (auto err = holders.release()) return fatal(*err);
  fmt::print("released idle={} open={} refused={}\n", o.idle, s.open, s.refused);
  std::fflush(stdout);
  if (s.open < established) {
    fmt::print(stderr, "loadgen: {} of {} idle connections were closed while held\n",
               established - s.open, established);
  }
  return 0;
}

int run_main(const Options& o, const Endpoint& server, const IdleOptions& idle) {
  RunResult r;
  r.mode = o.mode;
  r.active = is_floor(o.mode) ? 2 : o.active;
  r.size = o.size;
  r.rate = o.mode == "broadcast" || o.mode == "rate" ? o.rate : 0;
  r.warmup_s = o.warmup;
  r.duration_s = o.duration;
  r.label = o.label;
  r.idle = o.idle > 0 ? o.idle : o.idle_held;

  if (is_floor(o.mode)) {
    if (auto err = run_floor(o, r)) return fatal(*err);
    emit(o, r);
    return write_histogram(o, r, 0);
  }

  ServerControl control;
  std::string refused_line;
  if (auto err = control.open(server, fmt::format("lg{}-ctl", getpid()), &refused_line)) {
    if (refused_line.empty()) return fatal(*err);
    // select with its descriptors used up by a --hold: the run goes on (its active connections
    // will be refused too, which the row reports) but without the server's counters.
    fmt::print(stderr, "loadgen: {} (no server counters in this row)\n", *err);
    ++r.refused;
  } else {
    auto st = control.stats();
    if (auto* line = std::get_if<StatsLine>(&st)) {
      r.mechanism = line->text("mechanism").value_or("");
    } else {
      fmt::print(stderr, "loadgen: /stats: {} (no server counters in this row)\n",
                 std::get<std::string>(st));
    }
  }

  IdleHolders holders;
  if (o.idle > 0) {
    if (auto err = holders.open(idle)) return fatal(*err);
    r.refused += holders.status().refused;
    r.idle_open_s = holders.status().open_seconds;
    r.idle_sources = holders.status().sources;
    r.idle_destinations = holders.status().destinations;
  }

  const auto mode = o.mode == "churn" ? make_churn_mode(o) : make_message_mode(o);
  RunDriver driver(o, server, control, r, *mode);
  const RunOutcome out = driver.run();

  if (o.idle > 0) {
    const std::uint64_t established = holders.status().established;
    if (auto err = holders.release()) {
      fmt::print(stderr, "loadgen: releasing idle connections: {}\n", *err);
    }
    r.idle_open = holders.status().open;
    if (*r.idle_open < established) {
      fmt::print(stderr, "loadgen: {} of {} idle connections were closed during the run\n",
                 established - *r.idle_open, established);
    }
  }
  if (out.fatal) return fatal(*out.fatal);
  emit(o, r);
  if (out.server_died) {
    fmt::print(stderr, "loadgen: {} (the row holds partial figures)\n", *out.server_died);
    return write_hlog(o, r, driver,
                      write_series(o, r, driver.series(), write_histogram(o, r, kExitServerDied)));
  }
  if (r.integrity.total() > 0) {
    fmt::print(stderr,
               "loadgen: INTEGRITY ERRORS: {} lost, {} duplicated, {} reordered, {} "
               "corrupted; the server is not delivering messages correctly\n",
               r.integrity.lost, r.integrity.duplicated, r.integrity.reordered,
               r.integrity.corrupted);
  }
  return write_hlog(o, r, driver, write_series(o, r, driver.series(), write_histogram(o, r, 0)));
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{
      "loadgen: idle connections and measured traffic against a muxbench chat server; "
      "prints one CSV row (or JSON object) per run on stdout"};
  app.add_option("--host", o.host, "server address")->capture_default_str();
  app.add_option("--port", o.port, "server port")->capture_default_str();
  app.add_option("--mode", o.mode,
                 "pingpong | broadcast | rate | flood | churn | floor | relay-floor. rate: "
                 "pingpong's pairs, open loop at --rate (docs/loadgen.md). floor: blocking "
                 "ping-pong with a forked echo peer, no server (2 hops); relay-floor: a forked "
                 "peer relays A -> B -> A with blocking recv/send (4 hops, the path of a chat "
                 "pingpong)")
      ->check(CLI::IsMember(
          {"pingpong", "broadcast", "rate", "flood", "churn", "floor", "relay-floor"}));
  app.add_option("--idle", o.idle, "idle connections to open, hold during the run and check");
  app.add_option("--idle-held", o.idle_held,
                 "idle connections held by another process (loadgen --hold); recorded only");
  app.add_option("--active", o.active, "active connections")->capture_default_str();
  app.add_option("--size", o.size, "message text bytes (>= 49)")->capture_default_str();
  app.add_option("--rate", o.rate, "broadcast, rate: messages/s offered in total (open loop)")
      ->capture_default_str();
  std::string arrival_arg = "fixed";
  app.add_option("--arrival", arrival_arg,
                 "broadcast, rate: the schedule of intended send times: fixed (even gaps) or "
                 "poisson (exponential gaps from --seed)")
      ->check(CLI::IsMember({"fixed", "poisson"}))
      ->capture_default_str();
  app.add_option("--seed", o.seed,
                 "--arrival poisson: the generator's seed (same seed, same "
                 "schedule)")
      ->capture_default_str();
  std::string window_arg = "16";
  app.add_option("--window", window_arg,
                 "flood: messages in flight per sender, or 'auto': during the warm-up, start at "
                 "1 and double every warm-up/12 s until the server or loadgen reaches 90 % of a "
                 "CPU (keep that window) or throughput gains < 5 % (keep the previous one); the "
                 "row's window_chosen says which")
      ->capture_default_str();
  app.add_option("--warmup", o.warmup, "seconds of traffic before measuring")
      ->capture_default_str();
  app.add_option("--duration", o.duration, "seconds of the measuring window")
      ->capture_default_str();
  app.add_option("--server-pid", o.server_pid, "server process: CPU from /proc/PID/stat");
  app.add_option("--cpu", o.cpu, "pin loadgen to this CPU");
  app.add_option("--peer-cpu", o.peer_cpu,
                 "floor, relay-floor: pin the peer to this CPU (the server's CPU in the runs "
                 "it is compared with)");
  app.add_flag("--csv-header", o.csv_header, "print the CSV header line first");
  app.add_flag("--json", o.json, "print a JSON object instead of a CSV row");
  app.add_option("--label", o.label, "free text copied into the row");
  app.add_option("--histogram-out", o.histogram_out,
                 "write the window's latency histogram (the row's percentiles) to FILE as JSON "
                 "bucket counts that merge exactly by addition (docs/loadgen.md)")
      ->type_name("FILE");
  app.add_option("--interval", o.interval,
                 "cut the measuring window into intervals of S seconds and write, per interval, "
                 "messages, p50 and p99, loadgen CPU and server CPU (from /stats, asked without "
                 "waiting) to --series-out (default 1 when --series-out is given), and one "
                 "histogram per interval to --hlog")
      ->type_name("S");
  app.add_option("--series-out", o.series_out,
                 "write the per-interval series to FILE as CSV (docs/loadgen.md)")
      ->type_name("FILE");
  app.add_option("--hlog", o.hlog,
                 "write the window's latencies to FILE as an HdrHistogram interval log (V2 "
                 "compressed, values in ns), one interval per --interval S if given, else one "
                 "for the window (docs/loadgen.md)")
      ->type_name("FILE");
  app.add_option("--hostile", o.hostile,
                 "K misbehaving clients beside the measured ones, from the warm-up (starting "
                 "spread over its first second) to the end of the window, spread round-robin "
                 "over --hostile-kinds. Rates: slowloris 1 "
                 "byte per 2 s on one connection; never-read joins the measured room, holds 2 s "
                 "then resets; reset-mid-line, vanish and overlong (8192 bytes) one connection "
                 "per cycle, 200 ms apart; storm 50 connections, then 1 s after they closed. "
                 "Their counters are the row's hostile_* columns")
      ->capture_default_str();
  std::string hostile_kinds_arg = hostile_kinds_text(all_hostile_kinds());
  app.add_option("--hostile-kinds", hostile_kinds_arg,
                 "comma-separated kinds for --hostile (docs/loadgen.md)")
      ->capture_default_str();
  // Hidden: the pace of the hostile clients, for tests.
  HostilePacing& hp = o.hostile_pacing;
  const std::tuple<const char*, std::uint64_t*, const char*> hidden_pacing[] = {
      {"--hostile-slowloris-ms", &hp.slowloris_ms, "slowloris: milliseconds between its bytes"},
      {"--hostile-pause-ms", &hp.pause_ms, "hostile: milliseconds between one client's cycles"},
      {"--hostile-line-bytes", &hp.line_bytes, "overlong: bytes of its line (> server --max-line)"},
      {"--hostile-storm-burst", &hp.storm_burst, "storm: connections per burst"},
      {"--hostile-hold-ms", &hp.never_read_hold_ms, "never-read: ms it holds a connection"},
  };
  for (const auto& [name, field, help] : hidden_pacing)
    app.add_option(name, *field, help)->group("");
  app.add_flag("--hold", o.hold,
               "hold --idle N connections: print 'holding ...' when all are up, release on "
               "stdin EOF or SIGTERM, print 'released ...'");
  app.add_option("--idle-sources", o.idle_sources,
                 "source addresses of the idle connections: comma-separated IPv4 addresses and "
                 "ranges A-B, every one used (default: 127.0.0.2, 127.0.0.3, ... as many as "
                 "needed towards a loopback server, else the kernel's choice)")
      ->type_name("LIST");
  app.add_option("--idle-destinations", o.idle_destinations,
                 "server addresses the idle connections are spread over (each on --port; the "
                 "server binds 0.0.0.0 or each of them): a LIST as for --idle-sources (default: "
                 "--host). Active connections always use --host")
      ->type_name("LIST");
  app.add_option("--idle-per-process", o.idle_per_process,
                 "most idle connections per helper process (default: the open-file limit)")
      ->group("");
  app.add_option("--idle-per-pair", o.idle_per_pair,
                 "most idle connections per (source, destination) address pair (default: half "
                 "the ephemeral port range)")
      ->group("");
  app.add_option("--drain-timeout", o.drain_timeout,
                 "seconds to wait for in-flight messages after the window")
      ->group("");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return fatal(fmt::format("{} (see loadgen --help)", e.what()), kExitUsage);
  }
  if (auto err = parse_window(window_arg, o)) return fatal(*err, kExitUsage);
  if (const auto arrival = ArrivalSchedule::parse(arrival_arg)) {
    o.arrival = *arrival;
  } else {
    return fatal(fmt::format("--arrival {}: use fixed or poisson", arrival_arg), kExitUsage);
  }
  auto kinds = parse_hostile_kinds(hostile_kinds_arg);
  if (auto* err = std::get_if<std::string>(&kinds)) return fatal(*err, kExitUsage);
  o.hostile_kinds = std::get<std::vector<HostileKind>>(kinds);
  if (!o.series_out.empty() && o.interval == 0) o.interval = 1;
  if (auto err = validate(o)) return fatal(*err, kExitUsage);
  if (!o.histogram_out.empty()) {
    if (auto err = check_writable(o.histogram_out)) {
      return fatal(fmt::format("--histogram-out {}: {}", o.histogram_out, *err), kExitUsage);
    }
  }
  const std::pair<const char*, const std::string*> out_files[] = {{"--series-out", &o.series_out},
                                                                  {"--hlog", &o.hlog}};
  for (const auto& [flag, path] : out_files) {
    if (path->empty()) continue;
    if (auto err = check_writable(*path)) {
      return fatal(fmt::format("{} {}: {}", flag, *path, *err), kExitUsage);
    }
  }

  signal(SIGPIPE, SIG_IGN);
  // The default 50 µs timer slack would delay open-loop sends past their intended time.
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  raise_fd_limit();
  if (o.cpu >= 0) {
    if (auto err = pin_to_cpu(o.cpu)) return fatal(*err, kExitUsage);
  }
  auto resolved = resolve(o.host, o.port);
  if (auto* err = std::get_if<std::string>(&resolved)) return fatal(*err, kExitUsage);
  const Endpoint server = std::get<Endpoint>(resolved);
  auto idle = idle_options(o, server, o.idle);
  if (auto* err = std::get_if<std::string>(&idle)) return fatal(*err, kExitUsage);
  if (o.hold) return hold_main(o, std::get<IdleOptions>(idle));
  return run_main(o, server, std::get<IdleOptions>(idle));
}
