// Fuzz target: the whole chat protocol (servers/ChatCore) without a socket. A fake driver plays
// the kernel and up to 16 clients; the input is a script of events; after each event the
// driver's end-of-iteration loop (settle) runs as ReadinessDriver runs it, then every invariant
// is checked. A broken invariant aborts with a line saying which (FuzzCheck.h).
//
// Script: four header bytes, then events.
//   byte 0: max_line = 8 + b % 56           byte 1: max_outbuf = 64 + 8 * b
//   byte 2: bit 0 quiet; bits 1-5: the kernel send buffer (16 * n bytes) of a client not reading;
//           bits 6-7: --max-rooms n (1-3; 0: the default), so that the room cap is reached
//   byte 3: --max-queued-total = 32 * b (0: none), small enough that a few clients share it
//   event: one byte, client slot = b >> 4 (0-15), kind = (b & 15) % 9:
//     0 connect        (a free slot only; the descriptor is the lowest free one, as the kernel's)
//     1 bytes          next byte n, then n raw bytes (partial lines, any byte)
//     2 line           next byte picks a line of kLines (commands, messages), sent with its `\n`
//     3 stop reading   the kernel buffer fills, then the core's output queue grows
//     4 resume         the client reads what the kernel holds; the socket turns writable
//     5 half-close     on_eof; the client still reads
//     6 reset          doom (ECONNRESET)
//     7 close          on_eof, and every later send fails (EPIPE)
//     8 buffer size    next byte: this client's kernel buffer, 16 * (b % 32) bytes
// At the end every client resumes reading and the loop settles once more.
//
// A model follows each client's nick and room (it frames the client's bytes with its own
// LineFramer and applies /nick, /join, /quit) and lists, per receiver, the chat lines it is owed.
#include <array>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/ranges.h>

#include "ChatCore.h"
#include "FuzzCheck.h"
#include "ServerControl.h"

namespace {

using mux::ChatCore;
using mux::ConnId;
using mux::fuzz::check;
using mux::fuzz::fail;

constexpr int kSlots = 16;
constexpr ConnId kFirstId = 3;  // 0-2 are stdio
constexpr int kMaxSettleRounds = 1000;

// Lines a script names by number, so that the fuzzer reaches every command from the start.
constexpr std::string_view kLines[] = {
    "/nick alice",
    "/nick bob",
    "/nick guest2",
    "/nick",
    "/nick bad!name",
    "/nick \t carol \t",
    "/join lobby",
    "/join red",
    "/join blue",
    "/join",
    "/join two words",
    "/who",
    "/stats",
    "/help",
    "/quit",
    "/bogus arg",
    "hello",
    "",
    "hi there\r",
    "/",
    "/nick\tbob",
    "/who extra",
    "/nick abcdefghijklmnopqrstuvwxyz0123456789",
    "<alice> forged",
    "* forged notice",
};

// MUXBENCH_FUZZ_TRACE=1 prints every event and every line a client receives (to read a crash).
template <class... Args>
void trace(fmt::format_string<Args...> f, Args&&... args) {
  static const bool on = std::getenv("MUXBENCH_FUZZ_TRACE") != nullptr;
  if (on) fmt::print(stderr, "{}\n", fmt::format(f, std::forward<Args>(args)...));
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// docs/protocol.md#the-chat-protocol: 1-32 characters of [A-Za-z0-9_-]. Written again here, not
// taken from Rooms.
bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 32) return false;
  for (unsigned char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-'))
      return false;
  }
  return true;
}

struct Client {
  bool present = false;  // open in the core (accepted, closed() not yet called)
  ConnId id = -1;
  // The peer and its kernel.
  bool reading = true;
  bool peer_gone = false;  // closed its socket: sends fail
  bool reset = false;      // the driver saw ECONNRESET
  bool slow_dropped = false;
  std::size_t cap = 0;  // kernel send buffer while not reading
  std::string kernel;   // bytes the kernel holds for a peer that does not read
  std::string partial;  // received bytes after the last `\n`
  std::size_t lines_seen = 0;
  std::string welcome_nick;
  // The model of the server's view of this client.
  std::string nick, room;
  bool closing = false;  // /quit, a line too long, EOF: its input is no longer processed
  std::optional<mux::LineFramer> framer;
  std::vector<std::string> owed;  // chat lines sent to its room while it was there, in order
  std::size_t delivered = 0;      // how many of `owed` it received (always a prefix)
  std::size_t owed_at_close = 0;  // owed.size() when it started closing
  bool graceful = false;          // closing by /quit, over-long line or half-close
};

