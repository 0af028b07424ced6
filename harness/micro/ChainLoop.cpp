#include "ChainLoop.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <fmt/format.h>

#include "EpollPoller.h"
#include "PollPoller.h"
#include "Poller.h"
#include "SelectPoller.h"
#include "SocketPairPool.h"
#include "system.h"

namespace mux {

void ChainPool::close_all() {
  for (int fd : read_) close(fd);
  for (int fd : write_) close(fd);
  read_.clear();
  write_.clear();
}

int ChainPool::max_watched_fd(std::int64_t n) const {
  return *std::max_element(read_.begin(), read_.begin() + n);
}

namespace {

// Where the write ends go: above the n read ends, which start at `first` and skip every number
// already open (a descriptor inherited from the parent, as the bench's own tools run with: a
// leaked one at 251 was seen here), so that no read end has to be placed above the write ends.
int write_ends_from(int first, int moving, std::int64_t n) {
  std::int64_t end = first + n;
  for (std::int64_t fd = first + 1; fd < end; ++fd) {
    if (fd != moving && fcntl(static_cast<int>(fd), F_GETFD) >= 0) ++end;
  }
  return static_cast<int>(end);
}

}  // namespace

std::optional<std::string> ChainPool::ensure(std::int64_t n) {
  if (n <= size()) return drain(n);
  close_all();
  read_.reserve(n);
  write_.reserve(n);
  int write_base = 0;
  for (std::int64_t p = 0; p < n; ++p) {
    int sv[2];
    // Non-blocking: a read with nothing pending fails with EAGAIN instead of hanging the run.
    int err = 0;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
      err = errno;
    } else {
      if (p == 0) write_base = write_ends_from(sv[0], sv[1], n);
      // The write end moves above where the read ends will end, freeing its number for the next
      // pair's read end: read ends come out on the lowest free numbers.
      const int high = fcntl(sv[1], F_DUPFD_CLOEXEC, write_base);
      err = high < 0 ? errno : 0;
      close(sv[1]);
      if (high >= 0) {
        read_.push_back(sv[0]);
        write_.push_back(high);
      } else {
        close(sv[0]);
      }
    }
    if (err != 0) {
      const std::int64_t made = size();
      close_all();
      rlimit lim{};
      getrlimit(RLIMIT_NOFILE, &lim);
      return errno_text(fmt::format("socketpair/F_DUPFD after {} pairs (for {} chained pairs, "
                                    "2 descriptors each; open-file limit RLIMIT_NOFILE={})",
                                    made, n, lim.rlim_cur),
                        err);
    }
  }
  return std::nullopt;
}

std::optional<std::string> ChainPool::drain(std::int64_t n) {
  char buf[256];
  for (std::int64_t i = 0; i < n; ++i) {
    ssize_t got = 0;
    while ((got = read(read_[i], buf, sizeof buf)) > 0) {
    }
    if (got < 0 && errno != EAGAIN) {
      return errno_text(fmt::format("read from descriptor {}", read_[i]), errno);
    }
  }
  return std::nullopt;
}

ChainPool& shared_chain_pool() {
  static ChainPool pool;
  return pool;
}

std::optional<std::string> Chain::start(std::int64_t active, std::int64_t writes) {
  if (active < 1 || active > n_ || writes < active) {
    return fmt::format(
        "a chain needs 1 <= active <= pairs and writes >= active (active={}, "
        "pairs={}, writes={})",
        active, n_, writes);
  }
  target_ = writes;
  writes_left_ = writes - active;
  events_ = written_ = 0;
  error_.reset();
  const char byte = 'e';
  for (std::int64_t i : SocketPairPool::spread(n_, active)) {
    if (send(pool_.peer(i), &byte, 1, 0) != 1) {
      return errno_text(fmt::format("send to descriptor {} (starting the chain)", pool_.peer(i)),
                        errno);
    }
    ++written_;
  }
  return std::nullopt;
}

void Chain::on_readable(std::int64_t i) {
  char byte;
  if (recv(pool_.watched(i), &byte, 1, 0) != 1) {
    if (!error_)
      error_ = errno_text(fmt::format("recv from descriptor {}", pool_.watched(i)), errno);
    return;
  }
  ++events_;
  if (writes_left_ == 0) return;
  const std::int64_t next = i + 1 == n_ ? 0 : i + 1;
  if (send(pool_.peer(next), &byte, 1, 0) != 1) {
    if (!error_) error_ = errno_text(fmt::format("send to descriptor {}", pool_.peer(next)), errno);
    return;
  }
  --writes_left_;
  ++written_;
}

namespace {

// The servers' event loop in miniature: one wait, then the callback of each ready descriptor.
class PollerChainLoop final : public ChainLoop {
 public:
  PollerChainLoop(std::unique_ptr<Poller> poller, int timeout_ms)
      : poller_(std::move(poller)), timeout_ms_(timeout_ms) {}

  std::string backend() const override { return std::string(poller_->name()); }

  std::optional<std::string> watch(Chain& chain) override {
    for (std::int64_t i = 0; i < chain.size(); ++i) {
      const int fd = chain.watched(i);
      if (auto why = poller_->add(fd, kReadable)) return why;
      if (static_cast<std::size_t>(fd) >= index_.size()) index_.resize(fd + 1, -1);
      index_[fd] = i;
    }
    return std::nullopt;
  }

  std::optional<std::string> run(Chain& chain) override {
    while (!chain.done()) {
      if (auto why = poller_->wait(ready_, timeout_ms_)) return why;
      ++waits_;
      if (ready_.empty()) {
        return fmt::format(
            "{} reported nothing ready within {} ms with {} chained bytes read of "
            "{} written: a byte was lost",
            poller_->name(), timeout_ms_, chain.events(), chain.written());
      }
      for (const ReadyEvent& ev : ready_) {
        if (!(ev.what & kReadable)) {
          return fmt::format("{} reported descriptor {} with flags {:#x}, not readable",
                             poller_->name(), ev.fd, ev.what);
        }
        chain.on_readable(index_[ev.fd]);
      }
    }
    return chain.error();
  }

 private:
  std::unique_ptr<Poller> poller_;
  int timeout_ms_;
  std::vector<std::int64_t> index_;  // descriptor -> pair
  std::vector<ReadyEvent> ready_;
};

}  // namespace

std::unique_ptr<ChainLoop> make_poller_loop(std::string_view mechanism, int timeout_ms,
                                            std::string* why) {
  std::unique_ptr<Poller> poller;
  if (mechanism == "select") {
    poller = make_select_poller(SelectFdSet::kFixed);
  } else if (mechanism == "select-dynamic") {
    poller = make_select_poller(SelectFdSet::kDynamic);
  } else if (mechanism == "poll") {
    poller = make_poll_poller();
  } else if (mechanism == "epoll-lt" || mechanism == "epoll-et") {
    poller = make_epoll_poller(mechanism == "epoll-et", why);
    if (!poller) return nullptr;
  } else {
    if (why) *why = fmt::format("no poller named {}", mechanism);
    return nullptr;
  }
  return std::make_unique<PollerChainLoop>(std::move(poller), timeout_ms);
}

std::vector<std::int64_t> chain_counts(const std::vector<std::int64_t>& wanted,
                                       std::int64_t max_n) {
  std::vector<std::int64_t> out;
  bool cut = false;
  for (std::int64_t n : wanted) {
    if (n <= max_n) {
      out.push_back(n);
    } else {
      cut = true;
    }
  }
  if (cut && max_n > 0) out.push_back(max_n);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace mux
