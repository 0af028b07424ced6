#include "HdrLog.h"

#include <zlib.h>

#include <ctime>

#include <fmt/format.h>

namespace mux::hdr {

namespace {

void put_be(std::string& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

void put_zigzag(std::string& out, std::int64_t signed_value) {
  std::uint64_t v = (static_cast<std::uint64_t>(signed_value) << 1) ^
                    static_cast<std::uint64_t>(signed_value >> 63);
  // LEB128 for the first 8 groups of 7 bits; a 9th byte, when needed, holds the last 8 bits
  // whole (HdrHistogram's "LEB128-64b9B").
  for (int i = 0; i < 8; ++i) {
    if ((v >> 7) == 0) {
      out += static_cast<char>(v);
      return;
    }
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

std::uint64_t double_bits(double d) {
  std::uint64_t bits = 0;
  static_assert(sizeof bits == sizeof d);
  __builtin_memcpy(&bits, &d, sizeof d);
  return bits;
}

}  // namespace

std::size_t counts_index(std::uint64_t v) {
  // subBucketCount = 2^ceil(log2(2 * 10^digits)) = 256, half of it 128, unit magnitude 0.
  constexpr int kHalfMagnitude = 7;
  constexpr std::uint64_t kSubBucketMask = 255;
  const int pow2ceiling = 64 - __builtin_clzll(v | kSubBucketMask);
  const int bucket = pow2ceiling - (kHalfMagnitude + 1);
  const std::uint64_t sub_bucket = v >> bucket;
  return (static_cast<std::size_t>(bucket + 1) << kHalfMagnitude) +
         static_cast<std::size_t>(sub_bucket - (1ULL << kHalfMagnitude));
}

std::string encode_v2(const Histogram& h) {
  std::string payload;
  if (h.count() > 0) {
    const std::size_t limit = Histogram::index_of(std::min(h.max(), kHighestTrackable)) + 1;
    for (std::size_t i = 0; i < limit;) {
      const std::uint64_t n = h.count_at(i++);
      std::int64_t zeros = 0;
      if (n == 0) {
        for (zeros = 1; i < limit && h.count_at(i) == 0; ++i) ++zeros;
      }
      put_zigzag(payload, zeros > 1 ? -zeros : static_cast<std::int64_t>(n));
    }
  }
  std::string out;
  put_be(out, kEncodingCookie, 4);
  put_be(out, payload.size(), 4);
  put_be(out, 0, 4);  // normalizing index offset
  put_be(out, kSignificantDigits, 4);
  put_be(out, kLowestDiscernible, 8);
  put_be(out, kHighestTrackable, 8);
  put_be(out, double_bits(1.0), 8);  // integer to double conversion ratio
  return out + payload;
}

std::optional<std::string> encode_compressed_v2(const Histogram& h, std::string& out) {
  const std::string plain = encode_v2(h);
  uLongf size = compressBound(plain.size());
  std::string deflated(size, '\0');
  const int rc =
      compress2(reinterpret_cast<Bytef*>(deflated.data()), &size,
                reinterpret_cast<const Bytef*>(plain.data()), plain.size(), Z_DEFAULT_COMPRESSION);
  if (rc != Z_OK) return fmt::format("zlib compress2 failed ({})", zError(rc));
  deflated.resize(size);
  out.clear();
  put_be(out, kCompressedCookie, 4);
  put_be(out, deflated.size(), 4);
  out += deflated;
  return std::nullopt;
}

std::string base64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const std::size_t n = std::min<std::size_t>(3, bytes.size() - i);
    std::uint32_t group = 0;
    for (std::size_t k = 0; k < 3; ++k) {
      group <<= 8;
      if (k < n) group |= static_cast<unsigned char>(bytes[i + k]);
    }
    for (std::size_t k = 0; k < 4; ++k) {
      out += k <= n ? kAlphabet[(group >> (18 - 6 * k)) & 0x3f] : '=';
    }
  }
  return out;
}

std::optional<std::string> interval_log(double start_epoch_s,
                                        const std::vector<LogInterval>& intervals,
                                        std::string& out) {
  const auto whole = static_cast<std::time_t>(start_epoch_s);
  std::tm utc{};
  gmtime_r(&whole, &utc);
  char date[64];
  std::strftime(date, sizeof date, "%a %b %d %H:%M:%S UTC %Y", &utc);
  out = "#[Histogram log format version 1.3]\n";
  out += fmt::format("#[StartTime: {:.3f} (seconds since epoch), {}]\n", start_epoch_s, date);
  out += fmt::format("#[BaseTime: {:.3f} (seconds since epoch)]\n", start_epoch_s);
  out += "#[muxbench loadgen: latency in nanoseconds; Interval_Max in milliseconds]\n";
  out +=
      "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n";
  for (const LogInterval& iv : intervals) {
    std::string encoded;
    if (auto err = encode_compressed_v2(*iv.latency, encoded)) return err;
    out += fmt::format("{:.3f},{:.3f},{:.3f},{}\n", iv.start_s, iv.length_s,
                       static_cast<double>(iv.latency->max()) / 1e6, base64(encoded));
  }
  return std::nullopt;
}

}  // namespace mux::hdr
