#include "HostileClients.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "system.h"

namespace mux {

namespace {

constexpr std::uint64_t kMs = 1'000'000;
constexpr std::uint32_t kGenerationMask = 0x7fffffff;
constexpr std::uint64_t kStartSpreadMs = 1000;
// What reset-mid-line leaves unfinished: a message's start, no newline.
constexpr std::string_view kHalfLine = "hostile: this line is never finished, the sender reset";
// never-read's receive buffer (the kernel doubles it) and MSS: small, so that the server's own
// output queue, not the two kernels' socket buffers, takes what it cannot deliver
// (start_connect_slow_reader says why the MSS matters).
constexpr int kNeverReadRcvbuf = 4096;
constexpr int kNeverReadMss = 536;  // the IPv4 default MSS (RFC 879)

struct KindName {
  HostileKind kind;
  std::string_view name;
};
constexpr KindName kKinds[] = {
    {HostileKind::kSlowloris, "slowloris"},         {HostileKind::kNeverRead, "never-read"},
    {HostileKind::kResetMidLine, "reset-mid-line"}, {HostileKind::kVanish, "vanish"},
    {HostileKind::kOverlong, "overlong"},           {HostileKind::kStorm, "storm"},
};

}  // namespace

const std::vector<HostileKind>& all_hostile_kinds() {
  static const std::vector<HostileKind> all = [] {
    std::vector<HostileKind> v;
    for (const auto& k : kKinds) v.push_back(k.kind);
    return v;
  }();
  return all;
}

std::string_view hostile_kind_name(HostileKind k) {
  for (const auto& e : kKinds)
    if (e.kind == k) return e.name;
  return "?";
}

std::variant<std::vector<HostileKind>, std::string> parse_hostile_kinds(std::string_view list) {
  std::vector<HostileKind> kinds;
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    const std::string_view item = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    bool known = false;
    for (const auto& e : kKinds) {
      if (e.name != item) continue;
      known = true;
      kinds.push_back(e.kind);
    }
    if (!known) {
      return fmt::format("--hostile-kinds: unknown kind '{}' (use {})", item,
                         hostile_kinds_text(all_hostile_kinds()));
    }
  }
  if (kinds.empty()) return "--hostile-kinds: name at least one kind";
  return kinds;
}

std::string hostile_kinds_text(const std::vector<HostileKind>& kinds, char separator) {
  std::string s;
  for (HostileKind k : kinds) {
    if (!s.empty()) s += separator;
    s += hostile_kind_name(k);
  }
  return s;
}

HostileClients::HostileClients(EventLoop& loop, const Endpoint& server, std::uint64_t count,
                               std::vector<HostileKind> kinds, HostilePacing pacing)
    : loop_(loop), server_(server), pacing_(pacing) {
  if (kinds.empty()) kinds = all_hostile_kinds();
  clients_.resize(count);
  for (std::uint64_t i = 0; i < count; ++i) clients_[i].kind = kinds[i % kinds.size()];
}

HostileClients::~HostileClients() {
  stop();
}

void HostileClients::start(std::vector<std::string> rooms) {
  running_ = true;
  std::size_t never_read = 0;
  for (auto& c : clients_) {
    if (c.kind == HostileKind::kNeverRead && !rooms.empty()) {
      c.room = rooms[never_read++ % rooms.size()];
    }
  }
  // Spread over the first second rather than all at once: K clients connecting in one instant
  // would be a storm of their own, and a short window would only ever meet the first bursts.
  for (std::uint32_t i = 0; i < clients_.size(); ++i) {
    next_cycle(i, i * kStartSpreadMs / clients_.size());
  }
}

void HostileClients::stop() {
  if (!running_) return;
  running_ = false;
  for (std::uint32_t i = 0; i < clients_.size(); ++i) {
    Client& c = clients_[i];
    if (c.timer) loop_.cancel(*c.timer);
    c.timer.reset();
    close_all(i, true);
  }
}

std::uint64_t HostileClients::token(std::uint32_t slot) const {
  return kTokenBit | (static_cast<std::uint64_t>(socks_[slot].generation) << 32) | slot;
}

void HostileClients::error(const std::string& what) {
  ++counts_.errors;
  if (first_error_.empty()) first_error_ = what;
}

// ---- pacing ----

void HostileClients::arm(std::uint32_t client, std::uint64_t delay_ms,
                         void (HostileClients::*fn)(std::uint32_t)) {
  Client& c = clients_[client];
  if (c.timer) loop_.cancel(*c.timer);
  c.timer = loop_.at(now_ns() + delay_ms * kMs, [this, client, fn](std::uint64_t) {
    clients_[client].timer.reset();
    if (running_) (this->*fn)(client);
  });
}

