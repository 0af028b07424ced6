// HdrHistogram's interval log (`loadgen --hlog FILE`), so that HdrHistogram's own tools
// (HistogramLogProcessor, HistogramLogAnalyzer, the plotter) read our latencies and merge them
// with other measurements: the format of its Java HistogramLogWriter, log format version 1.3,
// each interval's histogram in the V2 compressed encoding. HdrHistogram_c, which writes this, is
// not packaged in Debian (its Java implementation, libhdrhistogram-java, is: the tests decode our
// files with it), which is why we write it ourselves.
//
// The histogram is ours (Histogram.h) without conversion: its buckets ARE HdrHistogram's for a
// lowest discernible value of 1, 2 significant digits and unit magnitude 0 (256 exact values,
// then 128 linear sub-buckets per power of two), and its bucket index is HdrHistogram's counts
// index, so the log carries exactly the counts the row's percentiles come from. 2 digits, not 3:
// it is the precision the row has (3 would need 1024 sub-buckets per power of two, counts we do
// not have). The highest trackable value is Histogram::kMaxTrackable (100 s); values above it are
// in the top bucket, as in the row.
//
// Values are in nanoseconds. The lines' Interval_Max is in milliseconds (the value / 1e6, the
// Java writer's default maxValueUnitRatio), and HistogramLogProcessor's default
// -outputValueUnitRatio 1e6 likewise prints milliseconds.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "Histogram.h"

namespace mux::hdr {

// HdrHistogram's parameters for our Histogram.
constexpr int kSignificantDigits = 2;
constexpr std::uint64_t kLowestDiscernible = 1;
constexpr std::uint64_t kHighestTrackable = Histogram::kMaxTrackable;
// The V2 encoding's cookies (the 0x10 bit: counts as ZigZag LEB128, as the Java encoder sets it).
constexpr std::uint32_t kEncodingCookie = 0x1c849303 | 0x10;
constexpr std::uint32_t kCompressedCookie = 0x1c849304 | 0x10;

// HdrHistogram's counts index for value v with the parameters above (its
// countsArrayIndex), for the tests that hold our buckets to it.
std::size_t counts_index(std::uint64_t v);

// The V2 encoding, uncompressed: a 40-byte big-endian header (cookie, payload length, normalizing
// offset 0, significant digits, lowest, highest, conversion ratio 1.0) then the counts up to the
// highest non-empty one, each a ZigZag LEB128 (at most 9 bytes), a run of N > 1 empty buckets
// as -N.
std::string encode_v2(const Histogram& h);
// The compressed V2 encoding: cookie, length, then encode_v2 deflated by zlib (with its zlib
// header, as java.util.zip.Deflater writes). Error text when zlib fails.
std::optional<std::string> encode_compressed_v2(const Histogram& h, std::string& out);
// RFC 4648 base64 with padding.
std::string base64(std::string_view bytes);

// One line of the log: seconds since the log's base time, and the interval's latencies.
struct LogInterval {
  double start_s = 0, length_s = 0;
  const Histogram* latency = nullptr;
};
// The whole log: the header comments (format version, StartTime and BaseTime = start_epoch_s, a
// comment saying the unit), the legend, then one line per interval.
std::optional<std::string> interval_log(double start_epoch_s,
                                        const std::vector<LogInterval>& intervals,
                                        std::string& out);

}  // namespace mux::hdr
