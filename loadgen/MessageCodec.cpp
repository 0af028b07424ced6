#include "MessageCodec.h"

#include <array>
#include <cstring>
#include <stdexcept>

namespace mux {

namespace {

constexpr char kHex[] = "0123456789abcdef";

// 0..15 for a lowercase hex digit, 0xff for anything else: one load per digit on the hot path.
constexpr std::array<std::uint8_t, 256> kHexValue = [] {
  std::array<std::uint8_t, 256> t{};
  for (auto& v : t) v = 0xff;
  for (int i = 0; i < 10; ++i) t['0' + i] = static_cast<std::uint8_t>(i);
  for (int i = 0; i < 6; ++i) t['a' + i] = static_cast<std::uint8_t>(10 + i);
  return t;
}();

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

void put_hex(char* p, std::uint64_t v, int digits) {
  for (int i = digits - 1; i >= 0; --i) {
    p[i] = kHex[v & 0xf];
    v >>= 4;
  }
}

bool get_hex(const char* p, int digits, std::uint64_t& v) {
  v = 0;
  std::uint8_t bad = 0;
  for (int i = 0; i < digits; ++i) {
    const std::uint8_t d = kHexValue[static_cast<unsigned char>(p[i])];
    bad |= d;
    v = (v << 4) | (d & 0xf);
  }
  return (bad & 0xf0) == 0;
}

// A word-at-a-time multiply/xor-shift hash. Each step is a bijection of the running state for
// a given word, so changing any one word always changes the 64-bit result; FNV-1a byte by byte
// was half of loadgen's CPU time in flood mode.
std::uint64_t mix_range(const char* p, std::size_t n, std::uint64_t h) {
  auto step = [&h](std::uint64_t w) {
    h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
    h ^= h >> 29;
  };
  for (; n >= 8; p += 8, n -= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);  // a constant size compiles to one load
    step(w);
  }
  if (n > 0) {
    std::uint64_t w = 0;
    for (std::size_t i = 0; i < n; ++i)
      w |= static_cast<std::uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
    step(w);
  }
  return h;
}

std::uint32_t check_of(const char* text, std::size_t size) {
  std::uint64_t h = mix_range(text, 41, 0x243f6a8885a308d3ULL ^ size);
  h = mix_range(text + MessageCodec::kHeader, size - MessageCodec::kHeader, h);
  return static_cast<std::uint32_t>(h ^ (h >> 32));
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
  put_hex(p + 1, m.sender, 8);
  put_hex(p + 9, m.seq, 16);
  put_hex(p + 25, m.send_ns, 16);
  if (size_ > kHeader) {
    std::memcpy(p + kHeader, pad_pattern().data() + (m.seq + kHeader) % 26, size_ - kHeader);
  }
  put_hex(p + 41, check_of(p, size_), 8);
  p[size_] = '\n';
}

std::optional<Message> MessageCodec::decode(std::string_view text) const {
  if (text.size() != size_ || text[0] != 'm') return std::nullopt;
  const char* p = text.data();
  std::uint64_t sender, seq, ns, check;
  if (!get_hex(p + 1, 8, sender) || !get_hex(p + 9, 16, seq) || !get_hex(p + 25, 16, ns) ||
      !get_hex(p + 41, 8, check)) {
    return std::nullopt;
  }
  if (check != check_of(p, size_)) return std::nullopt;
  return Message{static_cast<std::uint32_t>(sender), seq, ns};
}

std::optional<std::string_view> MessageCodec::delivery_text(std::string_view line) {
  if (line.empty() || line[0] != '<') return std::nullopt;
  const auto end = line.find("> ");
  if (end == std::string_view::npos) return std::nullopt;
  return line.substr(end + 2);
}

}  // namespace mux
