#include "ArrivalSchedule.h"

#include <cmath>

namespace mux {

ArrivalSchedule::ArrivalSchedule(Kind kind, double rate, std::uint64_t seed)
    : kind_(kind), interval_ns_(1e9 / rate), rng_(seed) {}

std::optional<ArrivalSchedule::Kind> ArrivalSchedule::parse(const std::string& name) {
  if (name == "fixed") return Kind::kFixed;
  if (name == "poisson") return Kind::kPoisson;
  return std::nullopt;
}

void ArrivalSchedule::start(std::uint64_t start_ns) {
  start_ns_ = start_ns;
  next_ns_ = start_ns;
  n_ = 0;
  poisson_offset_ns_ = 0;
}

void ArrivalSchedule::advance() {
  ++n_;
  if (kind_ == Kind::kFixed) {
    next_ns_ = start_ns_ + static_cast<std::uint64_t>(static_cast<double>(n_) * interval_ns_);
    return;
  }
  // u in [0, 1) from the top 53 bits; 1 - u in (0, 1], so the logarithm is finite.
  const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
  poisson_offset_ns_ += -std::log1p(-u) * interval_ns_;
  next_ns_ = start_ns_ + static_cast<std::uint64_t>(poisson_offset_ns_);
}

}  // namespace mux
