#include "LibeventDriver.h"

#include <event2/event.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include <fmt/format.h>

#include "ReadinessIo.h"
#include "ServerSocket.h"
#include "system.h"

namespace mux {
namespace {

// Raw events rather than bufferevents. A libevent chat server is often written with
// bufferevents, but a bufferevent brings its own input framing (evbuffer_readln) and its own
// output queue (an evbuffer): the core already frames lines and holds a bounded output queue per
// connection, and a second queue beside it would copy every byte once more and move the
// slow-reader bound out of the core. With raw events the library's part is exactly the loop,
// the backend and the event bookkeeping, which is what the comparison with our loops is about.
class LibeventDriver final : public Driver, private Transport {
 public:
  LibeventDriver(ServerOptions options, event_base* base, std::string mechanism,
                 std::uint64_t fd_limit)
      : base_(base),
        mechanism_(std::move(mechanism)),
        fd_limit_(fd_limit),
        core_(std::move(options), *this, fd_limit) {}

  ~LibeventDriver() override {
    for (std::size_t fd = 0; fd < conns_.size(); ++fd) {
      if (!conns_[fd].read) continue;
      event_free(conns_[fd].read);
      event_free(conns_[fd].write);
      close(static_cast<int>(fd));
    }
    if (accept_ev_) event_free(accept_ev_);
    if (wake_ev_) event_free(wake_ev_);
    event_base_free(base_);
  }

  std::optional<std::string> listen() override {
    if (auto err = open_listener(core_.options(), listener_)) return err;
    accept_ev_ = event_new(base_, listener_.fd, EV_READ | EV_PERSIST, &on_accept, this);
    wake_ev_ = event_new(base_, listener_.wake_read, EV_READ | EV_PERSIST, &on_wake, this);
    if (!accept_ev_ || !wake_ev_ || event_add(accept_ev_, nullptr) != 0 ||
        event_add(wake_ev_, nullptr) != 0)
      return "libevent could not watch the listening socket or the wake-up pipe";
    return std::nullopt;
  }

  std::string listening_line() const override {
    return mux::listening_line(listener_, mechanism_, fd_limit_, core_.options().max_conns);
  }
  std::uint16_t port() const override { return listener_.port; }

  std::optional<std::string> run() override {
    // One pass of the library's loop (a wait call and the callbacks of what it reported), then
    // the core's end of iteration: output is flushed once per pass, as in every other driver.
    while (!stopping_) {
      ++loops_;
      if (event_base_loop(base_, EVLOOP_ONCE) < 0)
        return fmt::format("event_base_loop ({}) failed", event_base_get_method(base_));
      settle();
    }
    return std::nullopt;
  }

  void request_stop() override { wake(listener_); }
  std::string stats_json() const override { return core_.stats_json(); }

 private:
  struct Connection {
    event* read = nullptr;
    event* write = nullptr;
    bool reading = false, writing = false;  // what is added to the base now
  };

  static void on_accept(evutil_socket_t, short, void* self) {
    static_cast<LibeventDriver*>(self)->accept_all();
  }
  static void on_wake(evutil_socket_t, short, void* self) {
    static_cast<LibeventDriver*>(self)->stopping_ = true;
  }
  static void on_readable(evutil_socket_t fd, short, void* self) {
    static_cast<LibeventDriver*>(self)->read_once(static_cast<ConnId>(fd));
  }
  static void on_writable(evutil_socket_t fd, short, void* self) {
    auto* d = static_cast<LibeventDriver*>(self);
    ++d->events_;
    if (d->core_.is_open(fd) && !d->core_.doomed(fd)) d->flush(static_cast<ConnId>(fd));
  }

  void accept_all() {
    ++events_;
    accept_pending(listener_, fd_limit_, core_, sys_, [this](int fd) {
      if (auto why = cannot_watch(fd)) return why;
      if (static_cast<std::size_t>(fd) >= conns_.size()) conns_.resize(fd + 1);
      Connection& c = conns_[fd];
      c.read = event_new(base_, fd, EV_READ | EV_PERSIST, &on_readable, this);
      c.write = event_new(base_, fd, EV_WRITE | EV_PERSIST, &on_writable, this);
      c.writing = false;
      // Only the read event: the welcome line goes out with this pass's flush, and the write
      // event is added only if the kernel does not take it (one event_add per connection).
      set(c.read, c.reading = true);
      return std::optional<std::string>();
    });
  }

  // libevent's select backend sizes its own fd_set copies past FD_SETSIZE, but it sets bits with
  // glibc's FD_SET, which Debian's fortified build checks: a descriptor >= FD_SETSIZE aborts the
  // process ("bit out of range 0 - FD_SETSIZE on fd_set", docs/peers.md). Refused here instead,
  // with chat-select's line.
  std::optional<std::string> cannot_watch(int fd) const {
    if (mechanism_ != "libevent-select" || fd < FD_SETSIZE) return std::nullopt;
    return fmt::format("select() cannot watch descriptor {} (FD_SETSIZE is {})", fd, FD_SETSIZE);
  }

