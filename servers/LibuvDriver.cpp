#include "LibuvDriver.h"

#include <sys/socket.h>
#include <uv.h>

#include <cerrno>
#include <vector>

#include <fmt/format.h>

#include "ServerSocket.h"
#include "system.h"

namespace mux {
namespace {

class LibuvDriver final : public Driver, private Transport {
 public:
  LibuvDriver(ServerOptions options, std::uint64_t fd_limit)
      : fd_limit_(fd_limit), core_(std::move(options), *this, fd_limit) {}

  ~LibuvDriver() override {
    // Every handle is closed and the loop run until their close callbacks have freed them.
    for (auto& c : conns_)
      if (c) uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), &free_connection);
    if (initialised_) {
      if (server_open_) uv_close(reinterpret_cast<uv_handle_t*>(&server_), nullptr);
      if (wake_open_) uv_close(reinterpret_cast<uv_handle_t*>(&wake_), nullptr);
      uv_run(&loop_, UV_RUN_DEFAULT);
      uv_loop_close(&loop_);
    }
  }

  std::optional<std::string> init() {
    if (int rc = uv_loop_init(&loop_)) return fmt::format("uv_loop_init: {}", uv_strerror(rc));
    initialised_ = true;
    loop_.data = this;
    return std::nullopt;
  }

  std::optional<std::string> listen() override {
    // Our listening socket (the same options as every driver's: TCP_NODELAY inherited, the
    // spare descriptor) handed to libuv, which then accepts on it as for uv_tcp_bind's.
    if (auto err = open_listener(core_.options(), listener_)) return err;
    if (int rc = uv_tcp_init(&loop_, &server_); rc != 0) return uv_error("uv_tcp_init", rc);
    server_open_ = true;
    server_.data = this;
    if (int rc = uv_tcp_open(&server_, listener_.fd); rc != 0) return uv_error("uv_tcp_open", rc);
    listener_.fd = -1;  // libuv closes it with the handle
    if (int rc = uv_listen(reinterpret_cast<uv_stream_t*>(&server_), SOMAXCONN, &on_connection))
      return uv_error("uv_listen", rc);
    // The stop signal's self-pipe, watched as libuv watches any foreign descriptor.
    if (int rc = uv_poll_init(&loop_, &wake_, listener_.wake_read); rc != 0)
      return uv_error("uv_poll_init", rc);
    wake_open_ = true;
    wake_.data = this;
    if (int rc = uv_poll_start(&wake_, UV_READABLE, &on_wake)) return uv_error("uv_poll_start", rc);
    return std::nullopt;
  }

  std::string listening_line() const override {
    return mux::listening_line(listener_, "libuv", fd_limit_, core_.options().max_conns);
  }
  std::uint16_t port() const override { return listener_.port; }

  std::optional<std::string> run() override {
    // One pass of libuv's loop (one epoll_wait and its callbacks), then the core's end of
    // iteration, which writes the output the pass queued.
    while (!stopping_) {
      ++loops_;
      uv_run(&loop_, UV_RUN_ONCE);
      settle();
    }
    return std::nullopt;
  }

  void request_stop() override { wake(listener_); }
  std::string stats_json() const override { return core_.stats_json(); }

 private:
  struct Connection {
    uv_tcp_t tcp;
    uv_write_t write;
    std::string in_flight;  // the bytes of the uv_write in progress (taken from the core)
    bool writing = false;
    bool reading = false;
    ConnId id = -1;
    LibuvDriver* driver = nullptr;
  };

  static std::string uv_error(const char* what, int rc) {
    return fmt::format("{}: {}", what, uv_strerror(rc));
  }
  static LibuvDriver& of(uv_handle_t* h) { return *static_cast<LibuvDriver*>(h->loop->data); }
  static void free_connection(uv_handle_t* h) { delete static_cast<Connection*>(h->data); }

  static void on_wake(uv_poll_t* h, int, int) {
    of(reinterpret_cast<uv_handle_t*>(h)).stopping_ = true;
    uv_stop(h->loop);
  }

  static void on_connection(uv_stream_t* server, int status) {
    LibuvDriver& d = of(reinterpret_cast<uv_handle_t*>(server));
    ++d.events_;
    if (status < 0) {
      // libuv met EMFILE and already accepted-and-closed the pending connections with its own
      // spare descriptor (uv__emfile_trick): they get no refusal line, unlike our drivers'.
      if (status == UV_EMFILE || status == UV_ENFILE) d.core_.count_refused();
      return;
    }
    d.accept_one(server);
  }

