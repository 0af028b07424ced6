// The intended send times of an open-loop mode (broadcast, rate): message n is due at
// start + t(n), whatever the server's replies do, so a server that stalls cannot slow the offered
// load down and hide its stall (coordinated omission; wrk2, HdrHistogram).
//
//   fixed    t(n) = n / rate: even gaps, computed from the start rather than added up, so the
//            rounding of one gap never accumulates into drift.
//   poisson  exponential gaps of mean 1 / rate (independent arrivals, as many clients would
//            offer), drawn from a 64-bit Mersenne Twister seeded with `seed`, by inverse transform
//            on 53-bit uniforms: the same seed gives the same schedule on every machine and build
//            (std::exponential_distribution's algorithm is the library's choice, not ours).
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>

namespace mux {

class ArrivalSchedule {
 public:
  enum class Kind { kFixed, kPoisson };

  // rate > 0 messages/s.
  ArrivalSchedule(Kind kind, double rate, std::uint64_t seed);

  // "fixed" or "poisson"; nullopt for anything else.
  static std::optional<Kind> parse(const std::string& name);

  // The schedule starts at start_ns: the first message is due then.
  void start(std::uint64_t start_ns);
  // When the next message is due.
  std::uint64_t next_ns() const { return next_ns_; }
  // Messages sent so far (the number of the next one).
  std::uint64_t sent() const { return n_; }
  // The next message was sent: move on to the one after it.
  void advance();

 private:
  Kind kind_;
  double interval_ns_;  // the mean gap
  std::mt19937_64 rng_;
  std::uint64_t start_ns_ = 0, next_ns_ = 0, n_ = 0;
  double poisson_offset_ns_ = 0;  // poisson: the sum of the gaps so far
};

}  // namespace mux
