// Starting servers and loadgen from the tests: binaries come from $MUXBENCH_BIN (set by ctest
// to the build's bin directory). Every wait is bounded so a hung child fails the test instead
// of hanging ctest.
#pragma once

#include <sys/types.h>

#include <cstdint>

#include <map>
#include <string>
#include <vector>

#include "ChatHarness.h"

namespace mux::test {

// The chat server child process and the bin directory are the project's common test harness
// (tests/ChatHarness.h).
using muxtest::bin_dir;
using muxtest::ServerProcess;

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs loadgen with args, waits at most timeout_s, captures stdout and stderr.
Result run_loadgen(const std::vector<std::string>& args, int timeout_s = 60);

// The process ids of pid's children (/proc/PID/task/PID/children), e.g. a hold's helpers.
std::vector<std::string> children_of(pid_t pid);

// Parses `header\nrow\n` (what --csv-header prints) into column -> value.
std::map<std::string, std::string> parse_csv(const std::string& out);

// A row's integer column; 0 when it is missing or empty.
std::uint64_t num(const std::map<std::string, std::string>& row, const std::string& key);

// A file's whole text ("" when it cannot be read).
std::string read_file(const std::string& path);

// A fresh path for an output file (--histogram-out, --hlog) in a private directory, removed with
// it at scope exit.
class TempPath {
 public:
  explicit TempPath(const std::string& name);
  ~TempPath();
  TempPath(const TempPath&) = delete;
  TempPath& operator=(const TempPath&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string dir_, path_;
};

// A child process with stdin and stdout on pipes (stderr goes to a file): the tests read its
// lines, write to its stdin, and release it by closing stdin.
class PipedProcess {
 public:
  // rlimit_nofile > 0 lowers RLIMIT_NOFILE (soft and hard) in the child before exec.
  PipedProcess(const std::string& path, const std::vector<std::string>& args,
               long rlimit_nofile = 0);
  ~PipedProcess();
  PipedProcess(const PipedProcess&) = delete;
  PipedProcess& operator=(const PipedProcess&) = delete;
  pid_t pid() const { return pid_; }
  // Waits for the next stdout line; "" on timeout or exit.
  std::string wait_line(int timeout_s = 60);
  // Writes to the child's stdin; false when it cannot (the child is gone).
  bool write(const std::string& text);
  // Closes stdin, waits for exit; returns the rest of stdout and fills exit_code/err.
  Result release(int timeout_s = 60);

 private:
  pid_t pid_ = -1;
  int in_fd_ = -1, out_fd_ = -1;
  std::string err_path_;
  std::string pending_;
};

// A loadgen --hold running in the background: its first line is `holding ...`; release() makes
// it print `released ...` and exit.
class HoldProcess : public PipedProcess {
 public:
  HoldProcess(const std::vector<std::string>& args, long rlimit_nofile = 0);
};

}  // namespace mux::test
