#include "IntervalSeries.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "RunResult.h"

namespace mux {

void IntervalSeries::open(std::uint64_t now_ns, std::uint64_t count, const Histogram& latency,
                          CpuTimes self) {
  edges_.clear();
  latencies_.clear();
  Edge e;
  e.t_ns = now_ns;
  e.count = count;
  e.self = self;
  edges_.push_back(e);
  last_ = latency;
}

std::uint64_t IntervalSeries::next_edge_ns() const {
  if (edges_.empty()) return 0;
  return edges_.front().t_ns + edges_.size() * interval_ns_;
}

std::size_t IntervalSeries::cut(std::uint64_t now_ns, std::uint64_t count, const Histogram& latency,
                                CpuTimes self) {
  Edge e;
  e.t_ns = now_ns;
  e.count = count;
  e.self = self;
  const Histogram part = latency.since(last_);
  e.latencies = part.count();
  if (part.count() > 0) {
    e.p50_ns = part.percentile(0.50);
    e.p99_ns = part.percentile(0.99);
  }
  if (keep_latencies_) latencies_.push_back(part);
  last_ = latency;
  edges_.push_back(e);
  return edges_.size() - 1;
}

const Histogram* IntervalSeries::latency_of(std::size_t index) const {
  if (index < 1 || index > latencies_.size()) return nullptr;
  return &latencies_[index - 1];
}

void IntervalSeries::server_at(std::size_t edge, double cpu_us, std::uint64_t at_ns) {
  if (edge >= edges_.size()) return;
  edges_[edge].server_us = cpu_us;
  edges_[edge].server_at_ns = at_ns;
}

std::vector<IntervalSeries::Interval> IntervalSeries::intervals() const {
  std::vector<Interval> out;
  if (edges_.empty()) return out;
  const std::uint64_t t0 = edges_.front().t_ns;
  auto since = [&](std::uint64_t t) { return t > t0 ? static_cast<double>(t - t0) / 1e9 : 0.0; };
  for (std::size_t k = 1; k < edges_.size(); ++k) {
    const Edge& a = edges_[k - 1];
    const Edge& b = edges_[k];
    Interval iv;
    iv.index = k;
    iv.start_s = since(a.t_ns);
    iv.end_s = since(b.t_ns);
    iv.msgs = b.count >= a.count ? b.count - a.count : 0;
    iv.latencies = b.latencies;
    if (b.p50_ns) iv.p50_us = static_cast<double>(*b.p50_ns) / 1e3;
    if (b.p99_ns) iv.p99_us = static_cast<double>(*b.p99_ns) / 1e3;
    const double us = static_cast<double>(b.t_ns - a.t_ns) / 1e3;
    if (us > 0) {
      iv.loadgen_cpu_pct = static_cast<double>(b.self.total_us() - a.self.total_us()) / us * 100;
    }
    if (b.server_us) {
      iv.server_lag_us =
          b.server_at_ns > b.t_ns ? static_cast<double>(b.server_at_ns - b.t_ns) / 1e3 : 0.0;
    }
    if (a.server_us && b.server_us && b.server_at_ns > a.server_at_ns) {
      iv.server_cpu_us = *b.server_us - *a.server_us;
      iv.server_cpu_pct =
          *iv.server_cpu_us / (static_cast<double>(b.server_at_ns - a.server_at_ns) / 1e3) * 100;
    }
    out.push_back(iv);
  }
  return out;
}

std::string series_csv_header() {
  return "mechanism,mode,idle,label,interval,start_s,end_s,msgs,msgs_per_s,latencies,p50_us,"
         "p99_us,loadgen_cpu_pct,server_cpu_us,server_cpu_pct,server_lag_us";
}

std::string IntervalSeries::csv(const HistogramIdentity& id) const {
  auto opt = [](const std::optional<double>& v) { return v ? csv_number(*v) : std::string(); };
  // The label is free text: quoted as the row quotes it.
  std::string label = id.label;
  if (label.find_first_of(",\"\n") != std::string::npos) {
    std::string q = "\"";
    for (char ch : label) {
      if (ch == '"') q += '"';
      q += ch;
    }
    label = q + "\"";
  }
  std::string out = series_csv_header() + "\n";
  for (const Interval& iv : intervals()) {
    const double len = iv.end_s - iv.start_s;
    out += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", id.mechanism, id.mode,
                       id.idle, label, iv.index, csv_number(iv.start_s), csv_number(iv.end_s),
                       iv.msgs, len > 0 ? csv_number(static_cast<double>(iv.msgs) / len) : "",
                       iv.latencies, opt(iv.p50_us), opt(iv.p99_us), opt(iv.loadgen_cpu_pct),
                       opt(iv.server_cpu_us), opt(iv.server_cpu_pct), opt(iv.server_lag_us));
  }
  return out;
}

}  // namespace mux
