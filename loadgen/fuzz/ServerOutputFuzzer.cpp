// Fuzz target: the load generator's reading of what a server prints, fed garbage. A broken or
// hostile server must be reported (a missing figure, a corrupted message, a refused status),
// never crash the load generator or pass as valid data.
//
// Input: [message size selector][line limit selector][bytes a server sent...]. The bytes are
// framed into lines as ActiveRun frames them (LineFramer; limit kMaxServerLine for 0, else
// 16 * b, so that the limit is reached), and every line goes where loadgen sends it:
//   `listening ...`  parse_listening_line (the harnesses' reading of the listening line)
//   `{...}`          StatsLine::parse, number()/text() of every counter, and minus() against
//                    the previous /stats line (WindowMeter's deltas)
//   `<NICK> text`    MessageCodec::delivery_text and decode (size = kHeader + b % 64), then an
//                    IntegrityChecker per sender
//   `! ...`          the refusal check (a "server full" line refuses a connection)
// Invariants: a decoded message re-encodes to exactly the received text (no corrupted line
// passes); encode/decode round-trips; a parsed listening line written back by the server's own
// listening_line() parses to the same fields; minus() is the exact difference or nullopt when
// that does not fit in 64 bits; the integrity counters add up to the messages received.
#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "FuzzCheck.h"
#include "IntegrityChecker.h"
#include "LineFramer.h"
#include "ListeningLine.h"
#include "MessageCodec.h"
#include "ServerControl.h"
#include "ServerSocket.h"

namespace {

using mux::fuzz::check;

constexpr const char* kCounters[] = {
    "accepted",     "refused",          "current",     "peak",       "msgs_in",    "msgs_out",
    "bytes_in",     "bytes_out",        "wait_calls",  "events",     "fds_passed", "ctl_calls",
    "slow_dropped", "overlong_dropped", "cpu_user_us", "cpu_sys_us", "fd_limit",   "syscalls",
};

class Reader {
 public:
  explicit Reader(std::size_t size) : codec_(size) {}

  void line(std::string_view line) {
    if (line.substr(0, 10) == "listening ") return listening(line);
    if (line.empty()) return;
    switch (line.front()) {
      case '{':
        return stats(line);
      case '<':
        return delivery(line);
      case '!':
        // ActiveRun's refusal test; the status keeps at most 40 characters of the line.
        if (line.find("server full") != std::string_view::npos) {
          const std::string status = line.find("FD_SETSIZE") != std::string_view::npos
                                         ? "refused:FD_SETSIZE"
                                         : "refused:" + std::string(line.substr(0, 40));
          check(status.size() <= 48, "refusal status of {} bytes", status.size());
        }
        return;
    }
  }

  void finish() {
    for (const auto& c : checkers_) {
      const mux::IntegrityCounts n = c.counts();
      check(n.duplicated + n.reordered <= c.received(),
            "integrity: {} duplicated + {} reordered of {} received", n.duplicated, n.reordered,
            c.received());
    }
  }

 private:
  void listening(std::string_view line) {
    const auto l = mux::parse_listening_line(line);
    if (!l) return;
    mux::Listener w;
    w.host = l->host;
    w.port = l->port;
    const std::string again = mux::listening_line(w, l->mechanism, l->fd_limit, l->max_conns);
    const auto back = mux::parse_listening_line(again);
    check(back && *back == *l, "listening line '{}' written back as '{}' reads differently", line,
          again);
  }

  void stats(std::string_view line) {
    auto s = mux::StatsLine::parse(std::string(line));
    if (!s) return;  // loadgen reports "unparseable /stats line"
    for (const char* key : kCounters) {
      const auto n = s->number(key);
      check(!n || s->text(key), "{}: a number without its text", key);
      if (!previous_) continue;
      const auto d = s->minus(*previous_, key);
      const auto a = previous_->number(key);
      if (!n || !a) {
        check(!d, "minus({}) without both numbers", key);
        continue;
      }
      const __int128 exact = static_cast<__int128>(*n) - *a;
      const bool fits = exact >= INT64_MIN && exact <= INT64_MAX;
      check(fits == d.has_value() && (!d || *d == exact), "minus({}) of {} and {} is wrong", key,
            *n, *a);
    }
    previous_ = std::move(s);
  }

  void delivery(std::string_view line) {
    const auto text = mux::MessageCodec::delivery_text(line);
    if (!text) return;
    const auto m = codec_.decode(*text);
    if (!m) return;  // counted as corrupted
    std::string again;
    codec_.encode(*m, again);
    check(again.size() == text->size() + 1 && again.compare(0, text->size(), *text) == 0,
          "'{}' decodes to a message that encodes as '{}'", *text, again);
    auto& c = checkers_[m->sender % checkers_.size()];
    const auto before = c.received();
    c.receive(m->seq);
    check(c.received() == before + 1, "integrity checker lost a message");
  }

  mux::MessageCodec codec_;
  std::optional<mux::StatsLine> previous_;
  std::array<mux::IntegrityChecker, 4> checkers_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  mux::fuzz::Input in(data, size);
  const std::size_t msg_size = mux::MessageCodec::kHeader + in.byte() % 64;
  const unsigned char limit = in.byte();
  const std::string stream = in.bytes(size);

  // encode/decode round trip for a message the stream's hash picks.
  const mux::MessageCodec codec(msg_size);
  const std::size_t h = std::hash<std::string>{}(stream);
  const mux::Message m{static_cast<std::uint32_t>(h), h * 31, ~h};
  std::string text;
  codec.encode(m, text);
  check(text.size() == msg_size + 1 && text.back() == '\n', "encode wrote {} bytes", text.size());
  const auto back = codec.decode(std::string_view(text).substr(0, msg_size));
  check(back && *back == m, "a message of size {} does not decode to itself", msg_size);

  Reader reader(msg_size);
  mux::LineFramer framer(limit == 0 ? mux::kMaxServerLine : 16u * limit);
  framer.feed(stream, [&](std::string_view line) {
    reader.line(line);
    return true;
  });
  reader.finish();
  return 0;
}
