#include "MessageCodec.h"

#include <stdexcept>

namespace mux {

namespace {

constexpr char kHex[] = "0123456789abcdef";

void put_hex(char* p, std::uint64_t v, int digits) {
  for (int i = digits - 1; i >= 0; --i) {
    p[i] = kHex[v & 0xf];
    v >>= 4;
  }
}

bool get_hex(const char* p, int digits, std::uint64_t& v) {
  v = 0;
  for (int i = 0; i < digits; ++i) {
    const char c = p[i];
    std::uint64_t d;
    if (c >= '0' && c <= '9') {
      d = static_cast<std::uint64_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      d = static_cast<std::uint64_t>(c - 'a' + 10);
    } else {
      return false;
    }
    v = (v << 4) | d;
  }
  return true;
}

// FNV-1a, 32 bits: cheap and good enough to tell a damaged line from an intact one.
std::uint32_t check_of(const char* text, std::size_t size) {
  std::uint32_t h = 2166136261u;
  auto mix = [&h](char c) {
    h ^= static_cast<unsigned char>(c);
    h *= 16777619u;
  };
  for (std::size_t i = 0; i < 41; ++i) mix(text[i]);
  for (std::size_t i = MessageCodec::kHeader; i < size; ++i) mix(text[i]);
  return h;
}

}  // namespace

MessageCodec::MessageCodec(std::size_t size) : size_(size) {
  if (size < kHeader) throw std::invalid_argument("message size below the header size");
}

void MessageCodec::encode(const Message& m, std::string& out) const {
  const std::size_t at = out.size();
  out.resize(at + size_ + 1);
  char* p = out.data() + at;
  p[0] = 'm';
  put_hex(p + 1, m.sender, 8);
  put_hex(p + 9, m.seq, 16);
  put_hex(p + 25, m.send_ns, 16);
  for (std::size_t i = kHeader; i < size_; ++i) {
    p[i] = static_cast<char>('a' + (m.seq + i) % 26);
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
