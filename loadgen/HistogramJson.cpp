#include "HistogramJson.h"

#include "Json.h"
#include "Net.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>

namespace mux {

namespace {

using nlohmann::json;

std::optional<std::string> get_u64(const json& o, const char* key, std::uint64_t& out) {
  const auto it = o.find(key);
  if (it == o.end() || !it->is_number()) return fmt::format("\"{}\": missing or not a number", key);
  if (!it->is_number_unsigned()) {
    return fmt::format("\"{}\": {} is not an unsigned integer", key, it->dump());
  }
  out = it->get<std::uint64_t>();
  return std::nullopt;
}

std::optional<std::string> get_string(const json& o, const char* key, std::string& out) {
  const auto it = o.find(key);
  if (it == o.end() || !it->is_string()) return fmt::format("\"{}\": missing or not a string", key);
  out = it->get<std::string>();
  return std::nullopt;
}

Json scheme() {
  constexpr std::uint64_t linear = 2 * Histogram::kSub, sub = Histogram::kSub;
  return {
      {"name", "log-linear"},
      {"linear_below", linear},
      {"sub_buckets", sub},
      {"buckets", Histogram::kBuckets},
      {"max_trackable", Histogram::kMaxTrackable},
      {"bounds", fmt::format("index i < {0}: [i, i+1); otherwise shift = (i - {0}) div {1} + 1, "
                             "low = ((i - {0}) mod {1} + {1}) << shift, high = low + (1 << shift). "
                             "The last bucket also counts every value above max_trackable.",
                             linear, sub)},
      {"percentile",
       "q <= 0: min; q >= 1: max; otherwise rank = max(1, ceil(q * total_count)) in double "
       "precision, the first bucket (by index) whose cumulative count reaches rank, value low + "
       "(high - low - 1) div 2 clamped to [min, max]"},
  };
}

// The buckets in the document: index, bounds and count of each, checked against the scheme.
std::optional<std::string> read_buckets(const json& o,
                                        std::vector<std::pair<std::size_t, std::uint64_t>>& out) {
  const auto b = o.find("buckets");
  if (b == o.end() || !b->is_array()) return "\"buckets\": missing or not an array";
  for (const json& e : *b) {
    if (!e.is_object()) return "a bucket is not an object";
    std::uint64_t index = 0, low = 0, high = 0, count = 0;
    if (auto err = get_u64(e, "index", index)) return "bucket: " + *err;
    if (auto err = get_u64(e, "low", low)) return "bucket: " + *err;
    if (auto err = get_u64(e, "high", high)) return "bucket: " + *err;
    if (auto err = get_u64(e, "count", count)) return "bucket: " + *err;
    if (index >= Histogram::kBuckets) return fmt::format("bucket index {} out of range", index);
    if (low != Histogram::lowest_in(index) || high != low + Histogram::width_of(index)) {
      return fmt::format("bucket {}: bounds [{}, {}) disagree with the scheme", index, low, high);
    }
    out.emplace_back(index, count);
  }
  return std::nullopt;
}

}  // namespace

std::string histogram_json(const Histogram& h, const HistogramIdentity& id) {
  Json buckets = Json::array();
  for (std::size_t i = 0; i < Histogram::kBuckets; ++i) {
    const std::uint64_t n = h.count_at(i);
    if (n == 0) continue;
    const std::uint64_t low = Histogram::lowest_in(i);
    buckets.push_back(
        {{"index", i}, {"low", low}, {"high", low + Histogram::width_of(i)}, {"count", n}});
  }
  const Json doc = {
      {"format", kHistogramFormat},
      {"version", kHistogramFormatVersion},
      {"unit", "ns"},
      {"mechanism", id.mechanism},
      {"mode", id.mode},
      {"idle", id.idle},
      {"label", id.label},
      {"scheme", scheme()},
      {"total_count", h.count()},
      {"min", h.min()},
      {"max", h.max()},
      {"sum", h.sum()},
      {"buckets", std::move(buckets)},
  };
  // One member and one bucket per line: two histograms diff and grep line by line.
  return json_lines(doc) + "\n";
}

std::optional<std::string> parse_histogram_json(std::string_view text, ParsedHistogram& out) {
  auto doc = parse_json(text);
  if (auto* err = std::get_if<std::string>(&doc)) return "not JSON: " + *err;
  const json& o = std::get<json>(doc);
  if (!o.is_object()) return "not a JSON object";
  std::string format;
  if (get_string(o, "format", format) || format != kHistogramFormat) {
    return fmt::format("not a {} document", kHistogramFormat);
  }
  std::uint64_t version = 0;
  if (auto err = get_u64(o, "version", version)) return err;
  if (version != kHistogramFormatVersion) {
    return fmt::format("version {}: this reader knows version {}", version,
                       kHistogramFormatVersion);
  }
  std::string unit;
  if (auto err = get_string(o, "unit", unit)) return err;
  if (unit != "ns") return fmt::format("unit {}: expected ns", unit);
  HistogramIdentity id;
  if (auto err = get_string(o, "mechanism", id.mechanism)) return err;
  if (auto err = get_string(o, "mode", id.mode)) return err;
  if (auto err = get_u64(o, "idle", id.idle)) return err;
  if (auto err = get_string(o, "label", id.label)) return err;
  std::uint64_t total = 0, min = 0, max = 0, sum = 0;
  if (auto err = get_u64(o, "total_count", total)) return err;
  if (auto err = get_u64(o, "min", min)) return err;
  if (auto err = get_u64(o, "max", max)) return err;
  if (auto err = get_u64(o, "sum", sum)) return err;
  std::vector<std::pair<std::size_t, std::uint64_t>> buckets;
  if (auto err = read_buckets(o, buckets)) return err;
  ParsedHistogram parsed;
  if (auto err = Histogram::restore(buckets, min, max, sum, parsed.histogram)) return err;
  if (parsed.histogram.count() != total) {
    return fmt::format("total_count {} but the buckets hold {}", total, parsed.histogram.count());
  }
  parsed.identity = std::move(id);
  out = std::move(parsed);
  return std::nullopt;
}

std::optional<std::string> check_writable(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd >= 0) {
    close(fd);
    unlink(path.c_str());
    return std::nullopt;
  }
  if (errno == EEXIST) {
    fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      close(fd);
      return std::nullopt;
    }
  }
  return std::strerror(errno);
}

std::optional<std::string> write_histogram_file(const std::string& path, const Histogram& h,
                                                const HistogramIdentity& id) {
  return write_text_file(path, histogram_json(h, id));
}

}  // namespace mux
