// Fuzz target: the line framer (common/LineFramer.h) against a byte-at-a-time model of
// docs/protocol.md#the-chat-protocol.
//
// Input: [max_line selector][stop selector][cut count k][k chunk lengths][stream...]. The stream
// is fed in chunks of those lengths (cyclically; a 0 feeds an empty chunk), as reads from a
// socket would split it. Invariant: however the stream is split, the framer yields exactly the
// model's lines, in order, then the model's outcome (too long / stopped / ok with the same
// unfinished tail). The model: `\n` ends a line, one `\r` before it is dropped, and a line of
// more than max_line bytes (terminator excluded) is an error as soon as that is certain.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "FuzzCheck.h"
#include "LineFramer.h"

namespace {

using mux::LineFramer;
using mux::fuzz::check;

struct Outcome {
  std::vector<std::string> lines;
  LineFramer::Result result = LineFramer::Result::kOk;
  std::string pending;  // the unfinished line when result is kOk
};

const char* name(LineFramer::Result r) {
  switch (r) {
    case LineFramer::Result::kOk:
      return "ok";
    case LineFramer::Result::kStopped:
      return "stopped";
    case LineFramer::Result::kTooLong:
      return "too long";
  }
  return "?";
}

// The spec, one byte at a time. stop_after: on_line returns false for that line (0 = never).
Outcome model(std::string_view stream, std::size_t max_line, std::size_t stop_after) {
  Outcome o;
  std::string cur;
  for (char ch : stream) {
    if (ch != '\n') {
      cur += ch;
      // Certain once it cannot shrink to max_line bytes: a `\r` may still be dropped.
      const bool cr_may_drop = cur.size() == max_line + 1 && cur.back() == '\r';
      if (cur.size() > max_line && !cr_may_drop) {
        o.result = LineFramer::Result::kTooLong;
        return o;
      }
      continue;
    }
    if (!cur.empty() && cur.back() == '\r') cur.pop_back();
    if (cur.size() > max_line) {
      o.result = LineFramer::Result::kTooLong;
      return o;
    }
    o.lines.push_back(cur);
    cur.clear();
    if (o.lines.size() == stop_after) {
      o.result = LineFramer::Result::kStopped;
      return o;
    }
  }
  o.pending = cur;
  return o;
}

Outcome framed(std::string_view stream, std::size_t max_line, std::size_t stop_after,
               const std::vector<std::size_t>& cuts) {
  Outcome o;
  LineFramer f(max_line);
  std::size_t at = 0, cut = 0;
  do {
    const std::size_t n = cuts.empty() ? stream.size() : cuts[cut++ % cuts.size()];
    const std::string_view chunk = stream.substr(at, n);
    at += chunk.size();
    o.result = f.feed(chunk, [&](std::string_view line) {
      check(line.size() <= max_line, "framer: a line of {} bytes passed max_line {}", line.size(),
            max_line);
      check(line.find('\n') == std::string_view::npos, "framer: a line holds a newline");
      o.lines.emplace_back(line);
      return o.lines.size() != stop_after;
    });
    if (o.result != LineFramer::Result::kOk) return o;
  } while (at < stream.size());
  o.pending = std::string(f.pending());
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  mux::fuzz::Input in(data, size);
  const std::size_t max_line = 1 + in.byte() % 24;
  const std::size_t stop_after = in.byte() % 8;
  std::vector<std::size_t> cuts(in.byte() % 8);
  std::size_t total = 0;
  for (auto& c : cuts) total += c = in.byte() % 16;
  if (total == 0) cuts.clear();  // only empty chunks would never finish: feed it whole
  const std::string stream = in.bytes(size);

  const Outcome want = model(stream, max_line, stop_after);
  const Outcome got = framed(stream, max_line, stop_after, cuts);
  check(got.lines.size() == want.lines.size(),
        "framer (max_line {}, {} cuts): {} lines, the spec says {}; outcome {} vs {}", max_line,
        cuts.size(), got.lines.size(), want.lines.size(), name(got.result), name(want.result));
  for (std::size_t i = 0; i < want.lines.size(); ++i)
    check(got.lines[i] == want.lines[i], "framer: line {} is '{}', the spec says '{}'", i,
          got.lines[i], want.lines[i]);
  check(got.result == want.result,
        "framer (max_line {}): outcome '{}', the spec says '{}' (after {} lines; stream of {} "
        "bytes split by {} cuts)",
        max_line, name(got.result), name(want.result), got.lines.size(), stream.size(),
        cuts.size());
  check(got.pending == want.pending, "framer: unfinished line '{}', the spec says '{}'",
        got.pending, want.pending);
  return 0;
}
