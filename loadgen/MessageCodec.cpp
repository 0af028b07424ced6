#include "MessageCodec.h"

#include <bit>
#include <cstring>
#include <stdexcept>

namespace mux {

namespace {

// 'a'..'z' repeated: the padding of message seq starts at offset (seq + kHeader) % 26.
constexpr std::size_t kPatternLen = 26 + 4096;
const std::string& pad_pattern() {
  static const std::string p = [] {
    std::string s(kPatternLen, 'a');
    for (std::size_t i = 0; i < kPatternLen; ++i) s[i] = static_cast<char>('a' + i % 26);
    return s;
  }();
  return p;
}

// The hex fields are converted 8 digits at a time in one 64-bit word (byte i = digit i, as
// little-endian loads and stores lay them out): digit by digit, encoding and decoding the 48
// digits of a message was most of the codec's time in flood mode.
constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
constexpr std::uint64_t kHighBits = 0x8080808080808080ULL;

static_assert(std::endian::native == std::endian::little, "the hex words assume little-endian");

// 8 lowercase hex digits of v, most significant first.
std::uint64_t hex8(std::uint32_t v) {
  std::uint64_t x = v;
  // Spread the nibbles one per byte, least significant nibble in byte 0...
  x = (x | (x << 16)) & 0x0000ffff0000ffffULL;
  x = (x | (x << 8)) & 0x00ff00ff00ff00ffULL;
  x = (x | (x << 4)) & 0x0f0f0f0f0f0f0f0fULL;
  // ...then most significant first, as text reads.
  x = __builtin_bswap64(x);
  // '0' + n, plus 'a' - '0' - 10 = 39 where n >= 10 (n + 6 carries into bit 4 of its byte).
  const std::uint64_t letters = ((x + 6 * kOnes) >> 4) & kOnes;
  return x + '0' * kOnes + letters * 39;
}

void put_hex8(char* p, std::uint32_t v) {
  const std::uint64_t w = hex8(v);
  std::memcpy(p, &w, 8);
}

void put_hex16(char* p, std::uint64_t v) {
  put_hex8(p, static_cast<std::uint32_t>(v >> 32));
  put_hex8(p + 8, static_cast<std::uint32_t>(v));
}

// The value of 8 lowercase hex digits at p; false if any byte is not one.
bool get_hex8(const char* p, std::uint32_t& v) {
  std::uint64_t x;
  std::memcpy(&x, p, 8);
  if (x & kHighBits) return false;
  // With every byte below 0x80, adding 0x80 - k sets a byte's top bit exactly when it is >= k,
  // and no carry crosses into the next byte.
  auto at_least = [x](std::uint8_t k) { return (x + (0x80 - k) * kOnes) & kHighBits; };
  const std::uint64_t digit = at_least('0') & ~at_least('9' + 1);
  const std::uint64_t letter = at_least('a') & ~at_least('f' + 1);
  if ((digit | letter) != kHighBits) return false;
  // '0'..'9' -> low nibble; 'a'..'f' (bit 6 set) -> low nibble + 9.
  x = (x & 0x0f0f0f0f0f0f0f0fULL) + ((x >> 6) & kOnes) * 9;
  x = __builtin_bswap64(x);  // least significant digit in byte 0
  x = (x | (x >> 4)) & 0x00ff00ff00ff00ffULL;
  x = (x | (x >> 8)) & 0x0000ffff0000ffffULL;
  x = (x | (x >> 16)) & 0x00000000ffffffffULL;
  v = static_cast<std::uint32_t>(x);
  return true;
}

bool get_hex16(const char* p, std::uint64_t& v) {
  std::uint32_t hi, lo;
  if (!get_hex8(p, hi) || !get_hex8(p + 8, lo)) return false;
  v = (static_cast<std::uint64_t>(hi) << 32) | lo;
  return true;
}

// A multiply/xor-shift hash of the header's values. Each step is a bijection of the running
// state for a given word, so changing any one field always changes the 64-bit state. The values
// stand for their text because the strict hex decoding maps each to exactly one spelling; the
// padding needs no hashing, as it is compared with the pattern its seq determines. (FNV-1a over
// every byte was half of loadgen's CPU time in flood mode, hashing the text word by word still a
// visible part of it.)
std::uint32_t check_of(const Message& m, std::size_t size) {
  std::uint64_t h = 0x243f6a8885a308d3ULL ^ size;
  auto step = [&h](std::uint64_t w) {
    h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
    h ^= h >> 29;
  };
  step(m.sender);
  step(m.seq);
  step(m.send_ns);
  return static_cast<std::uint32_t>(h ^ (h >> 32));
}

const char* padding_of(std::uint64_t seq) {
  return pad_pattern().data() + (seq + MessageCodec::kHeader) % 26;
}

}  // namespace

MessageCodec::MessageCodec(std::size_t size) : size_(size) {
  if (size < kHeader) throw std::invalid_argument("message size below the header size");
  if (size > kHeader + kPatternLen - 26) throw std::invalid_argument("message size above 4096+49");
}

void MessageCodec::encode(const Message& m, std::string& out) const {
  const std::size_t at = out.size();
  out.resize(at + size_ + 1);
  char* p = out.data() + at;
  p[0] = 'm';
  put_hex8(p + 1, m.sender);
  put_hex16(p + 9, m.seq);
  put_hex16(p + 25, m.send_ns);
  std::memcpy(p + kHeader, padding_of(m.seq), size_ - kHeader);
  put_hex8(p + 41, check_of(m, size_));
  p[size_] = '\n';
}

std::optional<Message> MessageCodec::decode(std::string_view text) const {
  if (text.size() != size_ || text[0] != 'm') return std::nullopt;
  const char* p = text.data();
  std::uint32_t sender, check;
  std::uint64_t seq, ns;
  if (!get_hex8(p + 1, sender) || !get_hex16(p + 9, seq) || !get_hex16(p + 25, ns) ||
      !get_hex8(p + 41, check)) {
    return std::nullopt;
  }
  const Message m{sender, seq, ns};
  if (check != check_of(m, size_) ||
      std::memcmp(p + kHeader, padding_of(seq), size_ - kHeader) != 0) {
    return std::nullopt;
  }
  return m;
}

std::optional<std::string_view> MessageCodec::delivery_text(std::string_view line) {
  if (line.empty() || line[0] != '<') return std::nullopt;
  const auto end = line.find("> ");
  if (end == std::string_view::npos) return std::nullopt;
  return line.substr(end + 2);
}

}  // namespace mux
