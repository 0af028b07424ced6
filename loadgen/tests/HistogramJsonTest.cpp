#include "HistogramJson.h"

#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace mux {
namespace {

constexpr double kQuantiles[] = {0.0, 0.001, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 0.9999, 1.0};

void expect_same(const Histogram& a, const Histogram& b) {
  ASSERT_EQ(a.count(), b.count());
  EXPECT_EQ(a.min(), b.min());
  EXPECT_EQ(a.max(), b.max());
  EXPECT_EQ(a.sum(), b.sum());
  for (std::size_t i = 0; i < Histogram::kBuckets; ++i) {
    ASSERT_EQ(a.count_at(i), b.count_at(i)) << "bucket " << i;
  }
  for (double q : kQuantiles) EXPECT_EQ(a.percentile(q), b.percentile(q)) << "q=" << q;
}

Histogram heavy_tail(std::uint64_t seed, int n) {
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> d(std::log(20'000.0), 2.0);
  Histogram h;
  for (int i = 0; i < n; ++i) h.record(static_cast<std::uint64_t>(d(rng)));
  h.record(3);                          // an exact (linear) bucket
  h.record(250ULL * 1'000'000'000ULL);  // beyond 100 s: the last bucket
  return h;
}

TEST(HistogramJson, RoundTripKeepsEveryCountAndExtreme) {
  const Histogram h = heavy_tail(11, 50'000);
  const HistogramIdentity id{"epoll-lt", "flood", 1000, "a \"quoted\", label\\with\ttab"};
  ParsedHistogram back;
  const auto err = parse_histogram_json(histogram_json(h, id), back);
  ASSERT_FALSE(err) << *err;
  expect_same(h, back.histogram);
  EXPECT_EQ(back.identity.mechanism, id.mechanism);
  EXPECT_EQ(back.identity.mode, id.mode);
  EXPECT_EQ(back.identity.idle, id.idle);
  EXPECT_EQ(back.identity.label, id.label);
}

TEST(HistogramJson, WritesOnlyNonEmptyBucketsWithTheirBoundsOnePerLine) {
  Histogram h;
  h.record(100);
  h.record(100);
  h.record(5'000);
  const std::string text = histogram_json(h, {"poll", "pingpong", 0, ""});
  const auto doc = nlohmann::json::parse(text);
  EXPECT_EQ(doc["format"], "muxbench-histogram");
  EXPECT_EQ(doc["version"], 1);
  EXPECT_EQ(doc["unit"], "ns");
  EXPECT_EQ(doc["total_count"], 3);
  EXPECT_EQ(doc["min"], 100);
  EXPECT_EQ(doc["max"], 5000);
  EXPECT_EQ(doc["sum"], 5200);
  const std::size_t i = Histogram::index_of(5'000);
  const std::string first = R"({"index":100,"low":100,"high":101,"count":2})";
  const std::string second =
      fmt::format(R"({{"index":{},"low":{},"high":{},"count":1}})", i, Histogram::lowest_in(i),
                  Histogram::lowest_in(i) + Histogram::width_of(i));
  EXPECT_NE(text.find("\"buckets\": [\n" + first + ",\n" + second + "\n]\n}\n"), std::string::npos)
      << text;
  std::vector<std::string> keys;
  const auto ordered = nlohmann::ordered_json::parse(text);
  for (const auto& [key, value] : ordered.items()) keys.push_back(key);
  const std::vector<std::string> documented{"format", "version", "unit",   "mechanism",   "mode",
                                            "idle",   "label",   "scheme", "total_count", "min",
                                            "max",    "sum",     "buckets"};
  EXPECT_EQ(keys, documented);
}

TEST(HistogramJson, EmptyHistogramRoundTrips) {
  ParsedHistogram back;
  back.histogram.record(7);
  const auto err = parse_histogram_json(histogram_json(Histogram{}, {}), back);
  ASSERT_FALSE(err) << *err;
  EXPECT_EQ(back.histogram.count(), 0u);
  EXPECT_EQ(back.histogram.percentile(0.5), 0u);
}

TEST(HistogramJson, MergedAfterReadingEqualsOneHistogramOfAllSamples) {
  std::mt19937_64 rng(5);
  std::uniform_int_distribution<std::uint64_t> d(1'000, 50'000'000);
  Histogram a, b, all;
  for (int i = 0; i < 20'000; ++i) {
    const auto x = d(rng);
    (i % 3 ? a : b).record(x);
    all.record(x);
  }
  ParsedHistogram ra, rb;
  ASSERT_FALSE(parse_histogram_json(histogram_json(a, {}), ra));
  ASSERT_FALSE(parse_histogram_json(histogram_json(b, {}), rb));
  ra.histogram.merge(rb.histogram);
  expect_same(ra.histogram, all);
}

TEST(HistogramJson, RejectsWhatItDidNotWrite) {
  ParsedHistogram out;
  EXPECT_TRUE(parse_histogram_json("", out));
  EXPECT_TRUE(parse_histogram_json("[]", out));
  EXPECT_TRUE(parse_histogram_json("{\"format\": \"other\"}", out));
  Histogram h;
  h.record(5'000);
  std::string text = histogram_json(h, {});
  const std::string v1 = "\"version\": 1";
  std::string v2 = text;
  v2.replace(v2.find(v1), v1.size(), "\"version\": 2");
  EXPECT_TRUE(parse_histogram_json(v2, out));
  std::string wrong_total = text;
  wrong_total.replace(wrong_total.find("\"total_count\": 1"), 16, "\"total_count\": 2");
  EXPECT_TRUE(parse_histogram_json(wrong_total, out));
  std::string wrong_bound = text;
  const std::size_t i = Histogram::index_of(5'000);
  const std::string low = fmt::format("\"low\":{}", Histogram::lowest_in(i));
  wrong_bound.replace(wrong_bound.find(low), low.size(), "\"low\":1");
  EXPECT_TRUE(parse_histogram_json(wrong_bound, out));
  EXPECT_TRUE(parse_histogram_json(text + "x", out));
  EXPECT_FALSE(parse_histogram_json(text, out));
}

TEST(HistogramJson, ErrorsSayWhatIsWrongAndWhere) {
  ParsedHistogram out;
  EXPECT_EQ(parse_histogram_json("{\"format\": \"muxbench-histogram\",\n\"version\" 1}", out),
            "not JSON: parse error at line 2, column 11: syntax error while parsing object "
            "separator - unexpected number literal; expected ':'");
  EXPECT_EQ(parse_histogram_json("[1]", out), "not a JSON object");
  Histogram h;
  h.record(5'000);
  auto doc = nlohmann::json::parse(histogram_json(h, {}));
  auto with = [&](const char* key, nlohmann::json value) {
    auto changed = doc;
    changed[key] = std::move(value);
    return parse_histogram_json(changed.dump(), out).value_or("(accepted)");
  };
  EXPECT_EQ(with("idle", -1), "\"idle\": -1 is not an unsigned integer");
  EXPECT_EQ(with("sum", 1.5), "\"sum\": 1.5 is not an unsigned integer");
  EXPECT_EQ(with("min", "7"), "\"min\": missing or not a number");
  EXPECT_EQ(with("label", 7), "\"label\": missing or not a string");
  EXPECT_EQ(with("buckets", nlohmann::json::object()), "\"buckets\": missing or not an array");
  EXPECT_EQ(with("buckets", {{{"index", 1}}}), "bucket: \"low\": missing or not a number");
  EXPECT_EQ(with("buckets", {7}), "a bucket is not an object");
  EXPECT_EQ(with("version", 2), "version 2: this reader knows version 1");
}

TEST(HistogramJson, WritesTheFileAndReportsAnUnwritablePath) {
  char dir[] = "/tmp/histjsonXXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/h.json";
  EXPECT_FALSE(check_writable(path));
  EXPECT_NE(access(path.c_str(), F_OK), 0) << "the check must not leave a file behind";
  const Histogram h = heavy_tail(2, 1000);
  ASSERT_FALSE(write_histogram_file(path, h, {"select", "broadcast", 10, "x"}));
  EXPECT_FALSE(check_writable(path));
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  ParsedHistogram back;
  ASSERT_FALSE(parse_histogram_json(text.str(), back));
  expect_same(h, back.histogram);
  std::remove(path.c_str());
  rmdir(dir);
  EXPECT_TRUE(check_writable(std::string(dir) + "/missing/h.json"));
  EXPECT_TRUE(write_histogram_file(std::string(dir) + "/missing/h.json", h, {}));
}

}  // namespace
}  // namespace mux
