// io_uring(7) in its completion model (mechanism uring-completion, `chat-uring --model
// completion`). The server never asks whether a socket is ready: it hands the kernel requests
// (accept, receive, send, close) as submission queue entries (SQEs) in a ring shared by mmap;
// the kernel performs them and posts each result as a completion (CQE) in a second shared ring.
// One io_uring_enter per loop iteration submits every request the iteration queued and waits
// for the next completions. The accept4/recv/send/close calls of the readiness model are gone.
//
// What the completion model does differently:
//  - Requests, not interest. A readiness server learns "descriptor 7 is readable" and then calls
//    recv; here one multishot IORING_OP_RECV per connection (Linux 6.0) posts a CQE carrying
//    the bytes each time data arrives, for as long as the kernel keeps it armed. A CQE without
//    IORING_CQE_F_MORE is its last (EOF, an error, no buffer, CQ overflow): we arm it again if
//    the connection lives on. Multishot IORING_OP_ACCEPT (5.19) does the same for the listener.
//  - The kernel picks the buffer. A recv armed on 10000 idle sockets must not pin 10000
//    buffers: it names a buffer group, and the kernel takes a buffer from our provided-buffer
//    ring (IORING_REGISTER_PBUF_RING, 5.19) only when bytes arrive; IORING_CQE_F_BUFFER and the
//    upper 16 bits of the CQE's flags say which. Each buffer goes back to the ring as soon as
//    the core has copied its bytes. An empty ring ends the recv with -ENOBUFS: the bytes stay in
//    the socket, the buffers are back before the next submit, and the recv is armed again
//    (counted as recv_nobufs). Nothing is dropped; order holds, as one socket's CQEs are posted
//    in order.
//  - A send's bytes belong to the kernel until its CQE. The core's queue may reallocate on
//    append, so a send takes the queued bytes into the connection's own buffer
//    (ChatCore::take_output) and the next send waits for this one's CQE: one send in flight per
//    connection, so a later send can never overtake an earlier one. A short send (the peer's
//    window is full) is submitted again from where it stopped. The queue limit (--max-outbuf, or
//    the connection's share of --max-queued-total) bounds the bytes queued behind the send in
//    flight: a peer that has not taken one send while more than the bound piled up behind it has
//    stopped reading, and is dropped. The core's flush_now cannot wait for the kernel here: it
//    starts a send at once when none is in flight (so a peer merely behind within this iteration
//    is not dropped), and otherwise lets the core drop the peer.
//  - Closing is a chain of requests, and a socket lives while a request holds it. A connection
//    closes with up to five SQEs linked by IOSQE_IO_HARDLINK (each starts when the previous one
//    ended, whatever its result; CloseChain.h): ASYNC_CANCEL of each of its requests still in
//    the kernel (the multishot recv, a send a dropped peer never took), SHUTDOWN(SHUT_WR) (the
//    FIN follows the last line, which the kernel already holds: a graceful close waits for the
//    last send's CQE), a non-blocking RECV that drains input already queued (close() of a socket
//    with unread input sends RST, and a peer that receives RST may discard our last line
//    unread), then CLOSE. A connection's slot is reused only after its last CQE, so a late CQE
//    never reaches a newer connection, even one that got the same descriptor number. A
//    connection past --max-conns gets the same chain behind a SEND of the refusal line, and no
//    slot.
//  - A cancel names its request by user_data, never by descriptor. Every idle connection keeps
//    a multishot recv armed, and the kernel keeps armed requests in a hash table keyed by
//    user_data (at most 256 buckets): by user_data it searches one bucket; by descriptor
//    (IORING_ASYNC_CANCEL_FD) it compares the file of every armed request on the ring, so each
//    close would cost in proportion to all the other connections (issue 19: with 19000 idle
//    connections, 1.4 ms of server CPU per churned connection against 0.09 ms with none).
//  - Completions run in our thread, inside io_uring_enter: IORING_SETUP_SINGLE_ISSUER (6.0)
//    promises one submitting thread and IORING_SETUP_DEFER_TASKRUN (6.1) holds the kernel's
//    completion work until we wait for events, so it never interrupts the loop mid-batch. A
//    kernel that refuses them runs without; one line on stderr at start says which and why.
//  - Out of descriptors, a multishot accept ends with -EMFILE, and re-armed at once it would
//    fail again at once (the kernel reserves the descriptor before it looks at the backlog):
//    a spin. So the pending connections are refused with the spare descriptor, as the readiness
//    servers do, and the accept is armed again only once a POLL_ADD says a connection waits.
//  - Nagle is off on every connection without a system call per connection: an accepted socket
//    inherits TCP_NODELAY from the listening socket (as in the readiness servers).
//  - SIGTERM ends the wait: a POLL_ADD on the stop signal's self-pipe completes.
//
// The counters in this model (/stats):
//  wait_calls   io_uring_enter calls that wait (= syscalls.wait): one per loop iteration, which
//               submits the iteration's SQEs and waits for at least one CQE.
//  events       CQEs processed: data received, sends done, connections accepted, closes, ...
//  fds_passed   0: no descriptor crosses per call. ctl_calls: 0: there is no interest to change.
//  syscalls     ctl: io_uring_enter calls that only submit, when the SQ fills mid-iteration;
//               accept, close, send: only the out-of-descriptors refusal (accept4 with the spare
//               descriptor, then the refusal line and its close); recv: 0; other: the spare
//               descriptor, getrusage for /stats.
//  sqes         the requests by opcode (SqeCounts): what the enters carried.
//  recv_nobufs  recvs ended for want of a provided buffer (see above).
//
// liburing 2.3 (Debian 12) lacks io_uring_setup_buf_ring: the buffer ring is mapped and
// registered by hand.
#include "CompletionDriver.h"

