// Socket helpers shared by the load generator's parts. Errors come back as text naming the
// address and what to do, never as a bare errno.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace mux {

// CLOCK_MONOTONIC in nanoseconds: the clock every send time and latency uses.
std::uint64_t now_ns();

struct Endpoint {
  sockaddr_in addr{};
  std::string text;  // "127.0.0.1:8002", for messages
  bool loopback() const;
};

// Resolves an IPv4 host name or address; returns the endpoint or an error line.
std::variant<Endpoint, std::string> resolve(const std::string& host, int port);

// IPv4 addresses from a comma-separated list of addresses and inclusive ranges `A-B`, as
// --idle-sources and --idle-destinations take them ("198.18.1.1-198.18.1.40,198.18.2.1"), in the
// order given. An error names the bad item; `option` prefixes it.
std::variant<std::vector<in_addr>, std::string> parse_ipv4_list(std::string_view list,
                                                                std::string_view option);
// One address as text ("127.0.0.2").
std::string ipv4_text(in_addr a);

// The kernel's ephemeral port range (net.ipv4.ip_local_port_range): how many connections one
// source address can open to one server port.
struct PortRange {
  int low = 32768, high = 60999;
  int size() const { return high - low + 1; }
};
PortRange ephemeral_ports();

// Binds fd to source address `from` with the port left to connect() (IP_BIND_ADDRESS_NO_PORT);
// 0 or the errno of bind().
int bind_source(int fd, const in_addr& from);

// A non-blocking TCP socket connecting to `to`, optionally from source address `from` (port
// chosen at connect time). Returns the descriptor (connect may still be in progress) or -errno.
int start_connect(const Endpoint& to, const in_addr* from);

// Blocking connect with a timeout; returns the descriptor or an error line.
std::variant<int, std::string> connect_blocking(const Endpoint& to, int timeout_ms);

// One line from a blocking socket or pipe, with a deadline: the line, or why there is none.
struct LineRead {
  enum class Status { kLine, kTimeout, kEof, kError };
  Status status = Status::kTimeout;
  std::string line;   // kLine: without its '\n' (and a '\r' before it)
  std::string error;  // kError: what failed, with its errno
  bool ok() const { return status == Status::kLine; }
};

// Reads one '\n'-terminated line from fd (bytes after it stay buffered in `pending` for the next
// call), waiting at most timeout_ms in all.
LineRead read_line(int fd, std::string& pending, int timeout_ms);

// Writes all of `data` to a blocking socket or pipe; returns an error line on failure.
std::optional<std::string> write_all(int fd, std::string_view data);

// The "what to do" hint for an errno from socket()/connect().
std::string connect_hint(int err, const Endpoint& to);

// Writes `text` to path (replacing it), for the files loadgen leaves beside its row (histogram,
// series): nullopt, or why not.
std::optional<std::string> write_text_file(const std::string& path, const std::string& text);

}  // namespace mux
