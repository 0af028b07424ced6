#include "RunResult.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>

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
  EXPECT_EQ(csv_header().substr(contract.size()),
            ",server_cpu_pct,idle_open_s,conns_per_s,bound_by,server_capacity_msgs_s,window_chosen,"
            "server_syscalls,server_sqes,server_syscalls_per_msg,idle_sources,idle_destinations,"
            "hostile,hostile_kinds,"
            "hostile_connects,hostile_refused,hostile_dropped,hostile_errors,max_send_lag_us");
}

TEST(RunResult, HostileCountersAreEmptyWithoutHostileClients) {
  RunResult r;
  // hostile, its kinds and counters, then max_send_lag_us (empty).
  EXPECT_EQ(csv_row(r).substr(csv_row(r).size() - 8), ",0,,,,,,") << csv_row(r);
  r.hostile = 12;
  r.hostile_kinds = "slowloris+storm";
  r.hostile_counts = {.connects = 40, .refused = 1, .dropped = 2, .errors = 0};
  const std::string row = csv_row(r);
  EXPECT_EQ(row.substr(row.size() - 29), ",12,slowloris+storm,40,1,2,0,") << row;
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

TEST(RunResult, JsonRowHasTheCsvColumnsFiguresAndTypes) {
  RunResult r;
  r.mechanism = "poll\xff";  // a hostile server's name: not UTF-8
  r.mode = "flood";
  r.measured = true;
  r.measured_s = 3;
  r.msgs = 1000;
  r.rate = 2.0 / 3.0;
  r.loadgen_cpu_pct = std::nan("");
  const auto row = nlohmann::ordered_json::parse(json_object(r));
  std::vector<std::string> keys;
  for (const auto& [key, value] : row.items()) keys.push_back(key);
  EXPECT_EQ(keys, result_columns());
  EXPECT_EQ(row["mechanism"], "poll\xef\xbf\xbd");
  EXPECT_TRUE(row["msgs"].is_number_integer());
  EXPECT_EQ(row["msgs"], 1000);
  EXPECT_TRUE(row["idle"].is_number_integer());
  EXPECT_EQ(row["rate"], 0.667);  // the CSV row's three decimals
  EXPECT_TRUE(row["duration_s"].is_number_integer()) << "a whole figure prints as the CSV's 0";
  EXPECT_NE(json_object(r).find(R"("warmup_s":0,"duration_s":0,)"), std::string::npos);
  EXPECT_EQ(row["throughput_msgs_s"], 333.333);
  EXPECT_TRUE(row["loadgen_cpu_pct"].is_null());
  EXPECT_TRUE(row["p50_us"].is_null());
}

TEST(RunResult, UnmeasuredRowLeavesFiguresEmpty) {
  RunResult r;
  r.status = "refused:FD_SETSIZE";
  const std::string row = csv_row(r);
  EXPECT_NE(row.find(",0,0,0,,,,,,,,,0,0,0,0,,,refused:FD_SETSIZE,"), std::string::npos) << row;
}

// A run over one second, so server_cpu_us / 1e4 is the server's CPU in %.
RunResult one_second(std::optional<double> server_pct, std::optional<double> loadgen_pct) {
  RunResult r;
  r.mode = "flood";
  r.measured = true;
  r.measured_s = 1;
  r.msgs = 400'000;
  if (server_pct) r.server_cpu_us = *server_pct * 1e4;
  r.loadgen_cpu_pct = loadgen_pct;
  return r;
}

TEST(RunResult, BoundByNamesTheSaturatedSideServerFirst) {
  EXPECT_EQ(one_second(95, 99).bound_by(), "server");
  EXPECT_EQ(one_second(kSaturatedCpuPct, 20).bound_by(), "server");
  EXPECT_EQ(one_second(89.9, kSaturatedCpuPct).bound_by(), "loadgen");
  EXPECT_EQ(one_second(std::nullopt, 97).bound_by(), "loadgen");
  EXPECT_EQ(one_second(60, 70).bound_by(), "latency");
  EXPECT_EQ(one_second(95, std::nullopt).bound_by(), "server");
  EXPECT_EQ(one_second(std::nullopt, std::nullopt).bound_by(), "");
}

TEST(RunResult, ServerCapacityIsOneCpuOverItsCostPerMessage) {
  // 80 % of a CPU for 400000 messages: 2 us each, so 500000 per second at 100 %.
  const RunResult r = one_second(80, 50);
  ASSERT_TRUE(r.server_capacity_msgs_s().has_value());
  EXPECT_DOUBLE_EQ(*r.server_capacity_msgs_s(), 500'000);
  EXPECT_FALSE(one_second(std::nullopt, 50).server_capacity_msgs_s().has_value());
  RunResult none = one_second(80, 50);
  none.msgs = 0;
  EXPECT_FALSE(none.server_capacity_msgs_s().has_value());
}

TEST(RunResult, NewColumnsAreFilledOrEmptyInTheRow) {
  RunResult r = one_second(80, 50);
  r.window_chosen = 32;
  EXPECT_NE(csv_row(r).find(",latency,500000,32"), std::string::npos) << csv_row(r);
  const std::string json = json_object(r);
  EXPECT_NE(json.find("\"bound_by\":\"latency\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"window_chosen\":32,"), std::string::npos) << json;
  const std::string empty = csv_row(RunResult{});
  EXPECT_EQ(empty.substr(empty.size() - 3), ",,,") << empty;
}

TEST(RunResult, SendLagIsTheLastColumnWhenTheModeIsOpenLoop) {
  RunResult r = one_second(80, 50);
  EXPECT_EQ(result_columns().back(), "max_send_lag_us");
  EXPECT_EQ(csv_row(r).back(), ',');  // closed-loop modes leave it empty
  r.max_send_lag_us = 12.5;
  EXPECT_EQ(csv_row(r).substr(csv_row(r).size() - 5), ",12.5") << csv_row(r);
}

TEST(RunResult, SyscallsPerMessageUseTheDeliveriesOfTheWindow) {
  RunResult r = one_second(80, 50);
  EXPECT_FALSE(r.server_syscalls_per_msg().has_value());  // a server without the counter
  r.server_syscalls = 1'200'000;
  r.server_sqes = 7;
  EXPECT_DOUBLE_EQ(*r.server_syscalls_per_msg(), 3.0);
  EXPECT_NE(csv_row(r).find(",1200000,7,3"), std::string::npos) << csv_row(r);
  r.mode = "churn";
  r.churn_conns = 100'000;
  EXPECT_DOUBLE_EQ(*r.server_syscalls_per_msg(), 12.0);
}

TEST(StatsLine, ParsesTheServersCounters) {
  auto s = StatsLine::parse(
      R"({"mechanism":"epoll-et","accepted":12,"wait_calls":345, "cpu_user_us":-1})");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->text("mechanism"), "epoll-et");
  EXPECT_EQ(s->number("accepted"), 12);
  EXPECT_EQ(s->text("accepted"), "12");
  EXPECT_EQ(s->number("wait_calls"), 345);
  EXPECT_EQ(s->number("cpu_user_us"), -1);
  EXPECT_FALSE(s->number("mechanism").has_value());
  EXPECT_FALSE(s->number("missing").has_value());
  EXPECT_FALSE(StatsLine::parse("* not json").has_value());
  EXPECT_FALSE(StatsLine::parse(R"({"a":1)").has_value());
}

TEST(StatsLine, OnlyIntegersThatFitAreNumbers) {
  auto s = StatsLine::parse(
      R"({"quoted":"12","half":1.5,"big":9223372036854775808,"max":9223372036854775807,)"
      R"("min":-9223372036854775808,"yes":true})");
  ASSERT_TRUE(s.has_value());
  EXPECT_FALSE(s->number("quoted").has_value());
  EXPECT_FALSE(s->number("half").has_value());
  EXPECT_FALSE(s->number("big").has_value());
  EXPECT_EQ(s->number("max"), INT64_MAX);
  EXPECT_EQ(s->number("min"), INT64_MIN);
  EXPECT_FALSE(s->number("yes").has_value());
  EXPECT_EQ(s->text("yes"), "true");
}

TEST(StatsLine, SaysWhyALineIsNotAStatsLine) {
  std::string why;
  EXPECT_FALSE(StatsLine::parse(R"({"accepted":12,"current"})", &why).has_value());
  EXPECT_EQ(why,
            "parse error at line 1, column 25: syntax error while parsing object separator - "
            "unexpected '}'; expected ':'");
  EXPECT_FALSE(StatsLine::parse("[1,2]", &why).has_value());
  EXPECT_EQ(why, "a JSON array, not an object");
  EXPECT_FALSE(StatsLine::parse(R"({"accepted":{"n":1}})", &why).has_value());
  EXPECT_EQ(why, "\"accepted\": an object, not a counter");
}

}  // namespace
}  // namespace mux
