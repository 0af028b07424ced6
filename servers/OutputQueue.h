// Bytes waiting for a slow socket. The bound is the caller's: a client that stops reading must
// not grow the server's memory without limit (SPEC §2), so the core checks size() after append.
// A readiness driver sends from front() and consume()s what the kernel took; the completion
// driver take()s the bytes into a send request of its own, whose buffer must not move while the
// kernel reads it, and appends go on here meanwhile.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mux {

class OutputQueue {
 public:
  void append(std::string_view bytes) { buf_.append(bytes); }
  std::size_t size() const { return buf_.size() - head_; }
  bool empty() const { return size() == 0; }
  std::string_view front() const { return std::string_view(buf_).substr(head_); }

  // Moves every unsent byte into `into` (its old contents dropped) and empties the queue. The
  // two strings swap their allocations, so a steady stream of takes allocates nothing.
  void take(std::string& into) {
    into.clear();
    if (head_ == 0) {
      buf_.swap(into);
    } else {
      into.append(buf_, head_);
      buf_.clear();
      head_ = 0;
    }
  }

  void consume(std::size_t n) {
    head_ += n;
    if (head_ == buf_.size()) {
      buf_.clear();
      head_ = 0;
    } else if (head_ > buf_.size() / 2) {
      // Compact once the sent prefix outweighs the rest: amortised O(1) per byte.
      buf_.erase(0, head_);
      head_ = 0;
    }
  }

 private:
  std::string buf_;
  std::size_t head_ = 0;
};

}  // namespace mux
