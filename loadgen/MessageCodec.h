// The text of a load-generator message, as one chat line.
//
// The chat server delivers `<NICK> text` to the other members of the room, so the text must be
// printable and free of '\n'. Fixed-width hex fields keep encoding and decoding branch-light:
//
//   m SSSSSSSS QQQQQQQQQQQQQQQQ TTTTTTTTTTTTTTTT CCCCCCCC pad...     (no spaces on the wire)
//   sender(8) seq(16) send time in ns of CLOCK_MONOTONIC(16) check(8), then padding
//
// The padding ('a'..'z', a function of seq) brings the text to exactly `size` bytes and is
// compared with what seq says it must be; the check (a 32-bit hash of sender, seq and send time,
// whose hex spellings are unique) covers the header, so a corrupted byte anywhere is detected.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mux {

// The longest server line the load generator buffers. Deliveries are at most --size plus a nick;
// the bound only stops a broken server from growing our memory without limit.
constexpr std::size_t kMaxServerLine = 1 << 20;

struct Message {
  std::uint32_t sender = 0;
  std::uint64_t seq = 0;
  std::uint64_t send_ns = 0;  // intended send time (open loop) or actual send time
  bool operator==(const Message&) const = default;
};

class MessageCodec {
 public:
  static constexpr std::size_t kHeader = 1 + 8 + 16 + 16 + 8;  // smallest possible --size

  // size = bytes of text, without the '\n' that ends the line; must be >= kHeader.
  explicit MessageCodec(std::size_t size);
  std::size_t size() const { return size_; }

  // Appends the text of m and '\n' to out.
  void encode(const Message& m, std::string& out) const;
  // Decodes the text of one line (without '\n'); nullopt if its length, format or check is wrong.
  std::optional<Message> decode(std::string_view text) const;

  // The text of a chat delivery `<NICK> text`; nullopt if the line is not a delivery (server
  // lines start with "* ", "! " or "{").
  static std::optional<std::string_view> delivery_text(std::string_view line);

 private:
  std::size_t size_;
};

}  // namespace mux
