// The chain's loop on libevent (Debian's libevent-dev, optional): one event_base forced onto one
// backend, one EV_READ | EV_PERSIST event per watched descriptor (level-triggered, as our
// epoll-lt), event_base_loop(EVLOOP_ONCE) per wait. Built only when CMake found libevent through
// pkg-config (MUXBENCH_HAVE_LIBEVENT); without it every libevent row says how to install it.
#include <sys/select.h>

#include <fmt/format.h>

#include "ChainLoop.h"

#ifdef MUXBENCH_HAVE_LIBEVENT
#include <event2/event.h>

#include <cstring>
#endif

namespace mux {

namespace {
constexpr const char* kNotInstalled = "libevent not installed: apt-get install libevent-dev";
}

// libevent's select backend keeps its own bitmaps, grown past FD_SETSIZE, but sets their bits
// with glibc's FD_SET; Debian builds libevent with _FORTIFY_SOURCE, under which FD_SET aborts the
// process ("bit out of range 0 - FD_SETSIZE on fd_set") for a descriptor >= FD_SETSIZE (seen
// here: event_add of a descriptor near 3000 with libevent 2.1.12-stable-8+deb12u1). Refused
// before event_add.
std::optional<std::string> libevent_select_refusal(int fd) {
  if (fd < FD_SETSIZE) return std::nullopt;
  return fmt::format(
      "libevent's select backend cannot watch descriptor {}: it sets its bits with glibc's "
      "FD_SET, which aborts the process past FD_SETSIZE ({}) in Debian's fortified build; "
      "refused instead",
      fd, FD_SETSIZE);
}

#ifndef MUXBENCH_HAVE_LIBEVENT

bool libevent_built() {
  return false;
}
std::string describe_libevent() {
  return kNotInstalled;
}
std::unique_ptr<ChainLoop> make_libevent_loop(std::string_view, int, std::string* why) {
  if (why) *why = kNotInstalled;
  return nullptr;
}

#else

bool libevent_built() {
  return true;
}
std::string describe_libevent() {
  return event_get_version();
}

namespace {

struct Slot {
  Chain* chain;
  std::int64_t index;
};

class LibeventChainLoop final : public ChainLoop {
 public:
  LibeventChainLoop(event_base* base, int timeout_ms) : base_(base), timeout_ms_(timeout_ms) {}
  ~LibeventChainLoop() override {
    for (event* ev : events_) event_free(ev);
    if (watchdog_) event_free(watchdog_);
    event_base_free(base_);
  }

  std::string backend() const override { return event_base_get_method(base_); }

  std::optional<std::string> watch(Chain& chain) override {
    slots_.resize(chain.size());
    events_.reserve(chain.size());
    for (std::int64_t i = 0; i < chain.size(); ++i) {
      slots_[i] = {&chain, i};
      event* ev = event_new(base_, chain.watched(i), EV_READ | EV_PERSIST, &on_read, &slots_[i]);
      if (ev == nullptr || event_add(ev, nullptr) != 0) {
        if (ev) event_free(ev);
        return fmt::format("libevent ({}): event_new/event_add failed for descriptor {}", backend(),
                           chain.watched(i));
      }
      events_.push_back(ev);
    }
    return std::nullopt;
  }

  // A blocking loop (timeout_ms > 0) gets a persistent timer as watchdog: when it fires without
  // progress since its last tick, a byte was lost and the run ends with an error instead of
  // blocking forever. It keeps the kernel's timeout finite, as our pollers' is.
  std::optional<std::string> run(Chain& chain) override {
    chain_ = &chain;
    stalled_ = false;
    last_seen_ = -1;
    if (timeout_ms_ > 0 && !arm_watchdog()) return "libevent: evtimer_add (watchdog) failed";
    const int flags = timeout_ms_ > 0 ? EVLOOP_ONCE : EVLOOP_ONCE | EVLOOP_NONBLOCK;
    std::optional<std::string> why;
    while (!chain.done() && !why) {
      const std::int64_t before = chain.events();
      const int rc = event_base_loop(base_, flags);
      ++waits_;
      if (rc < 0) {
        why = fmt::format("event_base_loop ({}) failed", backend());
      } else if (stalled_ || (timeout_ms_ == 0 && chain.events() == before)) {
        why = fmt::format(
            "libevent ({}) dispatched nothing within {} ms with {} chained bytes "
            "read of {} written: a byte was lost",
            backend(), timeout_ms_, chain.events(), chain.written());
      }
    }
    if (watchdog_) event_del(watchdog_);
    return why ? why : chain.error();
  }

 private:
  static void on_read(evutil_socket_t, short, void* arg) {
    auto* slot = static_cast<Slot*>(arg);
    slot->chain->on_readable(slot->index);
  }

  static void on_tick(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<LibeventChainLoop*>(arg);
    const std::int64_t seen = self->chain_->events();
    if (seen == self->last_seen_) {
      self->stalled_ = true;
      event_base_loopbreak(self->base_);
    }
    self->last_seen_ = seen;
  }

  bool arm_watchdog() {
    if (!watchdog_) watchdog_ = event_new(base_, -1, EV_PERSIST, &on_tick, this);
    const timeval tv{timeout_ms_ / 1000, (timeout_ms_ % 1000) * 1000};
    return watchdog_ != nullptr && event_add(watchdog_, &tv) == 0;
  }

  event_base* base_;
  int timeout_ms_;
  std::vector<Slot> slots_;
  std::vector<event*> events_;
  event* watchdog_ = nullptr;
  Chain* chain_ = nullptr;
  std::int64_t last_seen_ = -1;
  bool stalled_ = false;
};

std::string supported_methods() {
  std::string out;
  for (const char** m = event_get_supported_methods(); m && *m; ++m) {
    out += out.empty() ? *m : fmt::format(", {}", *m);
  }
  return out;
}

}  // namespace

std::unique_ptr<ChainLoop> make_libevent_loop(std::string_view method, int timeout_ms,
                                              std::string* why) {
  event_config* cfg = event_config_new();
  if (cfg == nullptr) {
    if (why) *why = "libevent: event_config_new failed";
    return nullptr;
  }
  // EVENT_NO<METHOD> in the environment must not choose the backend behind our back.
  event_config_set_flag(cfg, EVENT_BASE_FLAG_IGNORE_ENV);
  for (const char** m = event_get_supported_methods(); m && *m; ++m) {
    if (method != *m) event_config_avoid_method(cfg, *m);
  }
  event_base* base = event_base_new_with_config(cfg);
  event_config_free(cfg);
  if (base == nullptr) {
    if (why) {
      *why = fmt::format("libevent {} cannot run its {} backend here (supported: {})",
                         event_get_version(), method, supported_methods());
    }
    return nullptr;
  }
  if (method != event_base_get_method(base)) {
    if (why) {
      *why = fmt::format("libevent runs {} although every backend but {} was avoided",
                         event_base_get_method(base), method);
    }
    event_base_free(base);
    return nullptr;
  }
  return std::make_unique<LibeventChainLoop>(base, timeout_ms);
}

#endif

}  // namespace mux
