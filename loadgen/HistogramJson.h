// A Histogram as JSON (`loadgen --histogram-out FILE`): bucket counts that merge exactly by
// addition, in the layout docs/loadgen.md#latency-histograms---histogram-out-file documents and
// plot/histograms.py reads. Written once at the end of a run, never on the hot path.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "Histogram.h"

namespace mux {

inline constexpr std::string_view kHistogramFormat = "muxbench-histogram";
inline constexpr int kHistogramFormatVersion = 1;

// Which run a histogram belongs to (the row's identity columns).
struct HistogramIdentity {
  std::string mechanism;
  std::string mode;
  std::uint64_t idle = 0;
  std::string label;
};

// The JSON document, one non-empty bucket per line.
std::string histogram_json(const Histogram& h, const HistogramIdentity& id);

// Reads a document histogram_json wrote (any JSON whitespace and key order): the histogram and
// its identity, or why not (wrong format or version, malformed JSON, bounds or total count that
// disagree with the buckets).
struct ParsedHistogram {
  Histogram histogram;
  HistogramIdentity identity;
};
std::optional<std::string> parse_histogram_json(std::string_view text, ParsedHistogram& out);

// Whether `path` can be written, checked before a run so that a bad path fails at once. Leaves an
// existing file untouched and creates none. nullopt when it can; otherwise the reason.
std::optional<std::string> check_writable(const std::string& path);

// Writes histogram_json(h, id) to `path` (replacing it). nullopt on success, else the reason.
std::optional<std::string> write_histogram_file(const std::string& path, const Histogram& h,
                                                const HistogramIdentity& id);

}  // namespace mux