void HostileClients::next_cycle(std::uint32_t client, std::uint64_t delay_ms) {
  arm(client, delay_ms, &HostileClients::begin_cycle);
}

void HostileClients::begin_cycle(std::uint32_t client) {
  Client& c = clients_[client];
  if (c.kind != HostileKind::kStorm) {
    if (!open(client)) return next_cycle(client, pacing_.pause_ms);
    if (c.kind != HostileKind::kVanish)
      arm(client, pacing_.answer_timeout_ms, &HostileClients::answer_overdue);
    return;
  }
  for (std::uint64_t i = 0; i < pacing_.storm_burst; ++i) {
    if (!open(client)) break;
  }
  if (c.socks.empty()) return next_cycle(client, pacing_.storm_pause_ms);
  arm(client, pacing_.answer_timeout_ms, &HostileClients::storm_overdue);
}

std::optional<std::uint32_t> HostileClients::open(std::uint32_t client) {
  const HostileKind kind = clients_[client].kind;
  const int fd = kind == HostileKind::kNeverRead
                     ? start_connect_slow_reader(server_, kNeverReadRcvbuf, kNeverReadMss)
                     : start_connect(server_, nullptr);
  if (fd < 0) {
    error(fmt::format("{}: {}", hostile_kind_name(kind), connect_hint(-fd, server_)));
    return std::nullopt;
  }
  std::uint32_t slot = 0;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(socks_.size());
    socks_.emplace_back();
  }
  Sock& s = socks_[slot];
  s.fd = fd;
  s.client = client;
  s.welcomed = false;
  s.in.clear();
  s.out.clear();
  s.out_off = 0;
  // vanish leaves as soon as the handshake is done: connect() finishing is EPOLLOUT.
  const std::uint32_t events = kind == HostileKind::kVanish ? EPOLLOUT : EPOLLIN;
  if (auto err = loop_.watch(fd, events, token(slot))) {
    error(fmt::format("{}: {}", hostile_kind_name(kind), *err));
    ::close(fd);
    s.fd = -1;
    s.generation = (s.generation + 1) & kGenerationMask;
    free_.push_back(slot);
    return std::nullopt;
  }
  clients_[client].socks.push_back(slot);
  ++counts_.connects;
  return slot;
}