  void accept_one(uv_stream_t* server) {
    auto* c = new Connection;
    c->driver = this;
    uv_tcp_init(&loop_, &c->tcp);
    c->tcp.data = c;
    ++sys_.accept;
    if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), &free_connection);
      return;
    }
    uv_os_fd_t fd = -1;
    uv_fileno(reinterpret_cast<uv_handle_t*>(&c->tcp), &fd);
    c->id = fd;
    if (core_.full()) {
      core_.count_refused();
      // The refusal line on the fresh socket, then libuv closes it.
      const std::string_view line = core_.full_line();
      [[maybe_unused]] ssize_t rc = send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      shutdown(fd, SHUT_WR);
      uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), &free_connection);
      sys_.close += 3;
      return;
    }
    if (static_cast<std::size_t>(fd) >= conns_.size()) conns_.resize(fd + 1);
    conns_[fd] = c;
    core_.open(fd);
    update_interest(*c);
  }

  static void on_alloc(uv_handle_t* h, std::size_t, uv_buf_t* buf) {
    LibuvDriver& d = of(h);
    *buf = uv_buf_init(d.read_buf_.data(), static_cast<unsigned>(d.read_buf_.size()));
  }

  static void on_read(uv_stream_t* stream, ssize_t n, const uv_buf_t* buf) {
    auto* c = static_cast<Connection*>(stream->data);
    LibuvDriver& d = *c->driver;
    ++d.events_;
    if (n == 0) return;  // EAGAIN: nothing this time
    ++d.sys_.recv;
    const ConnId id = c->id;
    if (!d.core_.is_open(id) || d.core_.doomed(id)) return;
    if (n == UV_EOF) {
      d.core_.on_eof(id);
    } else if (n < 0) {
      d.core_.doom(id);  // ECONNRESET and friends
      return;
    } else {
      d.core_.on_bytes(id, std::string_view(buf->base, static_cast<std::size_t>(n)));
    }
    if (!d.core_.doomed(id)) d.update_interest(*c);
  }

  // What the core has queued goes out with uv_try_write; what the kernel does not take at once
  // is handed to uv_write, which owns it until its callback: the core counts it in flight.
  void flush(ConnId id) {
    Connection& c = *conns_[id];
    if (c.writing) return;  // the callback of the write in flight flushes again
    while (!core_.output(id).empty()) {
      const std::string_view data = core_.output(id).front();
      uv_buf_t buf =
          uv_buf_init(const_cast<char*>(data.data()), static_cast<unsigned>(data.size()));
      const int n = uv_try_write(reinterpret_cast<uv_stream_t*>(&c.tcp), &buf, 1);
      ++sys_.send;
      if (n == UV_EAGAIN) break;
      if (n < 0) return core_.doom(id);
      core_.sent(id, static_cast<std::size_t>(n));
      if (static_cast<std::size_t>(n) < data.size()) break;
    }
    if (core_.doomed(id) || core_.output(id).empty()) return;
    core_.take_output(id, c.in_flight);
    uv_buf_t buf = uv_buf_init(c.in_flight.data(), static_cast<unsigned>(c.in_flight.size()));
    c.write.data = &c;
    if (uv_write(&c.write, reinterpret_cast<uv_stream_t*>(&c.tcp), &buf, 1, &on_written) != 0)
      return core_.doom(id);
    c.writing = true;
  }

  static void on_written(uv_write_t* req, int status) {
    auto* c = static_cast<Connection*>(req->data);
    LibuvDriver& d = *c->driver;
    ++d.events_;
    c->writing = false;
    if (status == UV_ECANCELED) return;  // the handle is closing
    const ConnId id = c->id;
    if (!d.core_.is_open(id) || d.core_.doomed(id)) return;
    if (status < 0) return d.core_.doom(id);
    d.core_.sent(id, c->in_flight.size());
    if (!d.core_.doomed(id)) d.flush(id);
  }

  void update_interest(Connection& c) {
    const bool want = core_.reading(c.id);
    if (want == c.reading) return;
    c.reading = want;
    ++ctl_calls_;
    auto* stream = reinterpret_cast<uv_stream_t*>(&c.tcp);
    if (want ? uv_read_start(stream, &on_alloc, &on_read) : uv_read_stop(stream)) core_.doom(c.id);
  }

  void settle() {
    core_.settle([this](ConnId id) { flush(id); }, [this](ConnId id) { close_connection(id); });
  }

  void close_connection(ConnId id) {
    Connection* c = conns_[id];
    conns_[id] = nullptr;
    if (c->reading) ++ctl_calls_;  // uv_close stops the reading: the last interest change
    core_.closed(id);
    // graceful_close's FIN and drain, so that unread input does not turn our last line into a
    // reset; libuv then closes the descriptor with the handle.
    shutdown(id, SHUT_WR);
    char sink[4096];
    for (int i = 0; i < 64 && recv(id, sink, sizeof sink, MSG_DONTWAIT) > 0; ++i) ++sys_.recv;
    sys_.close += 2;
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), &free_connection);
  }

  void flush_now(ConnId id) override { flush(id); }

  DriverCounters driver_counters() const override {
    DriverCounters d;
    d.mechanism = "libuv";
    d.wait_calls = loops_;  // one epoll_wait per pass of uv_run(UV_RUN_ONCE)
    d.events = events_;
    d.ctl_calls = ctl_calls_;
    d.syscalls = sys_;
    d.syscalls.wait = loops_;
    d.syscalls.other += ++stats_calls_;
    d.cpu = self_cpu_times();
    return d;
  }

  std::uint64_t fd_limit_;
  ChatCore core_;
  Listener listener_;
  uv_loop_t loop_{};
  uv_tcp_t server_{};
  uv_poll_t wake_{};
  bool initialised_ = false;
  bool server_open_ = false, wake_open_ = false;  // initialised handles: closed on destruction
  bool stopping_ = false;
  std::vector<Connection*> conns_;  // by descriptor; freed by their close callbacks
  std::vector<char> read_buf_ = std::vector<char>(64 * 1024);
  std::uint64_t loops_ = 0, events_ = 0, ctl_calls_ = 0;
  SyscallCounts sys_;
  mutable std::uint64_t stats_calls_ = 0;
};

}  // namespace

std::unique_ptr<Driver> make_libuv_driver(const ServerOptions& options, std::uint64_t fd_limit,
                                          std::string* error) {
  auto d = std::make_unique<LibuvDriver>(options, fd_limit);
  if (auto err = d->init()) {
    if (error) *error = *err;
    return nullptr;
  }
  return d;
}

}  // namespace mux