class World : public mux::Transport {
 public:
  explicit World(mux::ServerOptions o, std::size_t cap)
      : opt_(o), core_(std::move(o), *this, 1024), default_cap_(cap) {}

  void run(mux::fuzz::Input& in);

  // Transport
  void flush_now(ConnId id) override;
  mux::DriverCounters driver_counters() const override {
    mux::DriverCounters d;
    d.mechanism = "fake";
    return d;
  }

 private:
  Client* client_of(ConnId id) {
    if (id < 0 || static_cast<std::size_t>(id) >= slot_of_.size() || slot_of_[id] < 0)
      return nullptr;
    return &clients_[slot_of_[id]];
  }
  std::size_t one_line_bound() const { return std::max<std::size_t>(opt_.max_line + 40, 1024); }
  // What one connection may queue: --max-outbuf, or its share of --max-queued-total.
  std::size_t queue_limit() const {
    if (opt_.max_queued_total == 0) return opt_.max_outbuf;
    return std::min<std::size_t>(opt_.max_outbuf,
                                 opt_.max_queued_total / std::max<std::uint64_t>(current_, 1));
  }

  void connect(int slot);
  void send_bytes(int slot, std::string_view data);
  void eof(Client& c);
  void resume(Client& c);
  void flush(ConnId id);
  void settle();
  void close_connection(ConnId id);
  void model_line(Client& c, std::string_view line);
  // The rooms of the clients open in the core: the rooms that exist.
  std::set<std::string> rooms() const;
  // --max-rooms as the protocol states it: lobby included and always joinable; a room whose
  // last member leaves is gone.
  bool may_join(const Client& c, std::string_view room) const;
  void receive(Client& c, std::string_view bytes);
  void check_line(Client& c, std::string_view line);
  void check_stats(const Client& c, std::string_view line);
  void check_all();
  void finish();

  mux::ServerOptions opt_;
  ChatCore core_;
  std::size_t default_cap_;
  std::array<Client, kSlots> clients_;
  std::vector<int> slot_of_;  // ConnId -> slot, -1 when free
  std::vector<ConnId> batch_;
  // What the counters must say.
  std::uint64_t accepted_ = 0, current_ = 0, peak_ = 0, msgs_in_ = 0, bytes_in_ = 0, bytes_out_ = 0,
                overlong_ = 0, slow_ = 0, owed_total_ = 0, received_msgs_ = 0;
  std::uint64_t next_guest_ = 1;
};

void World::run(mux::fuzz::Input& in) {
  while (!in.empty()) {
    const unsigned char op = in.byte();
    const int slot = op >> 4;
    Client& c = clients_[slot];
    const int kind = (op & 15) % 9;
    static constexpr const char* kNames[] = {"connect",    "bytes", "line",  "stop",  "resume",
                                             "half-close", "reset", "close", "buffer"};
    trace("event {} slot {} ({}){}", kNames[kind], slot, c.present ? c.nick : "-",
          c.present && core_.doomed(c.id) ? " doomed" : "");
    switch (kind) {
      case 0:
        connect(slot);
        break;
      case 1: {
        const std::string data = in.bytes(in.byte());
        trace("  bytes '{}'", fmt::join(data, ""));
        send_bytes(slot, data);
        break;
      }
      case 2: {
        const std::string line(kLines[in.byte() % std::size(kLines)]);
        trace("  line '{}'", line);
        send_bytes(slot, line + "\n");
        break;
      }
      case 3:
        if (c.present) c.reading = false;
        break;
      case 4:
        if (c.present) resume(c);
        break;
      case 5:
        if (c.present) eof(c);
        break;
      case 6:
        if (c.present && !core_.doomed(c.id)) {
          c.reset = true;
          core_.doom(c.id);
        }
        break;
      case 7:
        if (c.present) {
          c.peer_gone = true;
          c.kernel.clear();
          eof(c);
        }
        break;
      case 8: {
        const std::size_t cap = 16 * (in.byte() % 32);
        if (c.present) c.cap = std::max(cap, c.kernel.size());
        break;
      }
    }
    settle();
    check_all();
  }
  finish();
}