void HostileClients::close_sock(std::uint32_t slot, bool abortive) {
  Sock& s = socks_[slot];
  if (s.fd < 0) return;
  if (abortive) {
    const linger l{1, 0};
    setsockopt(s.fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  ::close(s.fd);  // also takes it out of the epoll set
  s.fd = -1;
  // A later event of this turn may still carry the old token: the generation tells it apart.
  s.generation = (s.generation + 1) & kGenerationMask;
  auto& open = clients_[s.client].socks;
  std::erase(open, slot);
  free_.push_back(slot);
}

void HostileClients::close_all(std::uint32_t client, bool abortive) {
  while (!clients_[client].socks.empty()) close_sock(clients_[client].socks.back(), abortive);
}

// ---- events ----

void HostileClients::on_ready(std::uint64_t tok, std::uint32_t events) {
  const std::uint32_t slot = static_cast<std::uint32_t>(tok);
  if (!running_ || slot >= socks_.size() || socks_[slot].fd < 0 || token(slot) != tok) return;
  Sock& s = socks_[slot];
  const HostileKind kind = clients_[s.client].kind;
  if (kind == HostileKind::kVanish) return on_connected(slot);
  if (kind == HostileKind::kNeverRead && s.welcomed) {
    // It never reads: only the server's close (RDHUP, HUP, ERR) can be reported.
    return on_closed_by_server(slot);
  }
  if (events & EPOLLOUT) send_out(slot);
  if (socks_[slot].fd < 0 || token(slot) != tok || !(events & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
    return;
  }
  const ssize_t n = recv(s.fd, buf_, sizeof buf_, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) return on_closed_by_server(slot);
  const auto framed =
      s.in.feed(std::string_view(buf_, static_cast<std::size_t>(n)), [&](std::string_view line) {
        on_line(slot, line);
        return socks_[slot].fd >= 0 && token(slot) == tok;
      });
  if (framed == LineFramer::Result::kTooLong) s.in.clear();  // nothing of ours is that long
}

void HostileClients::on_line(std::uint32_t slot, std::string_view line) {
  Sock& s = socks_[slot];
  if (line.rfind("! ", 0) == 0 && line.find("server full") != std::string_view::npos) {
    ++counts_.refused;
    const std::uint32_t client = s.client;
    close_sock(slot, false);
    if (clients_[client].kind != HostileKind::kStorm) return next_cycle(client, pacing_.pause_ms);
    if (clients_[client].socks.empty()) next_cycle(client, pacing_.storm_pause_ms);
    return;
  }
  if (!s.welcomed && line.rfind("* welcome", 0) == 0) {
    s.welcomed = true;
    on_welcome(slot);
  }
  // Everything else (`! line too long`, other clients' lines in lobby) is read and dropped:
  // overlong counts the server's close, which follows its error line.
}

void HostileClients::on_welcome(std::uint32_t slot) {
  Sock& s = socks_[slot];
  const std::uint32_t client = s.client;
  Client& c = clients_[client];
  switch (c.kind) {
    case HostileKind::kSlowloris:
      c.drips = 0;
      drip(client);
      break;
    case HostileKind::kNeverRead:
      s.out = fmt::format("/join {}\n", c.room.empty() ? "lobby" : c.room);
      send_out(slot);
      if (s.fd >= 0) {
        if (auto err = loop_.rewatch(s.fd, EPOLLRDHUP, token(slot))) error("never-read: " + *err);
        arm(client, pacing_.never_read_hold_ms, &HostileClients::reset_now);
      }
      break;
    case HostileKind::kResetMidLine:
      s.out = std::string(kHalfLine);
      send_out(slot);
      if (s.fd >= 0) arm(client, pacing_.reset_after_ms, &HostileClients::reset_now);
      break;
    case HostileKind::kOverlong:
      // No newline: were the server's limit larger, this would still never become a message.
      s.out.assign(pacing_.line_bytes, 'x');
      send_out(slot);
      break;  // the answer timer keeps running: the server's close is the answer now
    case HostileKind::kStorm:
      close_sock(slot, false);
      if (c.socks.empty()) next_cycle(client, pacing_.storm_pause_ms);
      break;
    case HostileKind::kVanish:
      break;
  }
}

void HostileClients::on_connected(std::uint32_t slot) {
  Sock& s = socks_[slot];
  const std::uint32_t client = s.client;
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err != 0) error(fmt::format("vanish: {}", connect_hint(err, server_)));
  close_sock(slot, false);
  next_cycle(client, pacing_.pause_ms);
}

void HostileClients::on_closed_by_server(std::uint32_t slot) {
  Sock& s = socks_[slot];
  const std::uint32_t client = s.client;
  if (s.welcomed) {
    ++counts_.dropped;
  } else {
    ++counts_.refused;  // closed without a word, before its welcome
  }
  close_sock(slot, false);
  if (clients_[client].kind != HostileKind::kStorm) {
    next_cycle(client, pacing_.pause_ms);
  } else if (clients_[client].socks.empty()) {
    next_cycle(client, pacing_.storm_pause_ms);
  }
}

void HostileClients::send_out(std::uint32_t slot) {
  Sock& s = socks_[slot];
  while (s.out_off < s.out.size()) {
    const ssize_t n =
        send(s.fd, s.out.data() + s.out_off, s.out.size() - s.out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      s.out_off += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      if (auto err = loop_.rewatch(s.fd, EPOLLIN | EPOLLOUT, token(slot))) {
        error(fmt::format("{}: {}", hostile_kind_name(clients_[s.client].kind), *err));
      }
      return;
    } else {
      // The server closed it while we were still sending (overlong: after its error line).
      return on_closed_by_server(slot);
    }
  }
  const bool had_out = !s.out.empty();
  s.out.clear();
  s.out_off = 0;
  if (had_out && clients_[s.client].kind == HostileKind::kOverlong) {
    loop_.rewatch(s.fd, EPOLLIN, token(slot));
  }
}

void HostileClients::drip(std::uint32_t client) {
  Client& c = clients_[client];
  if (c.socks.empty()) return;
  const std::uint32_t slot = c.socks.front();
  // One byte, never a newline: the server keeps the partial line (at 4096 bytes it would call
  // the line too long, which at one byte per slowloris_ms takes hours).
  if (send(socks_[slot].fd, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1 && errno != EAGAIN) {
    return on_closed_by_server(slot);
  }
  ++c.drips;
  arm(client, pacing_.slowloris_ms, &HostileClients::drip);
}

void HostileClients::reset_now(std::uint32_t client) {
  close_all(client, true);
  next_cycle(client, pacing_.pause_ms);
}

void HostileClients::answer_overdue(std::uint32_t client) {
  const Client& c = clients_[client];
  error(fmt::format(
      "{}: no {} from the server within {} ms", hostile_kind_name(c.kind),
      c.kind == HostileKind::kOverlong ? "welcome or close after the over-long line" : "welcome",
      pacing_.answer_timeout_ms));
  reset_now(client);
}

void HostileClients::storm_overdue(std::uint32_t client) {
  const Client& c = clients_[client];
  error(fmt::format("storm: {} of {} connections got no welcome within {} ms", c.socks.size(),
                    pacing_.storm_burst, pacing_.answer_timeout_ms));
  close_all(client, true);
  next_cycle(client, pacing_.storm_pause_ms);
}

}  // namespace mux
