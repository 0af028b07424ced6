#include "ProcessHarness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace mux::test {

namespace {

std::uint64_t ms_now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

[[noreturn]] void exec_args(const std::string& binary, const std::vector<std::string>& args) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(binary.c_str()));
  for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  execv(binary.c_str(), argv.data());
  _exit(127);
}

// Reads from fd until `pending` holds a full line or the deadline passes.
std::string read_line_until(int fd, std::string& pending, std::uint64_t deadline_ms) {
  for (;;) {
    auto nl = pending.find('\n');
    if (nl != std::string::npos) {
      std::string line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      return line;
    }
    const std::uint64_t now = ms_now();
    if (now >= deadline_ms) return "";
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(deadline_ms - now)) <= 0) continue;
    char buf[4096];
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) return "";
    pending.append(buf, static_cast<std::size_t>(n));
  }
}

std::string read_all(int fd, std::uint64_t deadline_ms) {
  std::string s;
  for (;;) {
    const std::uint64_t now = ms_now();
    if (now >= deadline_ms) return s;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(deadline_ms - now)) <= 0) continue;
    char buf[4096];
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) return s;
    s.append(buf, static_cast<std::size_t>(n));
  }
}

int wait_exit(pid_t pid, std::uint64_t deadline_ms) {
  for (;;) {
    int st = 0;
    const pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (ms_now() >= deadline_ms) {
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      return -2;  // timed out
    }
    usleep(10000);
  }
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string temp_path(const char* what) {
  static int n = 0;
  return "/tmp/loadgen-test-" + std::to_string(getpid()) + "-" + what + "-" + std::to_string(n++);
}

}  // namespace

Result run_loadgen(const std::vector<std::string>& args, int timeout_s) {
  Result r;
  const std::string out_path = temp_path("out"), err_path = temp_path("err");
  const pid_t pid = fork();
  if (pid == 0) {
    const int o = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int e = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int n = open("/dev/null", O_RDONLY);
    dup2(o, STDOUT_FILENO);
    dup2(e, STDERR_FILENO);
    dup2(n, STDIN_FILENO);
    exec_args(bin_dir() + "/loadgen", args);
  }
  r.exit_code = wait_exit(pid, ms_now() + static_cast<std::uint64_t>(timeout_s) * 1000);
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  unlink(out_path.c_str());
  unlink(err_path.c_str());
  return r;
}

std::vector<std::string> children_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  std::vector<std::string> v;
  std::string s;
  while (in >> s) v.push_back(s);
  return v;
}

std::map<std::string, std::string> parse_csv(const std::string& out) {
  std::map<std::string, std::string> m;
  std::istringstream in(out);
  std::string header, row;
  if (!std::getline(in, header) || !std::getline(in, row)) return m;
  auto split = [](const std::string& s) {
    std::vector<std::string> v;
    std::string cur;
    for (char c : s) {
      if (c == ',') {
        v.push_back(cur);
        cur.clear();
      } else {
        cur += c;
      }
    }
    v.push_back(cur);
    return v;
  };
  auto h = split(header), r = split(row);
  for (std::size_t i = 0; i < h.size() && i < r.size(); ++i) m[h[i]] = r[i];
  return m;
}

PipedProcess::PipedProcess(const std::string& path, const std::vector<std::string>& args,
                           long rlimit_nofile) {
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) return;
  err_path_ = temp_path("piped-err");
  pid_ = fork();
  if (pid_ == 0) {
    if (rlimit_nofile > 0) {
      rlimit lim{static_cast<rlim_t>(rlimit_nofile), static_cast<rlim_t>(rlimit_nofile)};
      setrlimit(RLIMIT_NOFILE, &lim);
    }
    const int e = open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(in[0], STDIN_FILENO);
    dup2(out[1], STDOUT_FILENO);
    dup2(e, STDERR_FILENO);
    exec_args(path, args);
  }
  close(in[0]);
  close(out[1]);
  in_fd_ = in[1];
  out_fd_ = out[0];
}

PipedProcess::~PipedProcess() {
  if (in_fd_ >= 0) close(in_fd_);
  if (pid_ > 0) wait_exit(pid_, ms_now() + 10000);
  if (out_fd_ >= 0) close(out_fd_);
  if (!err_path_.empty()) unlink(err_path_.c_str());
}

std::string PipedProcess::wait_line(int timeout_s) {
  return read_line_until(out_fd_, pending_,
                         ms_now() + static_cast<std::uint64_t>(timeout_s) * 1000);
}

bool PipedProcess::write(const std::string& text) {
  // A child that died would otherwise kill the test with SIGPIPE instead of failing it.
  signal(SIGPIPE, SIG_IGN);
  return in_fd_ >= 0 &&
         ::write(in_fd_, text.data(), text.size()) == static_cast<ssize_t>(text.size());
}

Result PipedProcess::release(int timeout_s) {
  Result r;
  close(in_fd_);
  in_fd_ = -1;
  const std::uint64_t deadline = ms_now() + static_cast<std::uint64_t>(timeout_s) * 1000;
  r.out = pending_ + read_all(out_fd_, deadline);
  r.exit_code = wait_exit(pid_, deadline);
  pid_ = -1;
  r.err = slurp(err_path_);
  return r;
}

namespace {
std::vector<std::string> with_hold(const std::vector<std::string>& args) {
  std::vector<std::string> a = {"--hold"};
  a.insert(a.end(), args.begin(), args.end());
  return a;
}
}  // namespace

HoldProcess::HoldProcess(const std::vector<std::string>& args, long rlimit_nofile)
    : PipedProcess(bin_dir() + "/loadgen", with_hold(args), rlimit_nofile) {}

std::uint64_t num(const std::map<std::string, std::string>& row, const std::string& key) {
  auto it = row.find(key);
  return it == row.end() || it->second.empty() ? 0 : std::strtoull(it->second.c_str(), nullptr, 10);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TempPath::TempPath(const std::string& name) {
  char dir[] = "/tmp/loadgen-e2e-XXXXXX";
  if (mkdtemp(dir)) dir_ = dir;
  path_ = dir_ + "/" + name;
}

TempPath::~TempPath() {
  std::remove(path_.c_str());
  rmdir(dir_.c_str());
}

}  // namespace mux::test
