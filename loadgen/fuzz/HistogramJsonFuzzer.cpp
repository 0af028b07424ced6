// Fuzz target: loadgen's reading of a --histogram-out document (parse_histogram_json, which
// plot/histograms.py's files and merged histograms go through), fed garbage. A bad file must be
// refused with a reason, never crash the reader or be half-read.
//
// Input: the bytes of a document.
// Invariants: a refusal has a reason; a document that is accepted, written back by
// histogram_json, reads back to the same histogram (every bucket count, min, max, sum) and the
// same identity.
#include <cstdint>
#include <string_view>

#include "FuzzCheck.h"
#include "HistogramJson.h"

using mux::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  mux::ParsedHistogram first;
  const auto err = mux::parse_histogram_json(text, first);
  if (err) {
    check(!err->empty(), "a refused document without a reason");
    return 0;
  }
  const std::string again = mux::histogram_json(first.histogram, first.identity);
  mux::ParsedHistogram second;
  const auto err2 = mux::parse_histogram_json(again, second);
  check(!err2, "an accepted document written back is refused: {}", err2.value_or(""));
  const mux::Histogram& a = first.histogram;
  const mux::Histogram& b = second.histogram;
  check(a.count() == b.count() && a.min() == b.min() && a.max() == b.max() && a.sum() == b.sum(),
        "written back: count {} min {} max {} sum {} became {} {} {} {}", a.count(), a.min(),
        a.max(), a.sum(), b.count(), b.min(), b.max(), b.sum());
  for (std::size_t i = 0; i < mux::Histogram::kBuckets; ++i) {
    check(a.count_at(i) == b.count_at(i), "bucket {}: {} written back as {}", i, a.count_at(i),
          b.count_at(i));
  }
  check(first.identity.mechanism == second.identity.mechanism &&
            first.identity.mode == second.identity.mode &&
            first.identity.idle == second.identity.idle &&
            first.identity.label == second.identity.label,
        "the identity changed when written back");
  return 0;
}