void World::connect(int slot) {
  Client& c = clients_[slot];
  if (c.present) return;
  ConnId id = kFirstId;
  while (static_cast<std::size_t>(id) < slot_of_.size() && slot_of_[id] >= 0) ++id;
  if (static_cast<std::size_t>(id) >= slot_of_.size()) slot_of_.resize(id + 1, -1);
  slot_of_[id] = slot;
  c = Client{};
  c.present = true;
  c.id = id;
  c.cap = default_cap_;
  c.framer.emplace(opt_.max_line);
  auto taken = [&](const std::string& nick) {
    for (const Client& o : clients_)
      if (o.present && &o != &c && o.nick == nick) return true;
    return false;
  };
  do {
    c.nick = fmt::format("guest{}", next_guest_++);
  } while (taken(c.nick));
  c.welcome_nick = c.nick;
  c.room = "lobby";
  ++accepted_;
  peak_ = std::max(peak_, ++current_);
  check(!core_.is_open(id), "connection {} is open in the core before it was accepted", id);
  core_.open(id);
}

// One read of `data` from the client, as the driver would hand it to the core. It is cut after
// every command line: a command's reply may overflow the client's own queue and drop it, which
// the model cannot foresee, so the model resynchronises with the core after each command.
// Consecutive chat lines stay in one read.
void World::send_bytes(int slot, std::string_view data) {
  Client& c = clients_[slot];
  if (!c.present || data.empty()) return;
  std::vector<std::string_view> pieces;
  const std::string_view pending = c.framer->pending();
  char first = pending.empty() ? 0 : pending.front();
  bool line_start = pending.empty();
  std::size_t start = 0;
  for (std::size_t i = 0; i < data.size(); ++i) {
    if (line_start) first = data[i];
    line_start = data[i] == '\n';
    if (line_start && first == '/') {
      pieces.push_back(data.substr(start, i + 1 - start));
      start = i + 1;
    }
  }
  if (start < data.size()) pieces.push_back(data.substr(start));

  for (std::string_view piece : pieces) {
    if (core_.doomed(c.id)) return;  // the driver stops reading a doomed connection
    const bool was_closing = c.closing;
    // The model goes first: a delivery may reach a reading peer while the core still runs.
    if (!c.closing) {
      const auto r = c.framer->feed(piece, [&](std::string_view line) {
        model_line(c, line);
        return !c.closing;
      });
      if (r == mux::LineFramer::Result::kTooLong) {
        ++overlong_;
        c.closing = c.graceful = true;
        c.owed_at_close = c.owed.size();
      }
    }
    bytes_in_ += piece.size();
    const ChatCore::Input r = core_.on_bytes(c.id, piece);
    const ChatCore::Input want = was_closing                       ? ChatCore::Input::kDiscarded
                                 : c.closing || core_.doomed(c.id) ? ChatCore::Input::kStop
                                                                   : ChatCore::Input::kFramed;
    check(r == want, "on_bytes returned {} for client {}, the model says {}", static_cast<int>(r),
          c.nick, static_cast<int>(want));
    if (r == ChatCore::Input::kStop) return;
  }
}

