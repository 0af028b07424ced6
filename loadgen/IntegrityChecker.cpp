#include "IntegrityChecker.h"

#include <iterator>

namespace mux {

IntegrityChecker::Verdict IntegrityChecker::receive(std::uint64_t seq) {
  ++received_;
  if (seq == next_) {
    ++next_;
    return Verdict::kInOrder;
  }
  if (seq > next_) {
    missing_.emplace(next_, seq);
    missing_count_ += seq - next_;
    next_ = seq + 1;
    return Verdict::kGap;
  }
  // seq < next_: a late arrival fills a hole, anything else was seen before.
  auto it = missing_.upper_bound(seq);
  if (it != missing_.begin()) {
    --it;
    const auto [start, end] = *it;
    if (seq >= start && seq < end) {
      missing_.erase(it);
      if (start < seq) missing_.emplace(start, seq);
      if (seq + 1 < end) missing_.emplace(seq + 1, end);
      --missing_count_;
      ++reordered_;
      return Verdict::kReordered;
    }
  }
  ++duplicated_;
  return Verdict::kDuplicate;
}

void IntegrityChecker::finish(std::uint64_t sent) {
  if (sent > next_) {
    missing_.emplace(next_, sent);
    missing_count_ += sent - next_;
    next_ = sent;
  }
}

IntegrityCounts IntegrityChecker::counts() const {
  IntegrityCounts c;
  c.lost = missing_count_;
  c.duplicated = duplicated_;
  c.reordered = reordered_;
  return c;
}

}  // namespace mux
