// Reading the line a server prints once it listens
// (docs/protocol.md#command-line-and-output):
//   listening HOST:PORT mechanism=NAME fd_limit=N max_conns=M
// (max_conns: the server's --max-conns, 0 for no cap; absent from servers older than it).
// servers/ServerSocket.cpp writes it; the test harnesses read it with this. HOST may be an IPv6
// address in brackets ("[::1]"), so the port follows the last ':'. A line that does not have
// this shape, or whose numbers do not fit, is no listening line (nullopt), never an exception.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mux {

struct ListeningLine {
  std::string host;
  std::uint16_t port = 0;
  std::string mechanism;
  std::uint64_t fd_limit = 0;
  std::optional<std::uint64_t> max_conns;
  bool operator==(const ListeningLine&) const = default;
};

namespace listening_detail {
template <class T>
bool number(std::string_view s, T& out) {
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}
// The next space-separated field of `rest`, removed from it.
inline std::string_view field(std::string_view& rest) {
  const std::size_t sp = rest.find(' ');
  const std::string_view f = rest.substr(0, sp);
  rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
  return f;
}
}  // namespace listening_detail

// Text after these fields is ignored, as the harness's regular expressions do.
inline std::optional<ListeningLine> parse_listening_line(std::string_view line) {
  using namespace listening_detail;
  constexpr std::string_view kStart = "listening ",
                             kMech = "mechanism=", kLimit = "fd_limit=", kMaxConns = "max_conns=";
  if (line.substr(0, kStart.size()) != kStart) return std::nullopt;
  std::string_view rest = line.substr(kStart.size());
  const std::string_view addr = field(rest), mech = field(rest), limit = field(rest);
  const std::size_t colon = addr.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  if (mech.substr(0, kMech.size()) != kMech || mech.size() == kMech.size()) return std::nullopt;
  if (limit.substr(0, kLimit.size()) != kLimit) return std::nullopt;
  ListeningLine l;
  if (!number(addr.substr(colon + 1), l.port) || !number(limit.substr(kLimit.size()), l.fd_limit))
    return std::nullopt;
  if (const std::string_view cap = field(rest); cap.substr(0, kMaxConns.size()) == kMaxConns) {
    if (!number(cap.substr(kMaxConns.size()), l.max_conns.emplace())) return std::nullopt;
  }
  l.host = std::string(addr.substr(0, colon));
  l.mechanism = std::string(mech.substr(kMech.size()));
  return l;
}

}  // namespace mux
