#include "ReadinessIo.h"

#include <sys/socket.h>

#include <cerrno>

#include <fmt/format.h>

#include "system.h"

namespace mux {

void accept_pending(Listener& l, std::uint64_t fd_limit, ChatCore& core, SyscallCounts& sys,
                    const std::function<std::optional<std::string>(int fd)>& watch) {
  for (;;) {
    const int fd = accept4(l.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    ++sys.accept;
    if (fd < 0) {
      const int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) return;
      if (err == EINTR || err == ECONNABORTED) continue;
      if ((err == EMFILE || err == ENFILE) && l.reserve_fd >= 0) {
        if (!refuse_for_want_of_descriptors(l, fd_limit, sys)) return;
        core.count_refused();
        continue;
      }
      fmt::print(stderr, "{}\n", errno_text("accept4", err));
      return;
    }
    if (core.full()) {
      core.count_refused();
      sys.close += refuse(fd, core.full_line());
      continue;
    }
    if (auto why = watch(fd)) {
      core.count_refused();
      sys.close += refuse(fd, fmt::format("! server full: {}\n", *why));
      continue;
    }
    core.open(fd);
  }
}

void send_queued(ChatCore& core, ConnId id, SyscallCounts& sys) {
  while (!core.output(id).empty()) {
    const std::string_view data = core.output(id).front();
    const ssize_t n = send(id, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    ++sys.send;
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return core.doom(id);
      return;
    }
    const bool short_write = static_cast<std::size_t>(n) < data.size();
    core.sent(id, n);
    if (short_write) return;
  }
}

}  // namespace mux