void World::model_line(Client& c, std::string_view line) {
  if (!line.empty() && line.front() == '/') {
    const std::size_t sp = line.find(' ');
    const std::string_view cmd = line.substr(0, sp);
    const std::string_view arg = sp == std::string_view::npos ? "" : trim(line.substr(sp + 1));
    if (cmd == "/nick" && valid_name(arg)) {
      bool taken = false;
      for (const Client& o : clients_) taken |= o.present && &o != &c && o.nick == arg;
      if (!taken) c.nick = std::string(arg);
    } else if (cmd == "/join" && valid_name(arg)) {
      if (may_join(c, arg)) c.room = std::string(arg);
    } else if (cmd == "/quit") {
      c.closing = c.graceful = true;
      c.owed_at_close = c.owed.size();
    }
    return;
  }
  ++msgs_in_;
  const std::string text = fmt::format("<{}> {}", c.nick, line);
  for (Client& r : clients_) {
    if (!r.present || &r == &c || r.room != c.room) continue;
    r.owed.push_back(text);
    ++owed_total_;
  }
}

std::set<std::string> World::rooms() const {
  std::set<std::string> out;
  for (const Client& c : clients_)
    if (c.present) out.insert(c.room);
  return out;
}

bool World::may_join(const Client& c, std::string_view room) const {
  const std::set<std::string> now = rooms();
  if (room == c.room || room == "lobby" || now.count(std::string(room))) return true;
  std::size_t after = now.size() + 1 + (now.count("lobby") ? 0 : 1);
  std::size_t others_in_mine = 0;
  for (const Client& o : clients_) others_in_mine += o.present && &o != &c && o.room == c.room;
  if (c.room != "lobby" && others_in_mine == 0) --after;
  return after <= opt_.max_rooms;
}

void World::eof(Client& c) {
  // The driver reads (and so sees EOF) only while the core wants input.
  if (core_.doomed(c.id) || !core_.reading(c.id)) return;
  if (!c.closing) {
    const std::string last(c.framer->pending());
    c.framer->clear();
    if (!last.empty()) model_line(c, last);
  }
  if (!c.closing) {
    c.closing = c.graceful = true;
    c.owed_at_close = c.owed.size();
  }
  core_.on_eof(c.id);
}

void World::resume(Client& c) {
  c.reading = true;
  const std::string held = std::move(c.kernel);
  c.kernel.clear();
  receive(c, held);
  // The socket is writable again: the driver flushes what the core holds.
  if (!core_.doomed(c.id) && !core_.output(c.id).empty()) flush(c.id);
}

void World::flush_now(ConnId id) {
  Client* c = client_of(id);
  if (!c) fail(fmt::format("flush_now({}) for a connection the driver has closed", id));
  check(!core_.doomed(id), "flush_now({}) for a doomed connection", id);
  check(core_.output(id).size() <= opt_.max_outbuf + one_line_bound(),
        "output queue of {} holds {} bytes, more than --max-outbuf {} plus one line", c->nick,
        core_.output(id).size(), opt_.max_outbuf);
  flush(id);
  // The core drops a client still over its share after this.
  if (!core_.doomed(id) && core_.output(id).size() > queue_limit()) {
    ++slow_;
    c->slow_dropped = true;
    trace("  {} dropped: {} bytes queued", c->nick, core_.output(id).size());
  }
}

void World::flush(ConnId id) {
  Client* c = client_of(id);
  if (!c) fail(fmt::format("the core has output for connection {} after it was closed", id));
  while (!core_.output(id).empty()) {
    if (c->peer_gone) return core_.doom(id);  // EPIPE
    const std::string_view front = core_.output(id).front();
    std::size_t n = front.size();
    if (!c->reading) n = std::min(n, c->cap - std::min(c->cap, c->kernel.size()));
    if (n == 0) return;  // the kernel buffer is full: wait for writability
    const std::string bytes(front.substr(0, n));
    if (c->reading) {
      receive(*c, bytes);
    } else {
      c->kernel += bytes;
    }
    bytes_out_ += n;
    core_.sent(id, n);
  }
}

// ReadinessDriver::settle: flush what is dirty, close what is doomed, until nothing is left.
void World::settle() {
  for (int round = 0; core_.has_pending_work(); ++round) {
    check(round < kMaxSettleRounds, "settle: still pending work after {} rounds", round);
    core_.take_dirty(batch_);
    for (ConnId id : batch_)
      if (!core_.doomed(id)) flush(id);
    core_.take_doomed(batch_);
    for (ConnId id : batch_)
      if (core_.is_open(id)) close_connection(id);
  }
}

