// The chain family's method, after libevent's benchmark (test/bench.c), written from its
// description: n socketpairs, the read end of each watched; `active` bytes are in flight; each
// event's callback reads its byte and, while writes remain, writes one into the next pair, so
// that every byte walks the whole set; `writes` bytes are written in all (the first `active` of
// them, which start the chains, outside the timed region), so a run dispatches exactly `writes`
// events. The time per event is the run's time divided by them; registering the n descriptors
// is set-up, outside it.
//
// The callback (Chain::on_readable) is the same code whichever loop dispatches it: what differs
// between our pollers (servers/*Poller*, the chat servers' own backends) and libevent's is only
// the event loop, which is what the cross-check compares.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mux {

// n socketpairs with the read ends on the lowest free descriptor numbers and the write ends above
// them. Why not SocketPairPool's interleaved layout: select's cost follows the highest watched
// descriptor, and Debian's libevent select backend aborts on a descriptor >= FD_SETSIZE (see
// ChainLibevent.cpp), so read ends packed low keep select comparable up to ~1000 pairs.
// Owns its descriptors; single-threaded.
class ChainPool {
 public:
  ChainPool() = default;
  ChainPool(const ChainPool&) = delete;
  ChainPool& operator=(const ChainPool&) = delete;
  ~ChainPool() { close_all(); }

  // Makes the pool hold at least n pairs (rebuilding it if smaller), nothing readable. Returns
  // why not (which limit, which call failed).
  std::optional<std::string> ensure(std::int64_t n);
  std::int64_t size() const { return static_cast<std::int64_t>(read_.size()); }
  int watched(std::int64_t i) const { return read_[i]; }
  int peer(std::int64_t i) const { return write_[i]; }
  int max_watched_fd(std::int64_t n) const;
  // Reads whatever a failed run left on the first n read ends.
  std::optional<std::string> drain(std::int64_t n);

 private:
  void close_all();
  std::vector<int> read_, write_;
};

// One process-wide pool, as for SocketPairPool: rebuilt only when a larger n is asked for.
ChainPool& shared_chain_pool();

// The state of one run and the callback every loop calls.
class Chain {
 public:
  Chain(ChainPool& pool, std::int64_t n) : pool_(pool), n_(n) {}

  std::int64_t size() const { return n_; }
  int watched(std::int64_t i) const { return pool_.watched(i); }

  // Untimed: one byte into each of `active` pairs spread evenly over the n, and the count of
  // writes still to make (writes - active). Resets the counts of the previous run.
  std::optional<std::string> start(std::int64_t active, std::int64_t writes);

  // The callback: reads the byte of pair i and, while writes remain, writes one into pair i + 1
  // (wrapping). A failed read or write is kept as error() and ends the run.
  void on_readable(std::int64_t i);

  bool done() const { return events_ >= target_ || error_.has_value(); }
  std::int64_t events() const { return events_; }    // bytes read by callbacks this run
  std::int64_t written() const { return written_; }  // bytes written, the first `active` included
  const std::optional<std::string>& error() const { return error_; }

 private:
  ChainPool& pool_;
  std::int64_t n_;
  std::int64_t target_ = 0;
  std::int64_t writes_left_ = 0;
  std::int64_t events_ = 0;
  std::int64_t written_ = 0;
  std::optional<std::string> error_;
};

// An event loop dispatching Chain::on_readable.
class ChainLoop {
 public:
  virtual ~ChainLoop() = default;
  // The backend that actually runs (libevent: event_base_get_method's answer).
  virtual std::string backend() const = 0;
  // Registers the read end of every pair of the chain (set-up, untimed).
  virtual std::optional<std::string> watch(Chain& chain) = 0;
  // Dispatches until the chain is done or a wait reports nothing within the timeout.
  virtual std::optional<std::string> run(Chain& chain) = 0;
  // Wait calls made (libevent: event_base_loop calls, one backend dispatch each).
  std::int64_t waits() const { return waits_; }

 protected:
  std::int64_t waits_ = 0;
};

// Our backends, by the chat servers' mechanism names: "select" (glibc's fd_set),
// "select-dynamic", "poll", "epoll-lt", "epoll-et". timeout_ms: each wait call's (0: the kernel's
// no-registration path). nullptr and why when the name is unknown or the poller cannot be made.
std::unique_ptr<ChainLoop> make_poller_loop(std::string_view mechanism, int timeout_ms,
                                            std::string* why);

// libevent's backend `method` ("select", "poll", "epoll"), every other one avoided with
// event_config_avoid_method. nullptr and why when libevent was not built in, or the base does not
// run that method.
std::unique_ptr<ChainLoop> make_libevent_loop(std::string_view method, int timeout_ms,
                                              std::string* why);
// "2.1.12-stable" or why libevent is not available.
std::string describe_libevent();
bool libevent_built();
// Why libevent's select backend cannot watch descriptor fd, if it cannot.
std::optional<std::string> libevent_select_refusal(int fd);

// The chain counts mux-micro sweeps by default: `wanted` up to max_n pairs, and max_n itself when
// a wanted count does not fit (so the largest the limit allows is measured, and said to be).
std::vector<std::int64_t> chain_counts(const std::vector<std::int64_t>& wanted, std::int64_t max_n);

}  // namespace mux
