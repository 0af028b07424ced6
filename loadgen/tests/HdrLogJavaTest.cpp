// loadgen --hlog decoded by HdrHistogram's reference implementation (Debian's
// libhdrhistogram-java, read by HdrLogDecode.java): the same count, and min, max and percentiles
// within one bucket of the row's. Skipped, saying why, without Java or the jar; `./bench test`
// installs both.
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <optional>
#include <sstream>
#include <string>

#include "Histogram.h"
#include "Json.h"
#include "ProcessHarness.h"

namespace mux::test {
namespace {

constexpr const char* kJar = "/usr/share/java/hdrhistogram.jar";

// Runs a shell command; its stdout and stderr, and its exit status (-1 when it cannot run).
std::pair<int, std::string> shell(const std::string& command) {
  std::string out;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (!p) return {-1, ""};
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::optional<std::string> java_unavailable() {
  if (access(kJar, R_OK) != 0) {
    return std::string(kJar) + " is missing: apt-get install libhdrhistogram-java";
  }
  // The single-file source launch needs the JDK's compiler module, not only a JRE.
  const auto [rc, modules] = shell("java --list-modules");
  if (rc != 0 || modules.find("jdk.compiler") == std::string::npos) {
    return "no java with the jdk.compiler module: apt-get install default-jdk-headless";
  }
  return std::nullopt;
}

// HdrLogDecode's "name value" lines.
std::map<std::string, double> decode(const std::string& hlog, std::string& output) {
  const auto [rc, out] = shell(std::string("java -cp ") + kJar + " " + HDRLOG_DECODER + " " + hlog);
  output = out;
  std::map<std::string, double> values;
  if (rc != 0) return values;
  std::istringstream in(out);
  std::string name;
  double v = 0;
  while (in >> name >> v) values[name] = v;
  return values;
}

// Within the histogram's precision: HdrHistogram reports a bucket's highest equivalent value,
// the row its midpoint (or the exact extreme), so they differ by at most one bucket; 1 % on top.
void expect_close(double java_ns, double row_us, const char* what) {
  const double row_ns = row_us * 1000;
  const double bucket = static_cast<double>(
      Histogram::width_of(Histogram::index_of(static_cast<std::uint64_t>(row_ns))));
  EXPECT_LE(std::abs(java_ns - row_ns), 0.01 * row_ns + bucket)
      << what << ": java " << java_ns << " ns, row " << row_us << " us";
}

TEST(HdrLogJava, ReferenceDecoderReadsTheRowsPercentiles) {
  if (auto why = java_unavailable()) GTEST_SKIP() << *why;
  ServerProcess server("chat-epoll", {"--quiet"});
  ASSERT_TRUE(server.ok());
  const TempPath hlog("latency.hlog");
  Result r = run_loadgen({"--port", std::to_string(server.port()), "--mode", "rate", "--rate",
                          "3000", "--active", "4", "--warmup", "0.2", "--duration", "1.5",
                          "--interval", "0.5", "--hlog", hlog.path(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto parsed = parse_json(r.out);
  ASSERT_TRUE(std::holds_alternative<nlohmann::json>(parsed)) << r.out;
  const auto& row = std::get<nlohmann::json>(parsed);

  std::string output;
  auto got = decode(hlog.path(), output);
  ASSERT_TRUE(got.count("count")) << output << "\n" << read_file(hlog.path());
  EXPECT_EQ(got["intervals"], 3) << read_file(hlog.path());
  EXPECT_EQ(got["significant_digits"], 2);
  EXPECT_EQ(static_cast<std::uint64_t>(got["count"]), row["msgs"].get<std::uint64_t>());
  expect_close(got["max"], row["max_us"].get<double>(), "max");
  expect_close(got["p50"], row["p50_us"].get<double>(), "p50");
  expect_close(got["p99"], row["p99_us"].get<double>(), "p99");
  expect_close(got["p999"], row["p999_us"].get<double>(), "p99.9");
}

}  // namespace
}  // namespace mux::test
