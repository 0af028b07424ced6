#include "RunResult.h"

#include <gtest/gtest.h>

#include "ServerControl.h"

namespace mux {
namespace {

TEST(RunResult, ColumnsFollowTheContractInOrder) {
  const std::string contract =
      "mechanism,mode,idle,idle_open,refused,active,size,rate,warmup_s,duration_s,msgs,"
      "throughput_msgs_s,p50_us,p90_us,p99_us,p999_us,max_us,mean_us,lost,duplicated,reordered,"
      "corrupted,server_cpu_us_per_msg,loadgen_cpu_pct,status,server_wait_calls,server_events,"
      "server_fds_passed,server_ctl_calls,server_cpu_us,label";
  EXPECT_EQ(csv_header().substr(0, contract.size()), contract);
  EXPECT_EQ(csv_header().substr(contract.size()), ",server_cpu_pct,idle_open_s,conns_per_s");
}

TEST(RunResult, RowHasOneCellPerColumnAndDerivedFigures) {
  RunResult r;
  r.mechanism = "poll";
  r.mode = "pingpong";
  r.measured = true;
  r.measured_s = 2;
  r.msgs = 1000;
  r.latency.record(10'000);
  r.server_cpu_us = 500'000;
  r.label = "a,b";  // quoted in CSV
  const std::string row = csv_row(r);
  EXPECT_NE(row.find("poll,pingpong,0,,0,"), std::string::npos) << row;
  EXPECT_NE(row.find(",1000,500,10,10,10,10,10,10,"), std::string::npos) << row;
  EXPECT_NE(row.find(",500,"), std::string::npos) << row;         // server µs per message
  EXPECT_NE(row.find(",\"a,b\",25,"), std::string::npos) << row;  // server CPU 25 %
  const std::string json = json_object(r);
  EXPECT_NE(json.find("\"idle_open\":null"), std::string::npos) << json;
  EXPECT_NE(json.find("\"label\":\"a,b\""), std::string::npos) << json;
}

TEST(RunResult, UnmeasuredRowLeavesFiguresEmpty) {
  RunResult r;
  r.status = "refused:FD_SETSIZE";
  const std::string row = csv_row(r);
  EXPECT_NE(row.find(",0,0,0,,,,,,,,,0,0,0,0,,,refused:FD_SETSIZE,"), std::string::npos) << row;
}

TEST(StatsLine, ParsesTheServersCounters) {
  auto s = StatsLine::parse(
      R"({"mechanism":"epoll-et","accepted":12,"wait_calls":345, "cpu_user_us":-1})");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->text("mechanism"), "epoll-et");
  EXPECT_EQ(s->number("accepted"), 12);
  EXPECT_EQ(s->number("wait_calls"), 345);
  EXPECT_EQ(s->number("cpu_user_us"), -1);
  EXPECT_FALSE(s->number("mechanism").has_value());
  EXPECT_FALSE(s->number("missing").has_value());
  EXPECT_FALSE(StatsLine::parse("* not json").has_value());
  EXPECT_FALSE(StatsLine::parse(R"({"a":1)").has_value());
}

}  // namespace
}  // namespace mux