#include <liburing.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <deque>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "CloseChain.h"
#include "ServerSocket.h"
#include "UringPoller.h"
#include "system.h"

namespace mux {
namespace {

constexpr unsigned kSubmissionEntries = 1024;
// Multishot requests post many CQEs per SQE: a large CQ keeps the kernel off its overflow list
// (which would also end multishot requests).
constexpr unsigned kCompletionEntries = 32768;
// Provided buffers: kDefaultUringBuffers of kUringBufferBytes (ChatCore.h, where the memory
// bound reads them too).
constexpr unsigned kDefaultBuffers = kDefaultUringBuffers;
constexpr unsigned kBufferSize = kUringBufferBytes;
constexpr unsigned kBufferGroup = 0;

// The setup flags, best first; `why` says what dropping them costs (empty for the first).
struct Setup {
  unsigned flags;
  std::string_view why;
};
constexpr std::array<Setup, 3> kSetups{{
    {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, ""},
    {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN,
     "IORING_SETUP_DEFER_TASKRUN dropped: this kernel refuses it (Linux 6.1 added it); the "
     "kernel's completion work then runs whenever the loop enters the kernel, not only when it "
     "waits"},
    {0,
     "IORING_SETUP_SINGLE_ISSUER and IORING_SETUP_DEFER_TASKRUN dropped: this kernel refuses "
     "them (Linux 6.0 and 6.1 added them); the ring then locks for concurrent submitters"},
}};

// What a CQE answers, in the low byte of its user_data; the connection's slot above it.
enum class Op : std::uint8_t { kAccept, kListenerPoll, kWake, kRecv, kSend, kClose, kIgnored };

std::uint64_t tag(Op op, std::uint32_t slot = 0) {
  return (std::uint64_t{slot} << 8) | static_cast<std::uint8_t>(op);
}

class CompletionDriver final : public Driver, private Transport {
 public:
  CompletionDriver(const ServerOptions& options, std::uint64_t fd_limit)
      : fd_limit_(fd_limit),
        buffers_(options.uring_buffers ? options.uring_buffers : kDefaultBuffers),
        core_(options, *this, fd_limit) {}
  ~CompletionDriver() override;

  // Sets up the ring and the buffer ring and probes multishot recv. Returns why it cannot.
  std::optional<std::string> init();

  std::optional<std::string> listen() override;
  std::string listening_line() const override {
    return mux::listening_line(listener_, "uring-completion", fd_limit_, core_.options().max_conns);
  }
  std::uint16_t port() const override { return listener_.port; }
  std::optional<std::string> run() override;
  void request_stop() override { wake(listener_); }
  std::string stats_json() const override { return core_.stats_json(); }

 private:
  // A connection as the driver sees it. Lives in a slot from accept until its last CQE.
  struct Connection {
    int fd = -1;
    bool recv_armed = false;      // a multishot recv may still post CQEs
    bool send_in_flight = false;  // `sending` belongs to the kernel until its CQE
    bool closing = false;         // the close chain is queued; the core has forgotten it
    bool close_done = false;      // its CLOSE completed
    std::string sending;          // the bytes of the send in flight
    std::size_t acked = 0;        // of `sending`, the bytes the kernel has taken
  };
  static constexpr std::uint32_t kNoSlot = ~0u;

