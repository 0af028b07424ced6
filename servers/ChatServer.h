// The chat core: listening socket, connections, rooms, line framing, bounded output queues and
// counters. Every byte of application behaviour lives here; the readiness mechanism is the
// injected Poller, which is the only thing that differs between chat-select, chat-poll and
// chat-epoll. Single-threaded: run() is the event loop, and only request_stop() may be called
// from elsewhere (a signal handler).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "LineFramer.h"
#include "OutputQueue.h"
#include "Poller.h"
#include "Rooms.h"

namespace mux {

struct ServerOptions {
  std::string bind = "127.0.0.1";
  std::uint16_t port = 8002;
  bool quiet = false;
  std::size_t max_line = 4096;
  std::size_t max_outbuf = 1 << 20;
};

struct ServerCounters {
  std::uint64_t accepted = 0, refused = 0, current = 0, peak = 0;
  std::uint64_t msgs_in = 0, msgs_out = 0, bytes_in = 0, bytes_out = 0;
  std::uint64_t slow_dropped = 0, overlong_dropped = 0;
};

class ChatServer {
 public:
  ChatServer(ServerOptions options, std::unique_ptr<Poller> poller, std::uint64_t fd_limit);
  ~ChatServer();
  ChatServer(const ChatServer&) = delete;
  ChatServer& operator=(const ChatServer&) = delete;

  // Binds and listens. Returns a message naming the address and errno on failure.
  std::optional<std::string> listen();
  // "listening 127.0.0.1:PORT mechanism=NAME fd_limit=N"
  std::string listening_line() const;
  std::uint16_t port() const { return bound_port_; }

  // Serves until request_stop(). Blocks in the poller's wait without a timeout when idle.
  // Returns an error text if the wait call itself fails.
  std::optional<std::string> run();

  // Async-signal-safe: wakes run() through a self-pipe, so a signal arriving just before the
  // wait call cannot be lost (the race a flag alone would have).
  void request_stop();

  // The counters as one JSON line (no newline), as printed on exit and by /stats.
  std::string stats_json() const;

 private:
  struct Connection : Member {
    int fd = -1;
    LineFramer in;
    OutputQueue out;
    std::uint8_t interest = 0;  // what the poller is currently asked to watch
    bool dirty = false;         // queued in dirty_ for a flush before the next wait
    bool closing = false;       // close once `out` is flushed (/quit, line too long, EOF)
    bool doomed = false;        // close at the end of this loop iteration
    explicit Connection(std::size_t max_line) : in(max_line) {}
  };

  void accept_all();
  void refuse(int fd, std::string_view line);
  void on_ready(const ReadyEvent& ev);
  void on_readable(Connection& c);
  bool on_line(Connection& c, std::string_view line);
  void on_command(Connection& c, std::string_view cmd, std::string_view arg);
  // Queues `bytes` (one or more whole lines) to every other member of from's room.
  void broadcast(const Connection& from, std::string_view bytes, bool is_message);
  void send_line(Connection& c, std::string_view line);
  // Appends bytes then tail to c's output (one bound check for both), marking c for a flush.
  void queue(Connection& c, std::string_view bytes, std::string_view tail = {});
  void flush(Connection& c);
  void close_after_flush(Connection& c);
  void doom(Connection& c);
  void update_interest(Connection& c);
  void settle();
  void close_connection(Connection& c);

  ServerOptions opt_;
  std::unique_ptr<Poller> poller_;
  std::uint64_t fd_limit_;
  int listen_fd_ = -1;
  std::uint16_t bound_port_ = 0;
  std::string bound_host_;
  int wake_read_ = -1, wake_write_ = -1;
  int reserve_fd_ = -1;  // spare descriptor given up to accept-and-refuse on EMFILE
  bool stopping_ = false;

  Rooms rooms_;
  std::vector<std::unique_ptr<Connection>> conns_;  // indexed by descriptor
  std::vector<int> dirty_, doomed_;
  std::vector<ReadyEvent> ready_;
  std::vector<char> read_buf_ = std::vector<char>(64 * 1024);
  std::string line_buf_;
  ServerCounters n_;
};

}  // namespace mux
