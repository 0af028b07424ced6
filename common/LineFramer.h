// Splits a byte stream into lines: `\n` ends a line, a `\r` just before it is dropped, every other
// byte passes through. A line longer than max_line bytes (terminator excluded) is an error the
// caller reports and then closes on, so a client cannot make the server buffer without bound.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mux {

class LineFramer {
 public:
  explicit LineFramer(std::size_t max_line) : max_line_(max_line) {}

  enum class Result { kOk, kStopped, kTooLong };

  // Feeds bytes and calls on_line(std::string_view) -> bool for each complete line; on_line
  // returns false to stop (e.g. after /quit), and the rest of `data` is discarded.
  template <class OnLine>
  Result feed(std::string_view data, OnLine&& on_line) {
    while (!data.empty()) {
      const std::size_t nl = data.find('\n');
      if (nl == std::string_view::npos) {
        // A `\r` at the end may be half of a CRLF whose `\n` comes with the next read: not
        // counted yet, or a line of exactly max_line bytes would be refused or not depending on
        // where the reads split it (found by the line_framer fuzz target).
        const std::size_t cr = data.back() == '\r' ? 1 : 0;
        if (pending_.size() + data.size() - cr > max_line_) return Result::kTooLong;
        pending_.append(data);
        return Result::kOk;
      }
      std::string_view line = data.substr(0, nl);
      data.remove_prefix(nl + 1);
      // Lines that arrive whole in one read are passed without copying.
      if (!pending_.empty()) {
        pending_.append(line);
        line = pending_;
      }
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.size() > max_line_) return Result::kTooLong;
      const bool go_on = on_line(line);
      pending_.clear();
      if (!go_on) return Result::kStopped;
    }
    return Result::kOk;
  }

  // Bytes received after the last `\n` (what a peer that half-closes mid-line leaves behind).
  std::string_view pending() const { return pending_; }
  void clear() { pending_.clear(); }

 private:
  std::size_t max_line_;
  std::string pending_;
};

}  // namespace mux