  void read_once(ConnId id) {
    ++events_;
    if (!core_.is_open(id) || core_.doomed(id)) return;
    // One recv per callback: libevent's backends are level-triggered, and report the rest next
    // pass, as our level-triggered loops do.
    for (;;) {
      const ssize_t n = recv(id, read_buf_.data(), read_buf_.size(), 0);
      ++sys_.recv;
      if (n > 0) {
        if (core_.on_bytes(id, std::string_view(read_buf_.data(), n)) ==
            ChatCore::Input::kDiscarded)
          continue;
        break;
      }
      if (n == 0) {
        core_.on_eof(id);
        break;
      }
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) core_.doom(id);
      break;
    }
    // The interest follows at this pass's flush (a closing connection stops reading there), as
    // in ReadinessDriver: a /quit costs no event change before its close.
  }

  void flush(ConnId id) {
    send_queued(core_, id, sys_);
    if (!core_.doomed(id)) update_interest(id);
  }

  // The persistent read event stays added while the core reads; the write event is added only
  // while output waits for the kernel, so an idle connection costs one event in the base.
  void update_interest(ConnId id) {
    Connection& c = conns_[id];
    const bool want_read = core_.reading(id);
    const bool want_write = !core_.output(id).empty();
    if (want_read != c.reading) set(c.read, c.reading = want_read);
    if (want_write != c.writing) set(c.write, c.writing = want_write);
  }

  void set(event* ev, bool on) {
    ++ctl_calls_;
    if (on ? event_add(ev, nullptr) : event_del(ev)) {
      fmt::print(stderr, "libevent could not {} an event on descriptor {}: closing it\n",
                 on ? "add" : "delete", event_get_fd(ev));
      core_.doom(event_get_fd(ev));
    }
  }

  void settle() {
    core_.settle([this](ConnId id) { flush(id); },
                 [this](ConnId id) {
                   Connection& c = conns_[id];
                   // event_free deletes an added event first: the last interest change.
                   if (c.reading || c.writing) ++ctl_calls_;
                   event_free(c.read);
                   event_free(c.write);
                   c = Connection{};
                   core_.closed(id);
                   sys_.close += graceful_close(id);
                 });
  }

  void flush_now(ConnId id) override { flush(id); }

  DriverCounters driver_counters() const override {
    DriverCounters d;
    d.mechanism = mechanism_;
    // The library's wait calls are not ours to count: one pass of its loop makes one (a select,
    // poll or epoll_wait), and the descriptors it hands the kernel stay inside it (fds_passed 0).
    d.wait_calls = loops_;
    d.events = events_;
    d.ctl_calls = ctl_calls_;
    d.syscalls = sys_;
    d.syscalls.wait = loops_;
    d.syscalls.other += ++stats_calls_;
    d.cpu = self_cpu_times();
    return d;
  }

  event_base* base_;
  std::string mechanism_;
  std::uint64_t fd_limit_;
  ChatCore core_;
  Listener listener_;
  event* accept_ev_ = nullptr;
  event* wake_ev_ = nullptr;
  bool stopping_ = false;
  std::vector<Connection> conns_;  // by descriptor
  std::vector<char> read_buf_ = std::vector<char>(64 * 1024);
  std::uint64_t loops_ = 0, events_ = 0, ctl_calls_ = 0;
  SyscallCounts sys_;
  mutable std::uint64_t stats_calls_ = 0;
};

}  // namespace

std::unique_ptr<Driver> make_libevent_driver(std::string_view backend, const ServerOptions& options,
                                             std::uint64_t fd_limit, std::string* error) {
  event_config* config = event_config_new();
  if (!config) {
    if (error) *error = "libevent: event_config_new failed (out of memory?)";
    return nullptr;
  }
  // Every other compiled-in method is avoided, and EVENT_NO* variables are ignored, so that the
  // base runs exactly the backend this mechanism names.
  for (const char** m = event_get_supported_methods(); m && *m; ++m)
    if (backend != *m) event_config_avoid_method(config, *m);
  event_config_set_flag(config, EVENT_BASE_FLAG_IGNORE_ENV);
  event_base* base = event_base_new_with_config(config);
  event_config_free(config);
  if (!base) {
    if (error)
      *error = fmt::format(
          "libevent {} cannot run its {} backend here (event_base_new_with_config refused it; "
          "`event_get_supported_methods` lists what this build of the library has)",
          event_get_version(), backend);
    return nullptr;
  }
  if (backend != event_base_get_method(base)) {
    if (error)
      *error = fmt::format("libevent {} chose its {} backend though {} was asked for",
                           event_get_version(), event_base_get_method(base), backend);
    event_base_free(base);
    return nullptr;
  }
  return std::make_unique<LibeventDriver>(options, base, fmt::format("libevent-{}", backend),
                                          fd_limit);
}

}  // namespace mux
