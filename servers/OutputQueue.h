// Bytes waiting for a slow socket. The bound is the caller's: a client that stops reading must
// not grow the server's memory without limit (docs/protocol.md#bad-input-harms-no-one-else), so the
// core checks size() after append. A readiness driver sends from front() and consume()s what the
// kernel took; the completion driver take()s the bytes into a send request of its own, whose buffer
// must not move while the kernel reads it, and appends go on here meanwhile.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mux {

// What a drained buffer keeps of its allocation. A chat line is at most --max-line (4 KiB by
// default) plus its prefix, so a steady stream of lines drains and refills within this without
// a malloc and free per flush; above it the allocation was grown by a burst or a slow reader and
// goes back, or 20000 drained connections would keep 2 MiB each (the capacity std::string
// doubled to while the queue grew to 1 MiB).
constexpr std::size_t kRetainedCapacity = 16 * 1024;

// Empties `s`, and frees its allocation if it is larger than kRetainedCapacity.
inline void clear_and_release(std::string& s) {
  if (s.capacity() > kRetainedCapacity) {
    std::string().swap(s);
  } else {
    s.clear();
  }
}

class OutputQueue {
 public:
  void append(std::string_view bytes) { buf_.append(bytes); }
  std::size_t size() const { return buf_.size() - head_; }
  bool empty() const { return size() == 0; }
  std::string_view front() const { return std::string_view(buf_).substr(head_); }

  // Moves every unsent byte into `into` (its old contents dropped) and empties the queue. The
  // two strings swap their allocations, so a steady stream of takes allocates nothing; the queue
  // keeps `into`'s old allocation only up to kRetainedCapacity.
  void take(std::string& into) {
    into.clear();
    if (head_ == 0) {
      buf_.swap(into);
      clear_and_release(buf_);
    } else {
      into.append(buf_, head_);
      clear_and_release(buf_);
      head_ = 0;
    }
  }

  // Drops the sent prefix and any allocation beyond the unsent bytes: a queue that grew under a
  // larger limit than it is held to now (ChatCore::enforce_queue_limit) keeps no more.
  void shrink_to_fit() {
    if (buf_.capacity() <= kRetainedCapacity) return;
    std::string(front()).swap(buf_);
    head_ = 0;
  }

  std::size_t capacity() const { return buf_.capacity(); }

  void consume(std::size_t n) {
    head_ += n;
    if (head_ == buf_.size()) {
      clear_and_release(buf_);
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
