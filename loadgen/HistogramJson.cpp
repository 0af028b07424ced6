#include "HistogramJson.h"

#include "Net.h"
#include "RunResult.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>

namespace mux {

namespace {

// A minimal JSON reader: enough for the documents histogram_json writes (objects, arrays,
// strings, unsigned integers, true/false/null). Numbers are kept as their text.
struct Value;
using Object = std::map<std::string, Value, std::less<>>;
using Array = std::vector<Value>;
struct Number {
  std::string text;
};
struct Value {
  std::variant<std::nullptr_t, bool, Number, std::string, std::shared_ptr<Array>,
               std::shared_ptr<Object>>
      v;
};

class Reader {
 public:
  explicit Reader(std::string_view t) : t_(t) {}

  std::optional<std::string> document(Value& out) {
    if (auto err = value(out, 0)) return err;
    skip_space();
    if (p_ != t_.size()) return where("text after the JSON value");
    return std::nullopt;
  }

 private:
  std::string where(std::string_view what) const { return fmt::format("{} at byte {}", what, p_); }
  void skip_space() {
    while (p_ < t_.size() && (t_[p_] == ' ' || t_[p_] == '\n' || t_[p_] == '\r' || t_[p_] == '\t'))
      ++p_;
  }
  bool eat(char c) {
    skip_space();
    if (p_ < t_.size() && t_[p_] == c) {
      ++p_;
      return true;
    }
    return false;
  }
  bool literal(std::string_view word) {
    if (t_.substr(p_, word.size()) != word) return false;
    p_ += word.size();
    return true;
  }

  std::optional<std::string> string(std::string& out) {
    if (!eat('"')) return where("expected a string");
    while (p_ < t_.size() && t_[p_] != '"') {
      char c = t_[p_++];
      if (c != '\\') {
        out += c;
        continue;
      }
      if (p_ >= t_.size()) break;
      c = t_[p_++];
      switch (c) {
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'u': {
          unsigned code = 0;
          const auto [end, ec] =
              std::from_chars(t_.data() + p_, t_.data() + std::min(p_ + 4, t_.size()), code, 16);
          if (ec != std::errc() || end != t_.data() + p_ + 4) return where("bad \\u escape");
          p_ += 4;
          if (code < 0x80) {
            out += static_cast<char>(code);
          } else if (code < 0x800) {
            out += static_cast<char>(0xC0 | (code >> 6));
            out += static_cast<char>(0x80 | (code & 0x3F));
          } else {
            out += static_cast<char>(0xE0 | (code >> 12));
            out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (code & 0x3F));
          }
          break;
        }
        default:
          out += c;  // \" \\ \/
      }
    }
    if (p_ >= t_.size()) return where("unterminated string");
    ++p_;
    return std::nullopt;
  }

  std::optional<std::string> value(Value& out, int depth) {
    if (depth > 16) return where("nesting too deep");
    skip_space();
    if (p_ >= t_.size()) return where("unexpected end");
    const char c = t_[p_];
    if (c == '{') {
      ++p_;
      auto obj = std::make_shared<Object>();
      if (!eat('}')) {
        do {
          std::string key;
          if (auto err = string(key)) return err;
          if (!eat(':')) return where("expected ':'");
          Value v;
          if (auto err = value(v, depth + 1)) return err;
          (*obj)[key] = std::move(v);
        } while (eat(','));
        if (!eat('}')) return where("expected ',' or '}'");
      }
      out.v = obj;
    } else if (c == '[') {
      ++p_;
      auto arr = std::make_shared<Array>();
      if (!eat(']')) {
        do {
          arr->emplace_back();
          if (auto err = value(arr->back(), depth + 1)) return err;
        } while (eat(','));
        if (!eat(']')) return where("expected ',' or ']'");
      }
      out.v = arr;
    } else if (c == '"') {
      std::string s;
      if (auto err = string(s)) return err;
      out.v = std::move(s);
    } else if (literal("true")) {
      out.v = true;
    } else if (literal("false")) {
      out.v = false;
    } else if (literal("null")) {
      out.v = nullptr;
    } else {
      const std::size_t start = p_;
      while (p_ < t_.size() && (std::isdigit(static_cast<unsigned char>(t_[p_])) ||
                                std::strchr("+-.eE", t_[p_]) != nullptr))
        ++p_;
      if (p_ == start) return where("unexpected character");
      out.v = Number{std::string(t_.substr(start, p_ - start))};
    }
    return std::nullopt;
  }