  void flush_now(ConnId id) override { flush(id); }
  DriverCounters driver_counters() const override;

  std::optional<std::string> setup_ring();
  std::optional<std::string> setup_buffers();
  std::optional<std::string> probe_multishot_recv();

  io_uring_sqe* next_sqe();
  void arm_accept();
  void arm_listener_poll();
  void arm_recv(std::uint32_t slot);
  void submit_send(std::uint32_t slot);

  void reap();
  void dispatch(const io_uring_cqe& cqe);
  void on_accept(const io_uring_cqe& cqe);
  void accept_while_out_of_descriptors();
  void open_connection(int fd);
  void on_recv(std::uint32_t slot, const io_uring_cqe& cqe);
  void on_send(std::uint32_t slot, const io_uring_cqe& cqe);
  char* buffer(unsigned id) { return buffer_base_ + std::size_t{id} * kBufferSize; }
  void return_buffer(unsigned id);

  void flush(ConnId id);
  void settle();
  void close_connection(ConnId id);
  void refuse_connection(int fd);
  void make_room_for_chain();
  void release_if_done(std::uint32_t slot);

  std::uint64_t fd_limit_;
  unsigned buffers_;
  ChatCore core_;
  Listener listener_;
  io_uring ring_{};
  bool ring_ready_ = false;
  std::string setup_note_;  // the flags dropped at setup, printed once by listen()
  bool stopping_ = false;

  void* map_ = MAP_FAILED;  // the buffer ring's entries, then the buffers
  std::size_t map_bytes_ = 0;
  io_uring_buf_ring* buf_ring_ = nullptr;
  char* buffer_base_ = nullptr;
  unsigned returned_ = 0;  // buffers added back to the ring, not yet published

  std::deque<Connection> slots_;  // a deque: references stay valid as it grows
  std::vector<std::uint32_t> free_slots_;
  std::vector<std::uint32_t> slot_of_;  // by descriptor: the open connection's slot

