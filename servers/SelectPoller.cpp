// select(2): the caller hands the kernel bitmaps of descriptors on every call, the kernel scans
// every bit below nfds and overwrites the bitmaps with the result.
//
// What select does differently:
//  - The interest set lives in user space. We keep master copies up to date incrementally and
//    copy them on each call, because select() overwrites its arguments: a set cannot be reused
//    after the call.
//  - The cost of a call follows nfds = highest descriptor + 1, not the number of ready ones: the
//    kernel walks every bit below nfds, and we walk them again to find the ready ones.
//  - The 1024 limit is the C library's, not the kernel's. glibc's fd_set is a fixed array of
//    FD_SETSIZE (1024) bits: FD_SET on a descriptor >= 1024 writes past it, or aborts a
//    _FORTIFY_SOURCE build ("bit out of range 0 - FD_SETSIZE on fd_set"). So the default mode
//    refuses such a descriptor. The kernel's core_sys_select sizes its bitmaps from nfds (clamped
//    to the descriptor table), so `--fdset dynamic` passes a heap bitmap as large as the highest
//    descriptor, with bits set by hand instead of by the fortified macros.
#include "SelectPoller.h"

#include <sys/select.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include <fmt/format.h>

#include "system.h"

namespace mux {
namespace {

// glibc's fd_set and its macros: FD_SETSIZE bits, no more.
class FixedFdSet {
 public:
  static constexpr std::string_view kName = "select";
  FixedFdSet() { FD_ZERO(&set_); }
  static std::optional<std::string> refuse(int fd) {
    if (fd >= 0 && fd < FD_SETSIZE) return std::nullopt;
    return fmt::format("select() cannot watch descriptor {} (FD_SETSIZE is {})", fd, FD_SETSIZE);
  }
  void set(int fd) { FD_SET(fd, &set_); }
  void clear(int fd) { FD_CLR(fd, &set_); }
  bool test(int fd) const { return FD_ISSET(fd, &set_); }
  // select() overwrites its argument: each call gets a copy. glibc's fd_set is 128 bytes,
  // copied whole, whatever nfds is.
  void copy_to(FixedFdSet& out, int /*nfds*/) const { out.set_ = set_; }
  fd_set* raw() { return &set_; }

 private:
  fd_set set_;
};

// A bitmap as long as the highest descriptor needs, in the kernel's layout (an array of longs,
// bit fd % BITS of word fd / BITS).
class DynamicFdSet {
 public:
  static constexpr std::string_view kName = "select-dynamic";
  static constexpr int kBits = 8 * sizeof(unsigned long);
  static std::optional<std::string> refuse(int fd) {
    if (fd >= 0) return std::nullopt;
    return fmt::format("select() cannot watch descriptor {}", fd);
  }
  void set(int fd) {
    if (static_cast<std::size_t>(fd / kBits) >= words_.size()) words_.resize(fd / kBits + 1, 0);
    words_[fd / kBits] |= 1UL << (fd % kBits);
  }
  void clear(int fd) {
    if (static_cast<std::size_t>(fd / kBits) < words_.size())
      words_[fd / kBits] &= ~(1UL << (fd % kBits));
  }
  bool test(int fd) const {
    return static_cast<std::size_t>(fd / kBits) < words_.size() &&
           (words_[fd / kBits] >> (fd % kBits)) & 1UL;
  }
  // Only the words below nfds cross into the kernel, so only those are copied.
  void copy_to(DynamicFdSet& out, int nfds) const {
    const std::size_t n = (static_cast<std::size_t>(nfds) + kBits - 1) / kBits;
    out.words_.resize(n);
    std::copy_n(words_.begin(), std::min(n, words_.size()), out.words_.begin());
    if (n > words_.size()) std::fill(out.words_.begin() + words_.size(), out.words_.end(), 0UL);
  }
  // The kernel reads nfds bits from this address; the type is only what the prototype says.
  fd_set* raw() { return words_.empty() ? nullptr : reinterpret_cast<fd_set*>(words_.data()); }

 private:
  std::vector<unsigned long> words_;
};

template <class FdSet>
class SelectPoller final : public Poller {
 public:
  std::string_view name() const override { return FdSet::kName; }

  std::optional<std::string> add(int fd, std::uint8_t interest) override {
    if (auto why = FdSet::refuse(fd)) return why;
    if (!watched_.test(fd)) {
      watched_.set(fd);
      ++count_;
    }
    max_fd_ = std::max(max_fd_, fd);
    return modify(fd, interest);
  }

  std::optional<std::string> modify(int fd, std::uint8_t interest) override {
    if (interest & kReadable)
      read_.set(fd);
    else
      read_.clear(fd);
    if (interest & kWritable)
      write_.set(fd);
    else
      write_.clear(fd);
    return std::nullopt;
  }

  void remove(int fd) override {
    if (FdSet::refuse(fd) || !watched_.test(fd)) return;
    watched_.clear(fd);
    read_.clear(fd);
    write_.clear(fd);
    --count_;
    while (max_fd_ >= 0 && !watched_.test(max_fd_)) --max_fd_;
  }

  std::optional<std::string> do_wait(std::vector<ReadyEvent>& ready, int timeout_ms) override {
    const int nfds = max_fd_ + 1;
    read_.copy_to(rd_, nfds);
    write_.copy_to(wr_, nfds);
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    const int n = select(nfds, rd_.raw(), wr_.raw(), nullptr, timeout_ms < 0 ? nullptr : &tv);
    counters_.fds_passed += count_;
    if (n < 0) return errno == EINTR ? std::nullopt : std::optional(errno_text("select", errno));
    int left = n;  // each ready descriptor counts once per set it is ready in
    for (int fd = 0; fd < nfds && left > 0; ++fd) {
      std::uint8_t what = 0;
      if (rd_.test(fd)) what |= kReadable, --left;
      if (wr_.test(fd)) what |= kWritable, --left;
      if (what) ready.push_back({fd, what});
    }
    return std::nullopt;
  }

 private:
  FdSet read_, write_, watched_;
  FdSet rd_, wr_;  // the per-call copies select() overwrites
  int max_fd_ = -1;
  std::uint64_t count_ = 0;
};

}  // namespace

std::unique_ptr<Poller> make_select_poller(SelectFdSet kind) {
  if (kind == SelectFdSet::kDynamic) return std::make_unique<SelectPoller<DynamicFdSet>>();
  return std::make_unique<SelectPoller<FixedFdSet>>();
}

}  // namespace mux