void World::close_connection(ConnId id) {
  Client* c = client_of(id);
  if (!c) fail(fmt::format("the core closes connection {}, which the driver does not know", id));
  check(core_.doomed(id), "the core hands over {} to close but it is not doomed", c->nick);
  // What the kernel holds still reaches the peer after close(), unless the connection was reset.
  if (!c->reset && !c->peer_gone) receive(*c, c->kernel);
  c->kernel.clear();
  if (c->graceful && !c->reset && !c->peer_gone && !c->slow_dropped) {
    check(c->delivered == c->owed_at_close,
          "{} closed gracefully after receiving {} of the {} chat lines sent to its room before "
          "it started closing",
          c->nick, c->delivered, c->owed_at_close);
  }
  core_.closed(id);
  check(!core_.is_open(id), "connection {} still open after closed()", id);
  c->present = false;
  slot_of_[id] = -1;
  --current_;
}

void World::receive(Client& c, std::string_view bytes) {
  c.partial.append(bytes);
  std::size_t nl;
  while ((nl = c.partial.find('\n')) != std::string::npos) {
    const std::string line = c.partial.substr(0, nl);
    c.partial.erase(0, nl + 1);
    check_line(c, line);
  }
}

void World::check_line(Client& c, std::string_view line) {
  trace("  {} <- '{}'", c.nick, line);
  if (++c.lines_seen == 1) {
    const std::string welcome =
        fmt::format("* welcome {} (room lobby; /help for commands)", c.welcome_nick);
    check(line == welcome, "connection {}: first line '{}', expected '{}'", c.id, line, welcome);
    return;
  }
  if (line.empty()) fail(fmt::format("{} received an empty line", c.nick));
  switch (line.front()) {
    case '<': {
      check(c.delivered < c.owed.size(),
            "{} (room {}) received '{}' but no member of its room sent it a line (it got all {} "
            "owed)",
            c.nick, c.room, line, c.owed.size());
      check(line == c.owed[c.delivered],
            "{} (room {}) received '{}' where '{}' was next in order (line {} of its stream)",
            c.nick, c.room, line, c.owed[c.delivered], c.delivered);
      ++c.delivered;
      ++received_msgs_;
      return;
    }
    case '{':
      return check_stats(c, line);
    case '*':
    case '!':
      check(line.size() >= 2 && line[1] == ' ', "{} received a bad server line '{}'", c.nick, line);
      return;
    default:
      fail(fmt::format("{} received a line that is neither a chat line nor a server line: '{}'",
                       c.nick, line));
  }
}

// /stats must be a line the load generator can read, and its counters cannot run ahead of us.
void World::check_stats(const Client& c, std::string_view line) {
  const auto s = mux::StatsLine::parse(std::string(line));
  if (!s) fail(fmt::format("{}: the load generator cannot parse /stats '{}'", c.nick, line));
  check(s->text("mechanism") == "fake", "/stats mechanism is not the driver's: {}", line);
  const std::pair<const char*, std::uint64_t> bounds[] = {
      {"accepted", accepted_},   {"current", peak_},        {"peak", peak_},
      {"msgs_in", msgs_in_},     {"msgs_out", owed_total_}, {"bytes_in", bytes_in_},
      {"bytes_out", bytes_out_}, {"slow_dropped", slow_},   {"overlong_dropped", overlong_},
  };
  for (const auto& [key, most] : bounds) {
    const auto v = s->number(key);
    check(v && *v >= 0 && static_cast<std::uint64_t>(*v) <= most,
          "/stats {} is {}, more than the {} that happened: {}", key, v.value_or(-1), most, line);
  }
}

