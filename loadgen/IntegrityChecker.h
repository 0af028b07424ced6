// Checks one stream of messages (one sender as seen by one receiver) for loss, duplication and
// reordering, from sequence numbers alone. TCP through a correct chat server delivers each
// stream exactly once and in order, so every counter must stay 0 on a healthy server.
//
// A gap is remembered as missing (an interval, so a burst of loss costs one map entry); a late
// arrival that fills it is a reordering, any other old number a duplicate. What is still missing
// when the sender's final count is known (finish) is lost.
#pragma once

#include <cstdint>
#include <map>

namespace mux {

struct IntegrityCounts {
  std::uint64_t lost = 0;
  std::uint64_t duplicated = 0;
  std::uint64_t reordered = 0;
  std::uint64_t corrupted = 0;  // counted by the caller: lines the codec rejects
  std::uint64_t total() const { return lost + duplicated + reordered + corrupted; }
  IntegrityCounts& operator+=(const IntegrityCounts& o) {
    lost += o.lost;
    duplicated += o.duplicated;
    reordered += o.reordered;
    corrupted += o.corrupted;
    return *this;
  }
};

class IntegrityChecker {
 public:
  enum class Verdict { kInOrder, kGap, kReordered, kDuplicate };

  // Sequence numbers start at 0.
  Verdict receive(std::uint64_t seq);
  // The sender sent `sent` messages (0 .. sent-1) in all: whatever did not arrive is lost.
  void finish(std::uint64_t sent);

  std::uint64_t received() const { return received_; }
  // Messages expected so far: everything below the highest number seen, plus the tail once
  // finish() is called.
  std::uint64_t expected() const { return next_; }
  IntegrityCounts counts() const;

 private:
  std::uint64_t next_ = 0;  // one past the highest sequence number seen (or finished)
  std::uint64_t received_ = 0;
  std::uint64_t duplicated_ = 0;
  std::uint64_t reordered_ = 0;
  std::map<std::uint64_t, std::uint64_t> missing_;  // start -> end (exclusive)
  std::uint64_t missing_count_ = 0;
};

}  // namespace mux
