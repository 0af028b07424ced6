#include "KernelProbe.h"

#include <gtest/gtest.h>
#include <sys/select.h>
#include <nlohmann/json.hpp>

namespace mux {
namespace {

// What Linux does; a different answer here means the probe, not the kernel, is wrong.
TEST(KernelProbe, ObservesLinuxReadinessSemantics) {
  const KernelFacts f = probe_kernel();
  EXPECT_TRUE(f.errors.empty()) << f.errors.front();
  EXPECT_EQ(f.fd_setsize, FD_SETSIZE);
  EXPECT_EQ(f.select_lt_reports_again, true);
  EXPECT_EQ(f.poll_lt_reports_again, true);
  EXPECT_EQ(f.epoll_lt_reports_again, true);
  EXPECT_EQ(f.epoll_et_reports_once, true);
  EXPECT_EQ(f.epoll_et_reports_new_data, true);
  EXPECT_EQ(f.poll_nfds_over_rlimit_errno, "EINVAL");
  EXPECT_EQ(f.poll_nfds_at_rlimit_ok, true);
  EXPECT_EQ(f.epoll_fd_mmap_errno, "ENODEV");
  EXPECT_EQ(f.epoll_wait_readonly_buffer_errno, "EFAULT");
  if (f.rlimit_nofile > static_cast<std::uint64_t>(FD_SETSIZE)) {
    EXPECT_EQ(f.select_syscall_accepts_fd_ge_fdsetsize, true);
    EXPECT_GE(f.select_syscall_fd, FD_SETSIZE);
    EXPECT_GT(f.poll_watched_max, FD_SETSIZE);
  }
  EXPECT_NE(f.fd_set_macro_ge_fdsetsize.find("SIGABRT"), std::string::npos)
      << f.fd_set_macro_ge_fdsetsize;
}

TEST(KernelProbe, JsonKeepsTextAndWritesNullForUnmeasured) {
  KernelFacts f;
  f.kernel = "6.1 \"quoted\"\\";
  f.errors = {"line\nbreak"};
  const std::string j = to_json(f);
  EXPECT_EQ(j.find('\n'), std::string::npos) << "one line: " << j;
  const auto facts = nlohmann::json::parse(j);
  EXPECT_EQ(facts["kernel"], f.kernel);
  EXPECT_EQ(facts["errors"], nlohmann::json::array({"line\nbreak"}));
  EXPECT_TRUE(facts["select_lt_reports_again"].is_null());
  EXPECT_TRUE(facts["select_syscall_fd"].is_null());
  EXPECT_TRUE(facts["poll_watched_max"].is_null());
  EXPECT_EQ(facts["io_uring_available"], false);
  EXPECT_EQ(j.rfind(R"({"fd_setsize":0,"rlimit_nofile":0,"kernel":)", 0), 0u) << j;
}

}  // namespace
}  // namespace mux
