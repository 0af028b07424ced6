// Starting servers and loadgen from the tests: binaries come from $MUXBENCH_BIN (set by ctest
// to the build's bin directory). Every wait is bounded so a hung child fails the test instead
// of hanging ctest.
#pragma once

#include <sys/types.h>

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

// Parses `header\nrow\n` (what --csv-header prints) into column -> value.
std::map<std::string, std::string> parse_csv(const std::string& out);

// A loadgen --hold running in the background: stdin is a pipe that release() closes.
class HoldProcess {
 public:
  // rlimit_nofile > 0 lowers RLIMIT_NOFILE (soft and hard) in the child before exec.
  HoldProcess(const std::vector<std::string>& args, long rlimit_nofile = 0);
  ~HoldProcess();
  pid_t pid() const { return pid_; }
  // Waits for the first stdout line (the `holding ...` line); "" on timeout or exit.
  std::string wait_line(int timeout_s = 60);
  // Closes stdin, waits for exit; returns the rest of stdout and fills exit_code/err.
  Result release(int timeout_s = 60);

 private:
  pid_t pid_ = -1;
  int in_fd_ = -1, out_fd_ = -1;
  std::string err_path_;
  std::string pending_;
};

}  // namespace mux::test
