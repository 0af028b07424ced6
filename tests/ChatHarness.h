// Test support: start a chat server binary as a child process, and talk to it as a client over
// loopback. Timeouts here only turn a hang into a failure; no test asserts on timing.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace muxtest {

// Where the binaries are: $MUXBENCH_BIN (set by ctest), else ./bin.
std::string bin_dir();

// Raises this test process's descriptor limit (clients need one per connection).
void raise_own_fd_limit();

class ServerProcess {
 public:
  // Starts `binary` (a name in bin_dir()) with --port 0 plus args and waits for its listening
  // line. fd_hard_limit > 0 lowers RLIMIT_NOFILE in the child before exec.
  ServerProcess(const std::string& binary, std::vector<std::string> args,
                std::uint64_t fd_hard_limit = 0);
  ~ServerProcess();

  bool started() const { return port_ != 0; }
  bool ok() const { return started(); }
  std::uint16_t port() const { return port_; }
  const std::string& listening_line() const { return listening_; }
  std::string mechanism() const;
  pid_t pid() const { return pid_; }

  // SIGTERM, then the JSON line it prints and its exit status.
  struct Exit {
    std::string json;
    int status = -1;  // exit code, or 128+signal
  };
  Exit stop();
  // SIGKILL now: a server that dies mid-run.
  void kill_now();

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::uint16_t port_ = 0;
  std::string listening_;
  std::string pending_;
};

// A server run that is expected to exit by itself (a refused command line): its status and
// everything it printed, stdout and stderr together. Killed after 10 s if it does not exit.
struct Finished {
  int status = -1;  // exit code, or 128+signal
  std::string output;
};
Finished run_server(const std::string& binary, std::vector<std::string> args,
                    std::uint64_t fd_hard_limit = 0);

// The peak resident set of a running process (VmHWM of /proc/PID/status), KiB.
std::optional<long long> peak_rss_kib(pid_t pid);

class Client {
 public:
  explicit Client(std::uint16_t port);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  void send(const std::string& bytes);
  // The next line without its '\n', or nullopt on EOF/error/timeout.
  std::optional<std::string> line(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Reads lines until one starts with `prefix` (skipping others); nullopt if none.
  std::optional<std::string> line_starting(
      const std::string& prefix, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Sends a line and returns the next line starting with "* " or "! " or "{" (a reply).
  std::string command(const std::string& line);
  // True when the server closed the connection (EOF or reset) within the timeout.
  bool closed_by_server(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  void shutdown_write();
  void reset();  // close with SO_LINGER 0: the peer sees RST
  // Reads and discards the welcome line; returns it.
  std::string welcome() { return line().value_or(""); }

 private:
  int fd_ = -1;
  std::string buf_;
};

// TCP_NODELAY of every connected TCP socket of process `pid` (copied with pidfd_getfd), or
// nullopt when that is not permitted.
std::optional<std::vector<bool>> connected_tcp_nodelay(pid_t pid);

// Value of an integer key in a JSON object line; -1 if absent, not an integer, or not JSON.
long long json_int(const std::string& json, const std::string& key);

}  // namespace muxtest
