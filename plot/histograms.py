"""Read and merge the latency histograms that `loadgen --histogram-out FILE` writes.

A histogram is bucket counts, so histograms of one measured point taken by several loadgen
processes (or hosts) merge exactly by adding counts; their percentiles are then those of one
process that saw every sample. Averaging the processes' percentiles is wrong and is never done
here. Standard library only.

    from plot import histograms                              # from the muxbench root
    h = histograms.merge([histograms.load(p) for p in paths])
    h.total_count, h.percentile(0.99), h.mean, h.max        # nanoseconds

    /usr/bin/python3 -m plot.histograms A.json B.json        # merged count and percentiles (µs)
    /usr/bin/python3 -m plot.histograms A.json B.json --out merged.json

The file layout (format "muxbench-histogram", version 1) is documented in
docs/loadgen.md#latency-histograms---histogram-out-file. percentile() is the C++
mux::Histogram::percentile (loadgen/Histogram.cpp) step by step, so a loaded file gives exactly
the row's p50_us .. p999_us (times 1000).
"""

import argparse
import json
import math
import sys

FORMAT = "muxbench-histogram"
VERSION = 1

# The bucketing scheme of loadgen/Histogram.h: values below LINEAR_BELOW ns are their own bucket,
# then SUB_BUCKETS linear sub-buckets per power of two; the last of BUCKETS buckets also counts
# every value above MAX_TRACKABLE.
SUB_BITS = 7
SUB_BUCKETS = 1 << SUB_BITS
LINEAR_BELOW = 2 * SUB_BUCKETS
BUCKETS = 3899
MAX_TRACKABLE = 100_000_000_000

IDENTITY = ("mechanism", "mode", "idle", "label")


class HistogramError(ValueError):
    """A file that is not a muxbench histogram, or histograms that cannot be merged."""


def bucket_bounds(index):
    """[low, high) in ns of bucket `index`, as Histogram::lowest_in and width_of compute them."""
    if not 0 <= index < BUCKETS:
        raise HistogramError(f"bucket index {index} out of range 0..{BUCKETS - 1}")
    if index < LINEAR_BELOW:
        return index, index + 1
    shift = (index - LINEAR_BELOW) // SUB_BUCKETS + 1
    low = ((index - LINEAR_BELOW) % SUB_BUCKETS + SUB_BUCKETS) << shift
    return low, low + (1 << shift)


def bucket_of(ns):
    """The bucket index a value of `ns` nanoseconds is counted in (Histogram::record)."""
    ns = min(int(ns), MAX_TRACKABLE)
    if ns < LINEAR_BELOW:
        return ns
    top = ns.bit_length() - 1
    shift = top - SUB_BITS
    return min(LINEAR_BELOW + (shift - 1) * SUB_BUCKETS + (ns >> shift) - SUB_BUCKETS, BUCKETS - 1)


class Histogram:
    """Bucket counts in ns: counts maps bucket index -> count (non-empty buckets only).

    identity holds mechanism, mode, idle and label; after a merge, a field on which the inputs
    disagree is None. sources lists the files it was loaded from.
    """

    def __init__(self, counts=None, min=0, max=0, sum=0, identity=None, sources=None):
        self.counts = {int(i): int(n) for i, n in (counts or {}).items() if n}
        for i in self.counts:
            bucket_bounds(i)
        self.min = int(min)
        self.max = int(max)
        self.sum = int(sum)
        self.identity = dict(identity or {})
        self.sources = list(sources or [])

    @property
    def total_count(self):
        return sum(self.counts.values())

    @property
    def mean(self):
        """Mean in ns (0.0 when empty), from the exact sum."""
        n = self.total_count
        return self.sum / n if n else 0.0

    def percentile(self, q):
        """The value in ns at quantile q, exactly as mux::Histogram::percentile computes it.

        q <= 0 gives min and q >= 1 max. Otherwise rank = max(1, ceil(q * count)) (in double
        precision, as in C++), the first bucket whose cumulative count reaches rank, and its
        midpoint low + (width - 1) // 2, clamped to [min, max]. 0 when empty.
        """
        n = self.total_count
        if n == 0:
            return 0
        if q <= 0.0:
            return self.min
        if q >= 1.0:
            return self.max
        rank = max(1, math.ceil(float(q) * float(n)))
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= rank:
                low, high = bucket_bounds(index)
                mid = low + (high - low - 1) // 2
                return min(max(mid, self.min), self.max)
        return self.max

    def to_json(self):
        """The document in loadgen's layout (what --histogram-out writes for these counts)."""
        doc = {"format": FORMAT, "version": VERSION, "unit": "ns"}
        for key in IDENTITY:
            doc[key] = self.identity.get(key)
        doc["scheme"] = {
            "name": "log-linear",
            "linear_below": LINEAR_BELOW,
            "sub_buckets": SUB_BUCKETS,
            "buckets": BUCKETS,
            "max_trackable": MAX_TRACKABLE,
        }
        doc.update(total_count=self.total_count, min=self.min, max=self.max, sum=self.sum)
        doc["buckets"] = [
            dict(zip(("index", "low", "high"), (i, *bucket_bounds(i))), count=self.counts[i])
            for i in sorted(self.counts)
        ]
        return doc


