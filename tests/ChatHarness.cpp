#include "ChatHarness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <stdexcept>

#include "Json.h"
#include "ListeningLine.h"

namespace muxtest {

using Clock = std::chrono::steady_clock;

namespace {

// Appends what arrives on fd to `into`; false on EOF, error or when the deadline passes.
bool read_some(int fd, std::string& into, Clock::time_point deadline) {
  while (Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) return false;
    into.append(buf, n);
    return true;
  }
  return false;
}

// Starts bin_dir()/binary with args, its stdout (and stderr too, when merge_stderr) into a
// pipe whose read end goes to *out_fd. Returns the child's pid, or -1.
pid_t spawn_server(const std::string& binary, std::vector<std::string> args,
                   std::uint64_t fd_hard_limit, bool merge_stderr, int* out_fd) {
  int out[2];
  if (pipe(out) != 0) return -1;
  const std::string path = bin_dir() + "/" + binary;
  args.insert(args.begin(), path);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    if (merge_stderr) dup2(out[1], STDERR_FILENO);
    close(out[0]);
    close(out[1]);
    // Only the standard descriptors: anything inherited would shift the server's fd numbers.
    for (int fd = 3; fd < 1024; ++fd) close(fd);
    if (fd_hard_limit) {
      rlimit lim{fd_hard_limit, fd_hard_limit};
      setrlimit(RLIMIT_NOFILE, &lim);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(path.c_str(), argv.data());
    _exit(127);
  }
  close(out[1]);
  *out_fd = out[0];
  return pid;
}

}  // namespace

std::string bin_dir() {
  const char* env = std::getenv("MUXBENCH_BIN");
  return env ? env : "bin";
}

void raise_own_fd_limit() {
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  setrlimit(RLIMIT_NOFILE, &lim);
}

ServerProcess::ServerProcess(const std::string& binary, std::vector<std::string> args,
                             std::uint64_t fd_hard_limit) {
  args.insert(args.begin(), {"--port", "0"});
  pid_ = spawn_server(binary, std::move(args), fd_hard_limit, false, &out_fd_);
  if (pid_ < 0) return;
  // Wait for the listening line (the harness contract, docs/protocol.md#command-line-and-output).
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  std::size_t nl;
  while ((nl = pending_.find('\n')) == std::string::npos) {
    if (!read_some(out_fd_, pending_, deadline)) return;
  }
  listening_ = pending_.substr(0, nl);
  pending_.erase(0, nl + 1);
  // parse_listening_line, not std::stoi after the first ':', which threw (ending the test
  // binary) on "[::1]:PORT" or a garbage port; the server_output fuzz target checks the parser.
  if (auto l = mux::parse_listening_line(listening_)) port_ = l->port;
}

ServerProcess::~ServerProcess() {
  kill_now();
  if (out_fd_ >= 0) close(out_fd_);
}

void ServerProcess::kill_now() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

std::string ServerProcess::mechanism() const {
  const auto at = listening_.find("mechanism=");
  if (at == std::string::npos) return "";
  const auto end = listening_.find(' ', at);
  return listening_.substr(at + 10, end - at - 10);
}

ServerProcess::Exit ServerProcess::stop() {
  Exit e;
  if (pid_ <= 0) return e;
  kill(pid_, SIGTERM);
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  std::string all = pending_;
  while (read_some(out_fd_, all, deadline)) {
  }
  int status = 0;
  if (Clock::now() >= deadline) kill(pid_, SIGKILL);
  waitpid(pid_, &status, 0);
  pid_ = -1;
  e.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  const auto brace = all.find('{');
  if (brace != std::string::npos) e.json = all.substr(brace, all.find('\n', brace) - brace);
  return e;
}

Finished run_server(const std::string& binary, std::vector<std::string> args,
                    std::uint64_t fd_hard_limit) {
  Finished f;
  args.insert(args.begin(), {"--port", "0"});
  int out_fd = -1;
  const pid_t pid = spawn_server(binary, std::move(args), fd_hard_limit, true, &out_fd);
  if (pid < 0) return f;
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (read_some(out_fd, f.output, deadline)) {
  }
  close(out_fd);
  if (Clock::now() >= deadline) kill(pid, SIGKILL);  // it served instead of exiting
  int status = 0;
  waitpid(pid, &status, 0);
  f.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return f;
}

std::optional<long long> peak_rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  long long kib = 0;
  while (in >> key) {
    if (key == "VmHWM:" && in >> kib) return kib;
    in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return std::nullopt;
}

Client::Client(std::uint16_t port) {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd_);
    fd_ = -1;
  }
}

Client::~Client() {
  if (fd_ >= 0) close(fd_);
}

void Client::send(const std::string& bytes) {
  std::size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      throw std::runtime_error(std::string("send failed: ") + std::strerror(errno));
    }
    off += n;
  }
}

std::optional<std::string> Client::line(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const auto nl = buf_.find('\n');
    if (nl != std::string::npos) {
      std::string l = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      return l;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    pollfd p{fd_, POLLIN, 0};
    // Always look once, so that a zero timeout means "whatever has arrived", not "nothing".
    if (poll(&p, 1, static_cast<int>(std::max<long long>(left, 0))) <= 0) {
      if (left <= 0) return std::nullopt;
      continue;
    }
    char buf[65536];
    const ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return std::nullopt;
    buf_.append(buf, n);
  }
}

std::optional<std::string> Client::line_starting(const std::string& prefix,
                                                 std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    auto l = line(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
    if (!l) return std::nullopt;
    if (l->rfind(prefix, 0) == 0) return l;
  }
  return std::nullopt;
}

std::string Client::command(const std::string& l) {
  send(l + "\n");
  for (;;) {
    auto r = line();
    if (!r) return "<no reply>";
    if (r->rfind("* ", 0) == 0 || r->rfind("! ", 0) == 0 || r->rfind("{", 0) == 0) {
      // Notices about other members are not replies.
      if (r->size() > 7 && (r->ends_with(" joined") || r->ends_with(" left"))) continue;
      return *r;
    }
  }
}

bool Client::closed_by_server(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char buf[65536];
    const ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return true;
  }
  return false;
}

void Client::shutdown_write() {
  ::shutdown(fd_, SHUT_WR);
}

void Client::reset() {
  linger l{1, 0};
  setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(fd_);
  fd_ = -1;
}

std::optional<std::vector<bool>> connected_tcp_nodelay(pid_t pid) {
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) return std::nullopt;
  std::vector<bool> result;
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = opendir(dir.c_str());
  if (!d) {
    close(pidfd);
    return std::nullopt;
  }
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    const int target = std::atoi(e->d_name);
    const int fd = static_cast<int>(syscall(SYS_pidfd_getfd, pidfd, target, 0));
    if (fd < 0) {
      closedir(d);
      close(pidfd);
      return std::nullopt;
    }
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    int type = 0;
    socklen_t tlen = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) == 0 && type == SOCK_STREAM &&
        getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) == 0 &&
        (peer.ss_family == AF_INET || peer.ss_family == AF_INET6)) {
      int nodelay = 0;
      socklen_t nlen = sizeof nodelay;
      getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &nlen);
      result.push_back(nodelay != 0);
    }
    close(fd);
  }
  closedir(d);
  close(pidfd);
  return result;
}

long long json_int(const std::string& json, const std::string& key) {
  const auto doc = mux::parse_json(json);
  const auto* o = std::get_if<nlohmann::json>(&doc);
  if (!o || !o->is_object()) return -1;
  const auto it = o->find(key);
  return it != o->end() && it->is_number_integer() ? it->get<long long>() : -1;
}

}  // namespace muxtest
