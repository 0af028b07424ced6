#include "MessageCodec.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace mux {
namespace {

TEST(MessageCodec, RoundTripsAndIsExactlySizeBytesPlusNewline) {
  for (std::size_t size : {MessageCodec::kHeader, std::size_t{64}, std::size_t{1000}}) {
    MessageCodec c(size);
    std::string out;
    const Message m{0xdeadbeef, 123456789012345ULL, 987654321098765ULL};
    c.encode(m, out);
    ASSERT_EQ(out.size(), size + 1);
    EXPECT_EQ(out.back(), '\n');
    auto back = c.decode(std::string_view(out).substr(0, size));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, m);
  }
}

TEST(MessageCodec, TextIsPrintableWithoutNewlines) {
  MessageCodec c(300);
  std::string out;
  c.encode(Message{7, 99, 12345}, out);
  for (std::size_t i = 0; i + 1 < out.size(); ++i) {
    EXPECT_TRUE(out[i] >= 0x21 && out[i] <= 0x7e) << "byte " << i;
  }
}

TEST(MessageCodec, AppendsSoSeveralMessagesShareABuffer) {
  MessageCodec c(64);
  std::string out;
  c.encode(Message{1, 1, 1}, out);
  c.encode(Message{1, 2, 2}, out);
  ASSERT_EQ(out.size(), 130u);
  EXPECT_EQ(c.decode(std::string_view(out).substr(65, 64))->seq, 2u);
}

TEST(MessageCodec, EveryCorruptedByteIsDetected) {
  MessageCodec c(80);
  std::string out;
  c.encode(Message{42, 4242, 424242}, out);
  const std::string good = out.substr(0, 80);
  for (std::size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = bad[i] == 'x' ? 'y' : 'x';
    EXPECT_FALSE(c.decode(bad).has_value()) << "byte " << i;
  }
}

TEST(MessageCodec, RoundTripsExtremeFieldValues) {
  MessageCodec c(MessageCodec::kHeader);
  for (const Message& m : {Message{0, 0, 0}, Message{0xffffffff, ~0ULL, ~0ULL},
                           Message{0x9a0f5e21, 0x0123456789abcdefULL, 0xfedcba9876543210ULL}}) {
    std::string out;
    c.encode(m, out);
    EXPECT_EQ(c.decode(std::string_view(out).substr(0, c.size())), m) << out;
  }
  std::string out;
  c.encode(Message{0xabcdef01, 0x10, 0xff}, out);
  EXPECT_EQ(out.substr(0, 41), "mabcdef01000000000000001000000000000000ff");
}

TEST(MessageCodec, AnyByteButALowercaseHexDigitInAHexFieldIsRejected) {
  MessageCodec c(64);
  std::string out;
  c.encode(Message{0x01234567, 0x89abcdef01234567ULL, 0x0f1e2d3c4b5a6978ULL}, out);
  const std::string good = out.substr(0, 64);
  const std::string hex = "0123456789abcdef";
  for (std::size_t i = 1; i < MessageCodec::kHeader; ++i) {
    for (int b = 0; b < 256; ++b) {
      if (hex.find(static_cast<char>(b)) != std::string::npos) continue;
      std::string bad = good;
      bad[i] = static_cast<char>(b);
      EXPECT_FALSE(c.decode(bad).has_value()) << "byte " << i << " = " << b;
    }
  }
}

TEST(MessageCodec, WrongLengthIsRejected) {
  MessageCodec c(64);
  std::string out;
  c.encode(Message{1, 2, 3}, out);
  EXPECT_FALSE(c.decode(std::string_view(out).substr(0, 63)).has_value());
  EXPECT_FALSE(c.decode(out).has_value());  // 65 bytes with the newline
  EXPECT_FALSE(c.decode("").has_value());
}

TEST(MessageCodec, SizeBelowHeaderIsRefused) {
  EXPECT_THROW(MessageCodec(MessageCodec::kHeader - 1), std::invalid_argument);
}

TEST(MessageCodec, DeliveryTextIsWhatFollowsTheNick) {
  EXPECT_EQ(MessageCodec::delivery_text("<alice> hello there"), "hello there");
  EXPECT_EQ(MessageCodec::delivery_text("<a> "), "");
  EXPECT_FALSE(MessageCodec::delivery_text("* you joined r1").has_value());
  EXPECT_FALSE(MessageCodec::delivery_text("! unknown command: /x").has_value());
  EXPECT_FALSE(MessageCodec::delivery_text("{\"mechanism\":\"poll\"}").has_value());
  EXPECT_FALSE(MessageCodec::delivery_text("<broken").has_value());
}

}  // namespace
}  // namespace mux
