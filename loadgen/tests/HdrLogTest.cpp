#include "HdrLog.h"

#include <gtest/gtest.h>

#include <random>
#include <sstream>

namespace mux {
namespace {

std::string hex(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

TEST(HdrLog, OurBucketsAreHdrHistogramsWithTwoSignificantDigits) {
  // Every value below 2^16, then random ones up to the highest trackable: same index.
  for (std::uint64_t v = 0; v < 65536; ++v) {
    ASSERT_EQ(Histogram::index_of(v), hdr::counts_index(v)) << v;
  }
  std::mt19937_64 rng(3);
  for (int i = 0; i < 100000; ++i) {
    const std::uint64_t v = rng() % hdr::kHighestTrackable;
    ASSERT_EQ(Histogram::index_of(v), hdr::counts_index(v)) << v;
  }
  EXPECT_EQ(Histogram::index_of(hdr::kHighestTrackable), hdr::counts_index(hdr::kHighestTrackable));
}

TEST(HdrLog, V2EncodingHasTheJavaHeaderAndZigZagRuns) {
  Histogram h;
  h.record(1);
  h.record(1);
  h.record(4);
  h.record(300);  // index 128 + 150 = 278
  const std::string e = hdr::encode_v2(h);
  // Cookie, payload length, offset 0, 2 digits, lowest 1, highest 1e11, ratio 1.0.
  EXPECT_EQ(hex(e.substr(0, 40)),
            "1c849313"
            "00000007"
            "00000000"
            "00000002"
            "0000000000000001"
            "000000174876e800"
            "3ff0000000000000");
  // Counts: [0]=0, [1]=2, [2..3] two zeros, [4]=1, [5..277] 273 zeros, [278]=1.
  // ZigZag: 0 -> 00, 2 -> 04, -2 -> 03, 1 -> 02, -273 -> 545 = a1 04, 1 -> 02.
  EXPECT_EQ(hex(e.substr(40)),
            "000403"
            "02"
            "a104"
            "02");
}

TEST(HdrLog, EmptyHistogramEncodesNoCounts) {
  const std::string e = hdr::encode_v2(Histogram{});
  EXPECT_EQ(e.size(), 40u);
  EXPECT_EQ(hex(e.substr(4, 4)), "00000000");
}

TEST(HdrLog, CompressedEncodingIsCookieLengthAndZlib) {
  Histogram h;
  for (std::uint64_t v = 1000; v < 2'000'000; v += 997) h.record(v);
  std::string c;
  ASSERT_FALSE(hdr::encode_compressed_v2(h, c));
  EXPECT_EQ(hex(c.substr(0, 4)), "1c849314");
  const std::uint32_t length =
      (static_cast<unsigned char>(c[4]) << 24) | (static_cast<unsigned char>(c[5]) << 16) |
      (static_cast<unsigned char>(c[6]) << 8) | static_cast<unsigned char>(c[7]);
  EXPECT_EQ(length, c.size() - 8);
  EXPECT_EQ(static_cast<unsigned char>(c[8]), 0x78);  // a zlib stream, as Java's Deflater writes
}

TEST(HdrLog, Base64IsRfc4648WithPadding) {
  EXPECT_EQ(hdr::base64(""), "");
  EXPECT_EQ(hdr::base64("M"), "TQ==");
  EXPECT_EQ(hdr::base64("Ma"), "TWE=");
  EXPECT_EQ(hdr::base64("Man"), "TWFu");
  EXPECT_EQ(hdr::base64(std::string("\xff\xfe\x00", 3)), "//4A");
}

TEST(HdrLog, LogHasTheWritersHeaderAndOneLinePerInterval) {
  Histogram a, b;
  a.record(2'500'000);  // 2.5 ms
  b.record(1000);
  std::string log;
  ASSERT_FALSE(hdr::interval_log(1700000000.25, {{0, 1, &a}, {1, 0.5, &b}}, log));
  std::istringstream in(log);
  std::string line;
  std::vector<std::string> lines;
  while (std::getline(in, line)) lines.push_back(line);
  ASSERT_EQ(lines.size(), 7u) << log;
  EXPECT_EQ(lines[0], "#[Histogram log format version 1.3]");
  EXPECT_EQ(lines[1].rfind("#[StartTime: 1700000000.250 (seconds since epoch), ", 0), 0u);
  EXPECT_EQ(lines[2], "#[BaseTime: 1700000000.250 (seconds since epoch)]");
  EXPECT_EQ(lines[4],
            "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\","
            "\"Interval_Compressed_Histogram\"");
  std::string encoded;
  ASSERT_FALSE(hdr::encode_compressed_v2(a, encoded));
  EXPECT_EQ(lines[5], "0.000,1.000,2.500," + hdr::base64(encoded));  // max in ms
  EXPECT_EQ(lines[6].rfind("1.000,0.500,0.001,", 0), 0u);
}

}  // namespace
}  // namespace mux
