// The readiness model: a Poller (select, poll, epoll, io_uring poll) says which socket is ready,
// and this driver makes the accept4/recv/send calls itself and feeds the ChatCore. This is the
// loop every mechanism but uring-completion runs; only the Poller differs between them.
#pragma once

#include <memory>

#include "ChatCore.h"
#include "Driver.h"
#include "Poller.h"
#include "ServerSocket.h"

namespace mux {

class ReadinessDriver final : public Driver, private Transport {
 public:
  ReadinessDriver(ServerOptions options, std::unique_ptr<Poller> poller, std::uint64_t fd_limit);
  ~ReadinessDriver() override;

  std::optional<std::string> listen() override;
  std::string listening_line() const override;
  std::uint16_t port() const override { return listener_.port; }
  std::optional<std::string> run() override;
  void request_stop() override { wake(listener_); }
  std::string stats_json() const override { return core_.stats_json(); }

 private:
  void flush_now(ConnId id) override { flush(id); }
  DriverCounters driver_counters() const override;

  void accept_all();
  void on_ready(const ReadyEvent& ev);
  // hangup_reported: the event carried kHangup or kError (an edge-triggered read must then go on
  // to EOF or EAGAIN).
  void on_readable(ConnId id, bool hangup_reported);
  void flush(ConnId id);
  void update_interest(ConnId id);
  void settle();
  void close_connection(ConnId id);

  std::unique_ptr<Poller> poller_;
  std::uint64_t fd_limit_;
  ChatCore core_;
  Listener listener_;
  bool stopping_ = false;
  std::vector<std::uint8_t> interest_;  // by descriptor: what the poller is asked to watch
  std::vector<ReadyEvent> ready_;
  std::vector<char> read_buf_ = std::vector<char>(64 * 1024);
  SyscallCounts sys_;  // accept, recv, send, close, other: the wait and ctl calls are the poller's
  mutable std::uint64_t stats_calls_ = 0;  // getrusage for /stats
};

}  // namespace mux
