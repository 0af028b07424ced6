// The chat protocol with no system call in it: rooms, nicks, commands, line framing, bounded
// output queues and the application's counters. Bytes come in (on_bytes, on_eof), lines and
// closes go out (output(), take_dirty(), take_doomed()). The sockets belong to an I/O driver:
// ReadinessDriver asks a Poller (select, poll, epoll, io_uring poll) which socket is ready and
// calls recv/send itself; CompletionDriver hands io_uring recv/send requests and is told when
// they are done. Both feed this one class, so every byte of behaviour is the same for all
// mechanisms and the figures differ only by how the bytes reach it.
//
// A connection is named by its socket descriptor (ConnId), which is unique while it is open.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "LineFramer.h"
#include "OutputQueue.h"
#include "Rooms.h"
#include "ServerCounters.h"

namespace mux {

using ConnId = int;

// --max-rooms by default: far above what a benchmark makes (a pingpong or flood run of K active
// connections uses K/2 rooms, K ≤ 512 in the sweep, plus lobby), yet a bound on a machine whose
// descriptor limit allows a million connections (65536 rooms of 32-character names: ~10 MiB).
constexpr std::size_t kDefaultMaxRooms = 65536;

// uring-completion's provided receive buffers. A chat line is far shorter than a page, and 1024
// buffers let that many connections deliver a full buffer within one iteration before the ring
// runs dry. The memory is touched only as the kernel fills it; idle connections hold none of it.
constexpr unsigned kDefaultUringBuffers = 1024;
constexpr unsigned kUringBufferBytes = 4096;

struct ServerOptions {
  std::string bind = "127.0.0.1";
  std::uint16_t port = 8002;
  bool quiet = false;
  std::size_t max_line = 4096;
  std::size_t max_outbuf = 1 << 20;
  // Bytes queued for all clients together (--max-queued-total): each connection may queue
  // min(max_outbuf, max_queued_total / connections). 0: no budget but max_outbuf's. ServerMain
  // sets it from the machine's memory unless --max-queued-total says otherwise.
  std::uint64_t max_queued_total = 0;
  // Connections served at once; one accepted beyond is refused with full_line(). 0: no cap of
  // the server's own (accept then stops only at the descriptor limit, with EMFILE's refusal).
  // ServerMain sets it from the descriptor limit unless --max-conns says otherwise.
  std::uint64_t max_conns = 0;
  // Rooms at once, lobby included: a /join that would create one more is refused.
  std::size_t max_rooms = kDefaultMaxRooms;
  // uring-completion only: buffers in its provided-buffer ring, a power of two (0: its default).
  // A hidden option, so that a test can make the ring run dry.
  unsigned uring_buffers = 0;
};

// What the core asks of its driver. Kept to what cannot be done without the kernel.
class Transport {
 public:
  // The output of `id` has outgrown queue_limit(): hand what the kernel takes now, so that only a
  // peer that really stopped reading is dropped, not one merely behind within this iteration.
  // A readiness driver sends and reports what it wrote through ChatCore::sent() before
  // returning; the completion driver, whose sends finish later, take_output()s the queue into a
  // send request when none is in flight (see ChatCore::take_output).
  virtual void flush_now(ConnId id) = 0;
  // The driver's side of /stats: mechanism, system calls, CPU time (a system call to read).
  virtual DriverCounters driver_counters() const = 0;

 protected:
  ~Transport() = default;
};

class ChatCore {
 public:
  ChatCore(ServerOptions options, Transport& transport, std::uint64_t fd_limit);
  ChatCore(const ChatCore&) = delete;
  ChatCore& operator=(const ChatCore&) = delete;

  const ServerOptions& options() const { return opt_; }

  // A new connection, already accepted and watched: welcome line, "joined" notice.
  void open(ConnId id);
  // A connection the driver had to turn away before open() (select's FD_SETSIZE, EMFILE,
  // --max-conns).
  void count_refused() { ++n_.refused; }
  // --max-conns is reached: the driver refuses the connection it has just accepted with
  // full_line() instead of open()ing it. One comparison per accept, nothing per message.
  bool full() const { return n_.current >= max_conns_; }
  // "! server full: N connections (--max-conns N)\n". Lives as long as the core, so that an
  // asynchronous send (uring-completion) may point at it.
  std::string_view full_line() const { return full_line_; }
  bool is_open(ConnId id) const { return find(id) != nullptr; }
  // The bytes one connection may queue now: min(--max-outbuf, --max-queued-total / connections),
  // recomputed when the count changes, so that an append costs one comparison.
  std::size_t queue_limit() const { return queue_limit_; }

  // What on_bytes did with the input, so the driver knows whether to read on.
  enum class Input {
    kFramed,     // lines went through; read on only where the mechanism requires it (ET)
    kDiscarded,  // the connection is closing: input is read and thrown away
    kStop,       // the connection is closing or doomed now: stop reading it
  };
  Input on_bytes(ConnId id, std::string_view bytes);
  // The peer half-closed or closed: a last line without `\n` is still a message; then the
  // connection leaves, after pending output is delivered.
  void on_eof(ConnId id);
  // The socket failed (ECONNRESET, EPIPE, ...): close at the end of the iteration.
  void doom(ConnId id);

