#include "ChatCore.h"

#include <algorithm>
#include <cassert>

#include <fmt/format.h>

#include "Json.h"

namespace mux {
namespace {

constexpr std::string_view kHelp[] = {
    "* commands:",
    "*   /nick NAME  rename yourself (1-32 characters of A-Z a-z 0-9 _ -)",
    "*   /join ROOM  leave your room and enter ROOM",
    "*   /who        list the members of your room",
    "*   /stats      server counters as one JSON line",
    "*   /quit       disconnect",
    "*   any other line is sent to the other members of your room",
};

// What " (+N more)" can take, N being a 64-bit count: kept free at the end of a /who list.
constexpr std::size_t kWhoMoreBytes = 30;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

ChatCore::ChatCore(ServerOptions options, Transport& transport, std::uint64_t fd_limit)
    : opt_(std::move(options)),
      transport_(transport),
      fd_limit_(fd_limit),
      max_conns_(opt_.max_conns ? opt_.max_conns : UINT64_MAX),
      full_line_(fmt::format("! server full: {0} connections (--max-conns {0})\n", max_conns_)),
      queue_limit_(opt_.max_outbuf),
      enforced_limit_(opt_.max_outbuf),
      rooms_(opt_.max_rooms) {
  update_queue_limit();  // the share of the first connection
}

void ChatCore::open(ConnId id) {
  if (static_cast<std::size_t>(id) >= conns_.size()) conns_.resize(id + 1);
  conns_[id] = std::make_unique<Connection>(opt_.max_line);
  Connection& c = *conns_[id];
  c.id = id;
  ++n_.accepted;
  if (++n_.current > n_.peak) n_.peak = n_.current;
  update_queue_limit();
  rooms_.admit(c);
  send_line(c, fmt::format("* welcome {} (room lobby; /help for commands)", c.nick));
  if (!opt_.quiet) broadcast(c, fmt::format("* {} joined\n", c.nick), false);
}

ChatCore::Input ChatCore::on_bytes(ConnId id, std::string_view bytes) {
  Connection& c = *find(id);
  n_.bytes_in += bytes.size();
  if (c.doomed) return Input::kStop;
  if (c.closing) return Input::kDiscarded;  // input after /quit or an over-long line
  const auto result = c.in.feed(bytes, [&](std::string_view line) { return on_line(c, line); });
  if (result == LineFramer::Result::kTooLong) {
    ++n_.overlong_dropped;
    send_line(c, fmt::format("! line too long (max {} bytes)", opt_.max_line));
    close_after_flush(c);
    return Input::kStop;
  }
  return c.closing || c.doomed ? Input::kStop : Input::kFramed;
}

void ChatCore::on_eof(ConnId id) {
  Connection& c = *find(id);
  if (c.doomed) return;
  if (!c.closing && !c.in.pending().empty()) {
    const std::string last(c.in.pending());
    c.in.clear();
    on_line(c, last);
  }
  close_after_flush(c);
}

void ChatCore::doom(ConnId id) {
  if (Connection* c = find(id)) doom(*c);
}

void ChatCore::take_output(ConnId id, std::string& into) {
  Connection& c = *find(id);
  c.out.take(into);
  c.in_flight += into.size();
}

void ChatCore::sent(ConnId id, std::size_t n) {
  Connection& c = *find(id);
  n_.bytes_out += n;
  if (c.in_flight > 0) {
    assert(n <= c.in_flight);
    c.in_flight -= n;
  } else {
    c.out.consume(n);
  }
  if (c.closing && c.out.empty() && c.in_flight == 0) doom(c);
}

bool ChatCore::reading(ConnId id) const {
  return !find(id)->closing;
}

bool ChatCore::doomed(ConnId id) const {
  const Connection* c = find(id);
  return !c || c->doomed;
}

void ChatCore::take_dirty(std::vector<ConnId>& into) {
  into.clear();
  into.swap(dirty_);
  for (ConnId id : into)
    if (Connection* c = find(id)) c->dirty = false;
}

void ChatCore::take_doomed(std::vector<ConnId>& into) {
  into.clear();
  into.swap(doomed_);
}

void ChatCore::closed(ConnId id) {
  Connection& c = *find(id);
  if (!opt_.quiet) broadcast(c, fmt::format("* {} left\n", c.nick), false);
  rooms_.forget(c);
  --n_.current;
  conns_[id].reset();
  update_queue_limit();
}

void ChatCore::update_queue_limit() {
  if (opt_.max_queued_total == 0) return;
  const std::uint64_t share = opt_.max_queued_total / std::max<std::uint64_t>(n_.current, 1);
  queue_limit_ = static_cast<std::size_t>(std::min<std::uint64_t>(opt_.max_outbuf, share));
  if (queue_limit_ > enforced_limit_) {
    enforced_limit_ = queue_limit_;
  } else if (queue_limit_ < enforced_limit_ - enforced_limit_ / 8) {
    enforce_queue_limit();
    enforced_limit_ = queue_limit_;
  }
}

void ChatCore::enforce_queue_limit() {
  for (const auto& owned : conns_) {
    if (!owned || owned->doomed) continue;
    Connection& c = *owned;
    if (c.out.size() + c.in_flight > queue_limit_) {
      transport_.flush_now(c.id);
      if (!c.doomed && c.out.size() + c.in_flight > queue_limit_) {
        ++n_.slow_dropped;
        doom(c);
        continue;
      }
    }
    c.out.shrink_to_fit();
  }
}

bool ChatCore::on_line(Connection& c, std::string_view line) {
  if (!line.empty() && line.front() == '/') {
    const std::size_t sp = line.find(' ');
    const std::string_view cmd = line.substr(0, sp);
    const std::string_view arg = sp == std::string_view::npos ? "" : trim(line.substr(sp + 1));
    on_command(c, cmd, arg);
    return !c.closing && !c.doomed;
  }
  ++n_.msgs_in;
  // Plain appends, not fmt::format_to: the prefix is built once per relayed line, and the
  // format string's parse and the back_inserter's growth were the core's largest share of a
  // ping-pong wake-up (perf, cpu-clock).
  line_buf_.clear();
  line_buf_ += '<';
  line_buf_ += c.nick;
  line_buf_ += "> ";
  line_buf_ += line;
  line_buf_ += '\n';
  broadcast(c, line_buf_, true);
  return true;
}

void ChatCore::on_command(Connection& c, std::string_view cmd, std::string_view arg) {
  if (cmd == "/nick" || cmd == "/join") {
    const bool nick = cmd == "/nick";
    if (arg.empty()) return send_line(c, nick ? "! usage: /nick NAME" : "! usage: /join ROOM");
    if (auto why = invalid_name_reason(arg)) {
      return send_line(c, fmt::format("! invalid name: {}", *why));
    }
    const std::string name(arg);
    if (nick) {
      const std::string old = c.nick;
      if (!rooms_.rename(c, name)) return send_line(c, fmt::format("! nick taken: {}", name));
      send_line(c, fmt::format("* you are now {}", name));
      if (!opt_.quiet && old != name)
        broadcast(c, fmt::format("* {} is now {}\n", old, name), false);
    } else {
      if (name != c.room) {
        if (!rooms_.may_join(c, name))
          return send_line(c, fmt::format("! too many rooms (max {})", opt_.max_rooms));
        if (!opt_.quiet) broadcast(c, fmt::format("* {} left\n", c.nick), false);
        rooms_.join(c, name);
        if (!opt_.quiet) broadcast(c, fmt::format("* {} joined\n", c.nick), false);
      }
      send_line(c, fmt::format("* you joined {}", name));
    }
  } else if (cmd == "/who") {
    // The list stops at --max-line bytes. Unbounded, lobby's reply would grow with the room:
    // with many idle connections it outgrows --max-outbuf (and the asker is dropped as a slow
    // reader), and each /who would cost memory in proportion to the room.
    const auto& members = rooms_.members(c.room);
    std::string line = fmt::format("* members of {} ({}):", c.room, members.size());
    std::size_t listed = 0;
    for (const Member* m : members) {
      if (line.size() + 1 + m->nick.size() + kWhoMoreBytes > opt_.max_line) break;
      line += ' ';
      line += m->nick;
      ++listed;
    }
    if (listed < members.size())
      fmt::format_to(std::back_inserter(line), " (+{} more)", members.size() - listed);
    send_line(c, line);
  } else if (cmd == "/stats") {
    send_line(c, stats_json());
  } else if (cmd == "/quit") {
    send_line(c, "* bye");
    close_after_flush(c);
  } else if (cmd == "/help") {
    for (std::string_view h : kHelp) send_line(c, h);
  } else {
    send_line(c, fmt::format("! unknown command: {} (try /help)", cmd));
  }
}

void ChatCore::broadcast(const Connection& from, std::string_view bytes, bool is_message) {
  for (Member* m : rooms_.members(from.room)) {
    if (m == &from) continue;
    auto& to = static_cast<Connection&>(*m);
    if (to.doomed || to.closing) continue;
    queue(to, bytes);
    if (is_message) ++n_.msgs_out;
  }
}

void ChatCore::send_line(Connection& c, std::string_view line) {
  if (c.doomed) return;
  queue(c, line, "\n");
}

void ChatCore::queue(Connection& c, std::string_view bytes, std::string_view tail) {
  c.out.append(bytes);
  c.out.append(tail);
  if (c.out.size() > queue_limit_) {
    transport_.flush_now(c.id);
    if (!c.doomed && c.out.size() > queue_limit_) {
      ++n_.slow_dropped;
      doom(c);
      return;
    }
  }
  if (!c.dirty && !c.doomed) {
    c.dirty = true;
    dirty_.push_back(c.id);
  }
}

void ChatCore::close_after_flush(Connection& c) {
  c.closing = true;
  // The last lines go out with this iteration's flush; the connection closes as soon as they
  // are all sent (sent() dooms it). Nothing to send: close now.
  if (c.out.empty() && c.in_flight == 0) return doom(c);
  if (!c.dirty) {
    c.dirty = true;
    dirty_.push_back(c.id);
  }
}

void ChatCore::doom(Connection& c) {
  if (c.doomed) return;
  c.doomed = true;
  doomed_.push_back(c.id);
}

std::string ChatCore::stats_json() const {
  const DriverCounters d = transport_.driver_counters();
  const SyscallCounts& s = d.syscalls;
  const SqeCounts& q = d.sqes;
  // Readers look counters up by name; the order is for people reading the line: new ones go at
  // the end.
  const Json stats = {
      {"mechanism", d.mechanism},
      {"accepted", n_.accepted},
      {"refused", n_.refused},
      {"current", n_.current},
      {"peak", n_.peak},
      {"msgs_in", n_.msgs_in},
      {"msgs_out", n_.msgs_out},
      {"bytes_in", n_.bytes_in},
      {"bytes_out", n_.bytes_out},
      {"wait_calls", d.wait_calls},
      {"events", d.events},
      {"fds_passed", d.fds_passed},
      {"ctl_calls", d.ctl_calls},
      {"slow_dropped", n_.slow_dropped},
      {"overlong_dropped", n_.overlong_dropped},
      {"cpu_user_us", d.cpu.user_us},
      {"cpu_sys_us", d.cpu.system_us},
      {"fd_limit", fd_limit_},
      {"syscalls", s.total()},
      {"sys_wait", s.wait},
      {"sys_ctl", s.ctl},
      {"sys_accept", s.accept},
      {"sys_recv", s.recv},
      {"sys_send", s.send},
      {"sys_close", s.close},
      {"sys_other", s.other},
      {"sqes", q.total()},
      {"sqe_poll", q.poll},
      {"sqe_accept", q.accept},
      {"sqe_recv", q.recv},
      {"sqe_send", q.send},
      {"sqe_close", q.close},
      {"sqe_other", q.other},
      {"recv_nobufs", d.recv_nobufs},
      {"max_queued_total", opt_.max_queued_total},
      {"queue_limit", queue_limit_},
  };
  return json_line(stats);
}

}  // namespace mux
