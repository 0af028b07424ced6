#include "MicroPlan.h"

#include <fmt/format.h>

#include <chrono>
#include <thread>

namespace mux {

std::optional<std::string> acquire_pool(const MicroPlan& plan, std::int64_t n) {
  if (n > plan.capacity.max_watched) {
    return fmt::format(
        "N={} watched descriptors is more than this process can open: at most {}, "
        "capped by {}",
        n, plan.capacity.max_watched, plan.capacity.limited_by);
  }
  SocketPairPool& pool = shared_pool();
  const bool rebuild = n > pool.size();
  auto err = pool.ensure(n);
  if (!err && rebuild && plan.settle_ms > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(plan.settle_ms));
  }
  return err;
}

void register_sweep(const std::string& name, const std::function<void(benchmark::State&)>& fn,
                    const std::vector<std::int64_t>& args, const char* arg_name, bool manual_time,
                    benchmark::BigO fit, const std::function<bool(std::int64_t)>& will_run,
                    int repetitions) {
  benchmark::internal::Benchmark* fitted = nullptr;
  benchmark::internal::Benchmark* refused = nullptr;
  for (std::int64_t a : args) {
    const bool runs = will_run(a);
    auto*& b = runs ? fitted : refused;
    if (b == nullptr) {
      b = benchmark::RegisterBenchmark(name.c_str(), fn);
      b->ArgName(arg_name)->Unit(benchmark::kNanosecond);
      if (manual_time) b->UseManualTime();
      if (repetitions > 0) b->Repetitions(repetitions);
      if (runs) b->Complexity(fit);
    }
    b->Arg(a);
  }
}

}  // namespace mux
