// Test helper for plot/tests/test_histograms.py: records the nanosecond values read from stdin
// (whitespace separated) in one mux::Histogram, writes it to argv[1] with --histogram-out's
// serialiser, and prints "q percentile(q)" for each quantile given as a further argument, so the
// Python reader is checked against the C++ percentiles without any timing.
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include <fmt/format.h>

#include "HistogramJson.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: histogram_fixture OUT.json [q...] < values\n");
    return 2;
  }
  mux::Histogram h;
  std::uint64_t v = 0;
  while (std::cin >> v) h.record(v);
  if (!std::cin.eof()) {
    std::fprintf(stderr, "histogram_fixture: stdin holds something other than integers\n");
    return 2;
  }
  if (auto err = mux::write_histogram_file(argv[1], h, {"fixture", "none", 0, argv[1]})) {
    std::fprintf(stderr, "histogram_fixture: %s: %s\n", argv[1], err->c_str());
    return 1;
  }
  for (int i = 2; i < argc; ++i) {
    fmt::print("{} {}\n", argv[i], h.percentile(std::strtod(argv[i], nullptr)));
  }
  return 0;
}
