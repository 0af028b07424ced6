// The once-a-second progress lines on stderr, as pure functions of the clock readings so that the
// edge cases (a reading taken just before the window opened) can be tested without a run.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mux {

// Seconds from `since_ns` to `now_ns`, never negative. The event loops read the clock once per
// turn and then open the window, whose start is read later: in that turn `now` precedes the start,
// and an unsigned difference wrapped to 2^64 ns ("window 18446744074/6 s").
double seconds_between(std::uint64_t since_ns, std::uint64_t now_ns);

// "warm-up 2/5 s".
std::string warmup_progress(std::uint64_t start_ns, std::uint64_t now_ns, double warmup_s);

// "window 3/6 s, 120 msgs (40/s)" plus ", p99 12.5 us" when p99_ns is given; `unit` names what
// is counted ("msgs", "connections").
std::string window_progress(std::uint64_t begin_ns, std::uint64_t now_ns, double duration_s,
                            std::uint64_t count, std::string_view unit,
                            std::optional<std::uint64_t> p99_ns);

}  // namespace mux