  SyscallCounts sys_;
  SqeCounts sqes_;
  std::uint64_t events_ = 0, nobufs_ = 0;
  mutable std::uint64_t stats_calls_ = 0;  // getrusage for /stats
};

CompletionDriver::~CompletionDriver() {
  // Tearing the ring down cancels every request, so the buffers are ours again after it.
  if (ring_ready_) io_uring_queue_exit(&ring_);
  for (std::size_t fd = 0; fd < slot_of_.size(); ++fd)
    if (slot_of_[fd] != kNoSlot) close(static_cast<int>(fd));
  if (map_ != MAP_FAILED) munmap(map_, map_bytes_);
}

std::optional<std::string> CompletionDriver::init() {
  if (auto why = setup_ring()) return why;
  if (auto why = setup_buffers()) return why;
  return probe_multishot_recv();
}

std::optional<std::string> CompletionDriver::setup_ring() {
  int rc = -EINVAL;
  for (const Setup& s : kSetups) {
    io_uring_params params{};
    params.flags = IORING_SETUP_CQSIZE | s.flags;
    params.cq_entries = kCompletionEntries;
    rc = io_uring_queue_init_params(kSubmissionEntries, &ring_, &params);
    if (rc != -EINVAL) {
      setup_note_ = s.why;
      break;
    }
  }
  if (rc < 0) return uring_setup_failure(-rc);
  ring_ready_ = true;
  return std::nullopt;
}

std::optional<std::string> CompletionDriver::setup_buffers() {
  if (buffers_ == 0 || buffers_ > 32768 || (buffers_ & (buffers_ - 1)) != 0)
    return fmt::format("--uring-buffers {}: not a power of two from 1 to 32768", buffers_);
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  const std::size_t ring_bytes = (buffers_ * sizeof(io_uring_buf) + page - 1) / page * page;
  map_bytes_ = ring_bytes + std::size_t{buffers_} * kBufferSize;
  map_ = mmap(nullptr, map_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map_ == MAP_FAILED) return errno_text("mmap of the provided buffers", errno);
  buf_ring_ = static_cast<io_uring_buf_ring*>(map_);
  buffer_base_ = static_cast<char*>(map_) + ring_bytes;
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uintptr_t>(map_);
  reg.ring_entries = buffers_;
  reg.bgid = kBufferGroup;
  if (int rc = io_uring_register_buf_ring(&ring_, &reg, 0); rc < 0) {
    return errno_text(
        "uring-completion unavailable: registering a provided-buffer ring "
        "(IORING_REGISTER_PBUF_RING, Linux 5.19)",
        -rc);
  }
  io_uring_buf_ring_init(buf_ring_);
  for (unsigned id = 0; id < buffers_; ++id) return_buffer(id);
  io_uring_buf_ring_advance(buf_ring_, static_cast<int>(returned_));
  returned_ = 0;
  return std::nullopt;
}

std::optional<std::string> CompletionDriver::probe_multishot_recv() {
  // One byte through a socket pair: a kernel with multishot recv answers with the byte and
  // IORING_CQE_F_MORE; one without refuses the request (EINVAL). Then EOF ends the request.
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return errno_text("socketpair", errno);
  [[maybe_unused]] const ssize_t w = write(sv[1], "x", 1);
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  io_uring_prep_recv_multishot(sqe, sv[0], nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = kBufferGroup;
  io_uring_sqe_set_data64(sqe, tag(Op::kIgnored));
  int res = -ETIME;
  unsigned flags = 0;
  for (int cqes = 0; cqes < 2; ++cqes) {
    __kernel_timespec ts{1, 0};
    io_uring_cqe* cqe = nullptr;
    if (io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr) < 0 || !cqe) break;
    if (cqes == 0) {
      res = cqe->res;
      flags = cqe->flags;
    }
    if (cqe->flags & IORING_CQE_F_BUFFER) return_buffer(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
    const bool more = cqe->flags & IORING_CQE_F_MORE;
    io_uring_cqe_seen(&ring_, cqe);
    if (!more) break;
    close(sv[1]);  // EOF: the request's last CQE
    sv[1] = -1;
  }
  io_uring_buf_ring_advance(buf_ring_, static_cast<int>(returned_));
  returned_ = 0;
  for (int fd : sv)
    if (fd >= 0) close(fd);
  if (res == 1 && (flags & IORING_CQE_F_MORE)) return std::nullopt;
  return fmt::format(
      "uring-completion unavailable: this kernel has no multishot recv into a provided-buffer "
      "ring (Linux 6.0 added it; the probe got {})",
      res < 0 ? errno_text("an error", -res) : fmt::format("{} bytes, flags {:#x}", res, flags));
}

std::optional<std::string> CompletionDriver::listen() {
  if (auto err = open_listener(core_.options(), listener_)) return err;
  if (!setup_note_.empty()) fmt::print(stderr, "uring-completion: {}\n", setup_note_);
  arm_accept();
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_poll_add(sqe, listener_.wake_read, POLLIN);
  io_uring_sqe_set_data64(sqe, tag(Op::kWake));
  ++sqes_.other;
  return std::nullopt;
}

std::optional<std::string> CompletionDriver::run() {
  while (!stopping_) {
    // The one system call of an iteration: this iteration's requests in, completions out.
    ++sys_.wait;
    const int rc = io_uring_submit_and_wait(&ring_, 1);
    if (rc < 0 && rc != -EINTR && rc != -ETIME && rc != -EBUSY)
      return errno_text("io_uring_enter", -rc);
    reap();
    settle();
  }
  return std::nullopt;
}

io_uring_sqe* CompletionDriver::next_sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (!sqe) {  // the SQ is full (a burst of connections): hand the kernel what we have
    io_uring_submit(&ring_);
    ++sys_.ctl;
    sqe = io_uring_get_sqe(&ring_);
  }
  return sqe;
}

void CompletionDriver::arm_accept() {
  io_uring_sqe* sqe = next_sqe();
  // Blocking sockets: io_uring never blocks on them, and the close chain's drain asks for
  // MSG_DONTWAIT itself.
  io_uring_prep_multishot_accept(sqe, listener_.fd, nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, tag(Op::kAccept));
  ++sqes_.accept;
}

void CompletionDriver::arm_listener_poll() {
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_poll_add(sqe, listener_.fd, POLLIN);
  io_uring_sqe_set_data64(sqe, tag(Op::kListenerPoll));
  ++sqes_.poll;
}

void CompletionDriver::arm_recv(std::uint32_t slot) {
  Connection& c = slots_[slot];
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_recv_multishot(sqe, c.fd, nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = kBufferGroup;
  io_uring_sqe_set_data64(sqe, tag(Op::kRecv, slot));
  c.recv_armed = true;
  ++sqes_.recv;
}

void CompletionDriver::submit_send(std::uint32_t slot) {
  Connection& c = slots_[slot];
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_send(sqe, c.fd, c.sending.data() + c.acked, c.sending.size() - c.acked,
                     MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, tag(Op::kSend, slot));
  c.send_in_flight = true;
  ++sqes_.send;
}

void CompletionDriver::reap() {
  unsigned head, seen = 0;
  io_uring_cqe* cqe;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    ++seen;
    dispatch(*cqe);
  }
  io_uring_cq_advance(&ring_, seen);
  events_ += seen;
  // The buffers the core has copied go back before the next submit, which re-arms any recv
  // that ran out of them.
  io_uring_buf_ring_advance(buf_ring_, static_cast<int>(returned_));
  returned_ = 0;
}

void CompletionDriver::dispatch(const io_uring_cqe& cqe) {
  const auto slot = static_cast<std::uint32_t>(cqe.user_data >> 8);
  switch (static_cast<Op>(cqe.user_data & 0xff)) {
    case Op::kAccept:
      return on_accept(cqe);
    case Op::kListenerPoll:
      return arm_accept();  // a connection waits: accept again
    case Op::kWake:
      stopping_ = true;
      return;
    case Op::kRecv:
      return on_recv(slot, cqe);
    case Op::kSend:
      return on_send(slot, cqe);
    case Op::kClose:
      slots_[slot].close_done = true;
      return release_if_done(slot);
    case Op::kIgnored:
      return;
  }
}

void CompletionDriver::on_accept(const io_uring_cqe& cqe) {
  if (cqe.res >= 0) {
    open_connection(cqe.res);
    if (!(cqe.flags & IORING_CQE_F_MORE)) arm_accept();
    return;
  }
  const int err = -cqe.res;
  if (err == EMFILE || err == ENFILE) {
    accept_while_out_of_descriptors();
  } else if (err != ECONNABORTED && err != EINTR && err != EAGAIN) {
    fmt::print(stderr, "{}\n", errno_text("io_uring accept", err));
  }
  // Re-armed now, the accept could fail again at once: wait until a connection is pending.
  if (!(cqe.flags & IORING_CQE_F_MORE)) arm_listener_poll();
}

void CompletionDriver::accept_while_out_of_descriptors() {
  // The readiness servers' answer: accept4 until the backlog is empty, refusing each connection
  // that finds no descriptor with the spare one.
  for (;;) {
    const int fd = accept4(listener_.fd, nullptr, nullptr, SOCK_CLOEXEC);
    ++sys_.accept;
    if (fd >= 0) {
      open_connection(fd);
      continue;
    }
    const int err = errno;
    if (err == EINTR || err == ECONNABORTED) continue;
    if (err != EMFILE && err != ENFILE) return;  // EAGAIN: the backlog is empty
    if (!refuse_for_want_of_descriptors(listener_, fd_limit_, sys_)) return;
    core_.count_refused();
  }
}

void CompletionDriver::open_connection(int fd) {
  if (core_.full()) return refuse_connection(fd);
  std::uint32_t slot;
  if (free_slots_.empty()) {
    slot = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
  } else {
    slot = free_slots_.back();
    free_slots_.pop_back();
  }
  slots_[slot].fd = fd;
  if (static_cast<std::size_t>(fd) >= slot_of_.size()) slot_of_.resize(fd + 1, kNoSlot);
  slot_of_[fd] = slot;
  arm_recv(slot);
  core_.open(fd);
}

void CompletionDriver::on_recv(std::uint32_t slot, const io_uring_cqe& cqe) {
  Connection& c = slots_[slot];
  const bool more = cqe.flags & IORING_CQE_F_MORE;
  if (!more) c.recv_armed = false;
  if (cqe.flags & IORING_CQE_F_BUFFER) {
    const unsigned id = cqe.flags >> IORING_CQE_BUFFER_SHIFT;
    // After the connection was doomed the core counts the bytes and discards them.
    if (cqe.res > 0 && !c.closing) core_.on_bytes(c.fd, std::string_view(buffer(id), cqe.res));
    return_buffer(id);
  }
  if (c.closing) return release_if_done(slot);
  if (cqe.res == 0) return core_.on_eof(c.fd);  // the request has ended with the stream
  if (cqe.res == -ENOBUFS) ++nobufs_;
  if (cqe.res < 0 && cqe.res != -ENOBUFS) return core_.doom(c.fd);  // ECONNRESET and friends
  // Keep reading while the connection lives, closing or not: the input of a closing connection
  // is discarded, but unread input would turn its close into a reset.
  if (!more && !core_.doomed(c.fd)) arm_recv(slot);
}

void CompletionDriver::on_send(std::uint32_t slot, const io_uring_cqe& cqe) {
  Connection& c = slots_[slot];
  c.send_in_flight = false;
  if (c.closing) return release_if_done(slot);
  if (cqe.res < 0) return core_.doom(c.fd);  // EPIPE, ECONNRESET
  c.acked += static_cast<std::size_t>(cqe.res);
  core_.sent(c.fd, static_cast<std::size_t>(cqe.res));
  if (c.acked < c.sending.size()) return submit_send(slot);  // short send: the rest, in order
  // The kernel has it all: a buffer grown by a burst goes back (OutputQueue.h), or every
  // connection would keep its largest send's allocation for as long as it lives.
  clear_and_release(c.sending);
  if (!core_.doomed(c.fd) && !core_.output(c.fd).empty()) flush(c.fd);
}

void CompletionDriver::return_buffer(unsigned id) {
  io_uring_buf_ring_add(buf_ring_, buffer(id), kBufferSize, static_cast<unsigned short>(id),
                        io_uring_buf_ring_mask(buffers_), static_cast<int>(returned_++));
}

void CompletionDriver::flush(ConnId id) {
  // One send in flight per connection: what queues meanwhile goes when its CQE comes back.
  const std::uint32_t slot = slot_of_[id];
  Connection& c = slots_[slot];
  if (c.send_in_flight || core_.output(id).empty()) return;
  core_.take_output(id, c.sending);
  c.acked = 0;
  submit_send(slot);
}

void CompletionDriver::settle() {
  core_.settle([this](ConnId id) { flush(id); }, [this](ConnId id) { close_connection(id); });
}

void CompletionDriver::close_connection(ConnId id) {
  const std::uint32_t slot = slot_of_[id];
  Connection& c = slots_[slot];
  core_.closed(id);
  slot_of_[id] = kNoSlot;
  c.closing = true;
  CloseChain chain{c.fd, std::nullopt, std::nullopt, tag(Op::kClose, slot), tag(Op::kIgnored)};
  if (c.recv_armed) chain.armed_recv = tag(Op::kRecv, slot);
  if (c.send_in_flight) chain.send_in_flight = tag(Op::kSend, slot);
  make_room_for_chain();
  queue_close_chain(ring_, chain, sqes_);
}

void CompletionDriver::refuse_connection(int fd) {
  // Past --max-conns: the refusal line, then the close chain, with no slot and nothing armed,
  // so the connection costs nothing once its CQEs are in. MSG_DONTWAIT: a fresh socket's send
  // buffer takes the line at once, and the chain must never wait on a peer.
  core_.count_refused();
  make_room_for_chain();
  io_uring_sqe* sqe = next_sqe();
  const std::string_view line = core_.full_line();
  io_uring_prep_send(sqe, fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  io_uring_sqe_set_data64(sqe, tag(Op::kIgnored));
  sqe->flags |= IOSQE_IO_HARDLINK;
  ++sqes_.send;
  queue_close_chain(ring_, {fd, std::nullopt, std::nullopt, tag(Op::kIgnored), tag(Op::kIgnored)},
                    sqes_);
}

void CompletionDriver::make_room_for_chain() {
  // A linked chain must not be split across two submits; the refusal's SEND is one more SQE.
  if (io_uring_sq_space_left(&ring_) < kCloseChainMaxSqes + 1) {
    io_uring_submit(&ring_);
    ++sys_.ctl;
  }
}

void CompletionDriver::release_if_done(std::uint32_t slot) {
  Connection& c = slots_[slot];
  if (!c.close_done || c.recv_armed || c.send_in_flight) return;
  c = Connection{};
  free_slots_.push_back(slot);
}

DriverCounters CompletionDriver::driver_counters() const {
  DriverCounters d;
  d.mechanism = "uring-completion";
  d.wait_calls = sys_.wait;
  d.events = events_;
  d.recv_nobufs = nobufs_;
  d.syscalls = sys_;
  d.syscalls.other += ++stats_calls_;
  d.sqes = sqes_;
  d.cpu = self_cpu_times();
  return d;
}

}  // namespace

std::unique_ptr<Driver> make_completion_driver(const ServerOptions& options, std::uint64_t fd_limit,
                                               std::string* error) {
  auto driver = std::make_unique<CompletionDriver>(options, fd_limit);
  if (auto why = driver->init()) {
    if (error) *error = *why;
    return nullptr;
  }
  return driver;
}

}  // namespace mux