def _require(doc, key, kind, where):
    value = doc.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise HistogramError(f'{where}: "{key}" missing or not {kind.__name__}')
    return value


def from_json(doc, where="histogram"):
    """A Histogram from a parsed document; checks format, version, unit, bounds and total."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise HistogramError(f"{where}: not a {FORMAT} document")
    if doc.get("version") != VERSION:
        raise HistogramError(
            f"{where}: version {doc.get('version')!r}: this reader knows {VERSION}"
        )
    if doc.get("unit") != "ns":
        raise HistogramError(f"{where}: unit {doc.get('unit')!r}: expected ns")
    counts = {}
    for b in _require(doc, "buckets", list, where):
        if not isinstance(b, dict):
            raise HistogramError(f"{where}: a bucket is not an object")
        index, count = _require(b, "index", int, where), _require(b, "count", int, where)
        if bucket_bounds(index) != (b.get("low"), b.get("high")):
            raise HistogramError(
                f"{where}: bucket {index}: bounds [{b.get('low')}, "
                f"{b.get('high')}) disagree with the scheme"
            )
        if count < 0:
            raise HistogramError(f"{where}: bucket {index}: negative count")
        counts[index] = counts.get(index, 0) + count
    h = Histogram(
        counts,
        _require(doc, "min", int, where),
        _require(doc, "max", int, where),
        _require(doc, "sum", int, where),
        {k: doc.get(k) for k in IDENTITY},
        [where],
    )
    if h.total_count != _require(doc, "total_count", int, where):
        raise HistogramError(
            f"{where}: total_count {doc['total_count']} but the buckets hold {h.total_count}"
        )
    return h


def load(path):
    """The Histogram in the file `path` (HistogramError when it is not one)."""
    with open(path, encoding="utf-8") as f:
        try:
            doc = json.load(f)
        except json.JSONDecodeError as e:
            raise HistogramError(f"{path}: not JSON: {e}") from None
    return from_json(doc, str(path))


def merge(histograms):
    """One Histogram holding every sample of `histograms`: counts and sums added, min of the
    mins and max of the maxes over the non-empty ones. Never averages percentiles."""
    histograms = list(histograms)
    counts, total_sum, sources = {}, 0, []
    lows, highs = [], []
    for h in histograms:
        for i, n in h.counts.items():
            counts[i] = counts.get(i, 0) + n
        total_sum += h.sum
        sources += h.sources
        if h.total_count:
            lows.append(h.min)
            highs.append(h.max)
    identity = {}
    for key in IDENTITY:
        values = {h.identity.get(key) for h in histograms}
        identity[key] = values.pop() if len(values) == 1 else None
    return Histogram(
        counts, min(lows, default=0), max(highs, default=0), total_sum, identity, sources
    )


def _us(ns):
    # As loadgen prints a row's µs figures: three decimals, trailing zeros dropped.
    return f"{ns / 1000:.3f}".rstrip("0").rstrip(".")


def summary(h):
    """The merged count and percentiles in µs, keyed like loadgen's row columns."""
    return {
        "count": h.total_count,
        "p50_us": _us(h.percentile(0.5)),
        "p90_us": _us(h.percentile(0.9)),
        "p99_us": _us(h.percentile(0.99)),
        "p999_us": _us(h.percentile(0.999)),
        "max_us": _us(h.max),
        "mean_us": _us(h.mean),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=(
            "Merge loadgen --histogram-out files by adding counts; print the merged "
            "count and p50/p90/p99/p99.9/max/mean in µs, one 'key value' per line."
        )
    )
    parser.add_argument("files", nargs="+", metavar="FILE")
    parser.add_argument("--out", metavar="FILE", help="also write the merged histogram here")
    args = parser.parse_args(argv)
    try:
        merged = merge(load(p) for p in args.files)
    except (OSError, HistogramError) as e:
        print(f"histograms.py: {e}", file=sys.stderr)
        return 1
    for key, value in summary(merged).items():
        print(f"{key} {value}")
    if args.out:
        try:
            with open(args.out, "w", encoding="utf-8") as f:
                json.dump(merged.to_json(), f, indent=1)
                f.write("\n")
        except OSError as e:
            print(f"histograms.py: {e}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