  // Output waiting for the kernel. The driver writes from front() and reports with sent().
  const OutputQueue& output(ConnId id) const { return find(id)->out; }
  // For a driver whose sends complete later (io_uring): moves the queued output into `into`, a
  // buffer the driver keeps unchanged until the kernel has taken it all, and counts those bytes
  // in flight. sent() then reports in-flight bytes. queue_limit() bounds the bytes queued behind
  // the send in flight (so a connection holds at most about twice the bound), and a closing
  // connection closes only once nothing is queued or in flight.
  void take_output(ConnId id, std::string& into);
  // `n` bytes of output reached the kernel (taken bytes first, if any are in flight). A closing
  // connection whose output is all gone is doomed here.
  void sent(ConnId id, std::size_t n);
  // False once the connection is closing: the driver should stop asking for input (a
  // level-triggered mechanism would otherwise report EOF on every call until the last flush).
  bool reading(ConnId id) const;
  bool doomed(ConnId id) const;

  // The end of a loop iteration: output is written once per iteration, after every ready socket
  // was served, so a burst of messages to one receiver costs one send. settle() calls
  // flush(id) for every connection with new output that is not doomed, then close(id) for every
  // doomed one still open (the driver closes its socket and calls closed()); closing one may
  // queue "left" notices and a flush may find a dead peer, so it repeats until nothing is left.
  // Every driver runs this one loop; take_dirty()/take_doomed() are its steps (a test driver may
  // take them one by one), swapping with the caller's vector so that both keep their allocation.
  template <class Flush, class Close>
  void settle(Flush&& flush, Close&& close) {
    while (has_pending_work()) {
      take_dirty(settle_batch_);
      for (ConnId id : settle_batch_)
        if (!doomed(id)) flush(id);
      take_doomed(settle_batch_);
      for (ConnId id : settle_batch_)
        if (is_open(id)) close(id);
    }
  }
  bool has_pending_work() const { return !dirty_.empty() || !doomed_.empty(); }
  void take_dirty(std::vector<ConnId>& into);
  void take_doomed(std::vector<ConnId>& into);
  // The driver closed the socket of a doomed connection: it leaves its room ("left" notice).
  void closed(ConnId id);

  // The counters as one JSON line (no newline), as printed on exit and by /stats.
  std::string stats_json() const;
  const ServerCounters& counters() const { return n_; }
  std::size_t room_count() const { return rooms_.room_count(); }

 private:
  struct Connection : Member {
    ConnId id = -1;
    LineFramer in;
    OutputQueue out;
    std::size_t in_flight = 0;  // taken by take_output(), not yet reported by sent()
    bool dirty = false;         // in dirty_, for a flush before the next wait
    bool closing = false;       // close once `out` is flushed (/quit, line too long, EOF)
    bool doomed = false;        // close at the end of this loop iteration
    explicit Connection(std::size_t max_line) : in(max_line) {}
  };

  Connection* find(ConnId id) const {
    return id >= 0 && static_cast<std::size_t>(id) < conns_.size() ? conns_[id].get() : nullptr;
  }
  bool on_line(Connection& c, std::string_view line);
  void on_command(Connection& c, std::string_view cmd, std::string_view arg);
  // Queues `bytes` (one or more whole lines) to every other member of from's room.
  void broadcast(const Connection& from, std::string_view bytes, bool is_message);
  void send_line(Connection& c, std::string_view line);
  // Appends bytes then tail to c's output (one bound check for both), marking c for a flush.
  void queue(Connection& c, std::string_view bytes, std::string_view tail = {});
  void close_after_flush(Connection& c);
  void doom(Connection& c);
  // After the connection count changed: queue_limit_ for the new count. A queue is checked at
  // its next append, so one filled under a larger limit could stay above the new one while it
  // receives nothing; once the limit has fallen below 7/8 of the one every queue was last held
  // to, every queue is checked now (a scan, but at most ~8 per doubling of the count).
  void update_queue_limit();
  // Drops (as slow) every connection whose queued and in-flight output is above queue_limit_
  // after a flush, and trims the allocation of the others to it.
  void enforce_queue_limit();

  ServerOptions opt_;
  Transport& transport_;
  std::uint64_t fd_limit_;
  std::uint64_t max_conns_;  // opt_.max_conns, or "no cap" as the largest count
  std::string full_line_;
  std::size_t queue_limit_;
  // The largest limit a queue may still hold since the last enforce_queue_limit(): every queue
  // is at most this plus one line, and it stays below 8/7 of queue_limit_.
  std::size_t enforced_limit_;
  Rooms rooms_;
  std::vector<std::unique_ptr<Connection>> conns_;  // indexed by ConnId
  std::vector<ConnId> dirty_, doomed_;
  std::vector<ConnId> settle_batch_;  // settle()'s scratch list: no allocation per iteration
  std::string line_buf_;
  ServerCounters n_;
};

}  // namespace mux
