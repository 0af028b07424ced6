#include "LineFramer.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

using mux::LineFramer;

namespace {
std::vector<std::string> feed_all(LineFramer& f, const std::vector<std::string>& chunks,
                                  LineFramer::Result* last = nullptr) {
  std::vector<std::string> lines;
  LineFramer::Result r = LineFramer::Result::kOk;
  for (const auto& c : chunks) {
    r = f.feed(c, [&](std::string_view l) {
      lines.emplace_back(l);
      return true;
    });
    if (r != LineFramer::Result::kOk) break;
  }
  if (last) *last = r;
  return lines;
}
}  // namespace

TEST(LineFramer, SplitsLinesAcrossReads) {
  LineFramer f(100);
  auto lines = feed_all(f, {"he", "llo\nwor", "ld\n", "\n", "tail"});
  EXPECT_EQ(lines, (std::vector<std::string>{"hello", "world", ""}));
  EXPECT_EQ(f.pending(), "tail");
}

TEST(LineFramer, DropsOnlyTheCarriageReturnBeforeNewline) {
  LineFramer f(100);
  auto lines = feed_all(f, {"a\r\nb\rc\r", "\n\r\r\n"});
  EXPECT_EQ(lines, (std::vector<std::string>{"a", "b\rc", "\r"}));
}

TEST(LineFramer, CarriageReturnSplitFromNewlineAcrossReads) {
  LineFramer f(100);
  auto lines = feed_all(f, {"abc\r", "\n"});
  EXPECT_EQ(lines, (std::vector<std::string>{"abc"}));
}

TEST(LineFramer, PassesEveryByteValueExceptNewline) {
  std::string all;
  for (int b = 0; b < 256; ++b)
    if (b != '\n') all.push_back(static_cast<char>(b));
  LineFramer f(1000);
  auto lines = feed_all(f, {all.substr(0, 100), all.substr(100) + "\n"});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], all);
}

TEST(LineFramer, LineOfExactlyMaxIsAccepted) {
  LineFramer f(8);
  LineFramer::Result r;
  auto lines = feed_all(f, {std::string(8, 'x') + "\n"}, &r);
  EXPECT_EQ(r, LineFramer::Result::kOk);
  EXPECT_EQ(lines.size(), 1u);
}

// Regression (fuzz target line_framer, tests/fuzz-corpus/line_framer/crash-cr-split-at-max-line):
// a line of exactly max_line bytes whose CRLF was split between two reads was refused.
TEST(LineFramer, LineOfExactlyMaxWithCarriageReturnSplitFromNewlineIsAccepted) {
  LineFramer f(3);
  LineFramer::Result r;
  auto lines = feed_all(f, {"abc\r", "\n"}, &r);
  EXPECT_EQ(r, LineFramer::Result::kOk);
  EXPECT_EQ(lines, (std::vector<std::string>{"abc"}));
  LineFramer g(3);
  feed_all(g, {"abc\r", "x"}, &r);
  EXPECT_EQ(r, LineFramer::Result::kTooLong);
}

TEST(LineFramer, OverlongLineInOneReadIsRejected) {
  LineFramer f(8);
  LineFramer::Result r;
  auto lines = feed_all(f, {"ok\n" + std::string(9, 'x') + "\n"}, &r);
  EXPECT_EQ(r, LineFramer::Result::kTooLong);
  EXPECT_EQ(lines, (std::vector<std::string>{"ok"}));
}

TEST(LineFramer, OverlongPartialLineIsRejectedBeforeItsNewline) {
  // A client that never sends '\n' must not make us buffer without bound.
  LineFramer f(8);
  LineFramer::Result r;
  feed_all(f, {"xxxxx", "xxxxx"}, &r);
  EXPECT_EQ(r, LineFramer::Result::kTooLong);
}

TEST(LineFramer, StopsWhenTheCallbackSaysSo) {
  LineFramer f(100);
  std::vector<std::string> seen;
  auto r = f.feed("/quit\nafter\n", [&](std::string_view l) {
    seen.emplace_back(l);
    return false;
  });
  EXPECT_EQ(r, LineFramer::Result::kStopped);
  EXPECT_EQ(seen, (std::vector<std::string>{"/quit"}));
}