void World::check_all() {
  check(!core_.has_pending_work(), "work left after settle");
  const mux::ServerCounters& n = core_.counters();
  const std::pair<const char*, std::pair<std::uint64_t, std::uint64_t>> exact[] = {
      {"accepted", {n.accepted, accepted_}},
      {"current", {n.current, current_}},
      {"peak", {n.peak, peak_}},
      {"msgs_in", {n.msgs_in, msgs_in_}},
      {"bytes_in", {n.bytes_in, bytes_in_}},
      {"bytes_out", {n.bytes_out, bytes_out_}},
      {"overlong_dropped", {n.overlong_dropped, overlong_}},
      {"slow_dropped", {n.slow_dropped, slow_}},
  };
  for (const auto& [key, v] : exact)
    check(v.first == v.second, "counter {} is {}, the clients saw {}", key, v.first, v.second);
  check(received_msgs_ <= n.msgs_out && n.msgs_out <= owed_total_,
        "msgs_out {} is not between the {} chat lines received and the {} sent to rooms",
        n.msgs_out, received_msgs_, owed_total_);
  const std::size_t rooms_now = rooms().size();
  check(core_.room_count() <= opt_.max_rooms, "{} rooms exist, over --max-rooms {}",
        core_.room_count(), opt_.max_rooms);
  check(core_.room_count() == rooms_now, "the core has {} rooms, its clients are in {}",
        core_.room_count(), rooms_now);
  check(core_.queue_limit() == queue_limit(),
        "the core holds each queue to {} bytes, --max-outbuf {} and --max-queued-total {} over "
        "{} connections make {}",
        core_.queue_limit(), opt_.max_outbuf, opt_.max_queued_total, current_, queue_limit());
  // Every queue is at most the limit it was last held to plus one line, and that limit stays
  // within 8/7 of today's (ChatCore::update_queue_limit).
  const std::size_t held_to = queue_limit() + queue_limit() / 7 + 1;
  std::size_t queued_total = 0;
  for (Client& c : clients_) {
    if (!c.present) continue;
    queued_total += core_.output(c.id).size();
    check(core_.is_open(c.id), "{} is open for the driver but not for the core", c.nick);
    check(core_.reading(c.id) == !c.closing, "{}: the core {} reading, the model says {}", c.nick,
          core_.reading(c.id) ? "is" : "is not", c.closing ? "closing" : "open");
    const std::size_t q = core_.output(c.id).size();
    if (core_.doomed(c.id)) {
      check(q <= opt_.max_outbuf + one_line_bound(),
            "doomed {} holds {} bytes of output, more than --max-outbuf {} plus one line", c.nick,
            q, opt_.max_outbuf);
    } else {
      check(q <= std::min(opt_.max_outbuf, held_to),
            "{} holds {} bytes of output, over --max-outbuf {} or 8/7 of its share {}", c.nick, q,
            opt_.max_outbuf, queue_limit());
    }
  }
  if (opt_.max_queued_total > 0) {
    const std::size_t budget = opt_.max_queued_total + opt_.max_queued_total / 7;
    check(queued_total <= budget + current_ * one_line_bound(),
          "{} bytes queued in all, over 8/7 of --max-queued-total {} plus one line for each of "
          "{} connections",
          queued_total, opt_.max_queued_total, current_);
  }
}

// Everyone reads again: a client still in the chat must then have every line it was owed.
void World::finish() {
  for (Client& c : clients_)
    if (c.present) resume(c);
  settle();
  check_all();
  for (Client& c : clients_) {
    if (!c.present || core_.doomed(c.id) || c.closing) continue;
    check(c.delivered == c.owed.size(),
          "{} (room {}) is still connected and reading but received {} of the {} chat lines sent "
          "to it",
          c.nick, c.room, c.delivered, c.owed.size());
    check(core_.output(c.id).empty(), "{} reads but {} bytes stay queued", c.nick,
          core_.output(c.id).size());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  mux::fuzz::Input in(data, size);
  mux::ServerOptions o;
  o.max_line = 8 + in.byte() % 56;
  o.max_outbuf = 64 + 8 * static_cast<std::size_t>(in.byte());
  const unsigned char flags = in.byte();
  o.quiet = flags & 1;
  if (flags >> 6) o.max_rooms = flags >> 6;
  o.max_queued_total = 32 * std::uint64_t{in.byte()};
  World world(o, 16 * ((flags >> 1) % 32));
  world.run(in);
  return 0;
}