  std::string_view t_;
  std::size_t p_ = 0;
};

const Value* field(const Object& o, std::string_view key) {
  auto it = o.find(key);
  return it == o.end() ? nullptr : &it->second;
}

std::optional<std::string> get_u64(const Object& o, std::string_view key, std::uint64_t& out) {
  const Value* v = field(o, key);
  const auto* n = v ? std::get_if<Number>(&v->v) : nullptr;
  if (!n) return fmt::format("\"{}\": missing or not a number", key);
  const auto [end, ec] = std::from_chars(n->text.data(), n->text.data() + n->text.size(), out);
  if (ec != std::errc() || end != n->text.data() + n->text.size()) {
    return fmt::format("\"{}\": {} is not an unsigned integer", key, n->text);
  }
  return std::nullopt;
}

std::optional<std::string> get_string(const Object& o, std::string_view key, std::string& out) {
  const Value* v = field(o, key);
  const auto* s = v ? std::get_if<std::string>(&v->v) : nullptr;
  if (!s) return fmt::format("\"{}\": missing or not a string", key);
  out = *s;
  return std::nullopt;
}

}  // namespace

std::string histogram_json(const Histogram& h, const HistogramIdentity& id) {
  std::string s = "{\n";
  s += fmt::format("\"format\": {}, \"version\": {}, \"unit\": \"ns\",\n",
                   json_quoted(kHistogramFormat), kHistogramFormatVersion);
  s += fmt::format("\"mechanism\": {}, \"mode\": {}, \"idle\": {}, \"label\": {},\n",
                   json_quoted(id.mechanism), json_quoted(id.mode), id.idle, json_quoted(id.label));
  s += fmt::format(
      "\"scheme\": {{\"name\": \"log-linear\", \"linear_below\": {}, \"sub_buckets\": {}, "
      "\"buckets\": {}, \"max_trackable\": {},\n"
      "  \"bounds\": \"index i < {}: [i, i+1); otherwise shift = (i - {}) div {} + 1, "
      "low = ((i - {}) mod {} + {}) << shift, high = low + (1 << shift). The last bucket also "
      "counts every value above max_trackable.\",\n"
      "  \"percentile\": \"q <= 0: min; q >= 1: max; otherwise rank = max(1, ceil(q * "
      "total_count)) in double precision, the first bucket (by index) whose cumulative count "
      "reaches rank, value low + (high - low - 1) div 2 clamped to [min, max]\"}},\n",
      2 * Histogram::kSub, Histogram::kSub, Histogram::kBuckets, Histogram::kMaxTrackable,
      2 * Histogram::kSub, 2 * Histogram::kSub, Histogram::kSub, 2 * Histogram::kSub,
      Histogram::kSub, Histogram::kSub);
  s += fmt::format("\"total_count\": {}, \"min\": {}, \"max\": {}, \"sum\": {},\n", h.count(),
                   h.min(), h.max(), h.sum());
  s += "\"buckets\": [";
  bool first = true;
  for (std::size_t i = 0; i < Histogram::kBuckets; ++i) {
    const std::uint64_t n = h.count_at(i);
    if (n == 0) continue;
    s += first ? "\n" : ",\n";
    first = false;
    const std::uint64_t low = Histogram::lowest_in(i);
    s += fmt::format("  {{\"index\": {}, \"low\": {}, \"high\": {}, \"count\": {}}}", i, low,
                     low + Histogram::width_of(i), n);
  }
  s += first ? "]\n}\n" : "\n]\n}\n";
  return s;
}

std::optional<std::string> parse_histogram_json(std::string_view text, ParsedHistogram& out) {
  Value doc;
  if (auto err = Reader(text).document(doc)) return "not JSON: " + *err;
  const auto* top = std::get_if<std::shared_ptr<Object>>(&doc.v);
  if (!top) return "not a JSON object";
  const Object& o = **top;
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
  const Value* b = field(o, "buckets");
  const auto* arr = b ? std::get_if<std::shared_ptr<Array>>(&b->v) : nullptr;
  if (!arr) return "\"buckets\": missing or not an array";
  std::vector<std::pair<std::size_t, std::uint64_t>> buckets;
  for (const Value& e : **arr) {
    const auto* bo = std::get_if<std::shared_ptr<Object>>(&e.v);
    if (!bo) return "a bucket is not an object";
    std::uint64_t index = 0, low = 0, high = 0, count = 0;
    if (auto err = get_u64(**bo, "index", index)) return "bucket: " + *err;
    if (auto err = get_u64(**bo, "low", low)) return "bucket: " + *err;
    if (auto err = get_u64(**bo, "high", high)) return "bucket: " + *err;
    if (auto err = get_u64(**bo, "count", count)) return "bucket: " + *err;
    if (index >= Histogram::kBuckets) return fmt::format("bucket index {} out of range", index);
    if (low != Histogram::lowest_in(index) || high != low + Histogram::width_of(index)) {
      return fmt::format("bucket {}: bounds [{}, {}) disagree with the scheme", index, low, high);
    }
    buckets.emplace_back(index, count);
  }
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
