"""plot/histograms.py against the C++ histogram: merging the histograms of two loadgen processes
gives exactly the percentiles of one process holding all the samples.

No timing: build/tests/histogram_fixture (loadgen/tests/histogram_fixture.cpp) records the
values it reads in one mux::Histogram, writes it with loadgen's --histogram-out serialiser and
prints the C++ percentiles. It is found in $MUXBENCH_TESTS_BIN, else next to ctest's working
directory (<build>/plot -> <build>/tests), else <repo>/build/tests.
"""

import io
import json
import os
import random
import subprocess
import tempfile
import unittest
from contextlib import redirect_stdout

from plot import histograms

HERE = os.path.dirname(os.path.abspath(__file__))


QUANTILES = [
    0.0,
    1e-6,
    0.001,
    0.01,
    0.1,
    0.25,
    0.5,
    0.75,
    0.9,
    0.95,
    0.99,
    0.995,
    0.999,
    0.9999,
    0.99999,
    1.0,
]


def fixture_program():
    candidates = [
        os.environ.get("MUXBENCH_TESTS_BIN", ""),
        os.path.join(HERE, os.pardir, os.pardir, "build", "tests"),
    ]
    for d in candidates:
        path = os.path.join(d, "histogram_fixture")
        if d and os.access(path, os.X_OK):
            return os.path.abspath(path)
    raise AssertionError(
        "histogram_fixture not found: build it (cmake --build <build>) or set "
        "MUXBENCH_TESTS_BIN to <build>/tests; looked in " + ", ".join(candidates)
    )


def cpp_histogram(values, path, quantiles=QUANTILES):
    """Writes values as one C++ Histogram to path; returns {q: C++ percentile(q)}."""
    out = subprocess.run(
        [fixture_program(), path] + [repr(q) for q in quantiles],
        input=" ".join(str(v) for v in values),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return {float(q): int(v) for q, v in (line.split() for line in out.splitlines())}


class MergeEqualsOneProcess(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def path(self, name):
        return os.path.join(self.dir.name, name)

    def check_merge(self, a_values, b_values):
        quantiles = QUANTILES + sorted(random.Random(9).random() for _ in range(200))
        cpp_a = cpp_histogram(a_values, self.path("a.json"), quantiles)
        cpp_b = cpp_histogram(b_values, self.path("b.json"), quantiles)
        cpp_all = cpp_histogram(a_values + b_values, self.path("all.json"), quantiles)
        a, b = histograms.load(self.path("a.json")), histograms.load(self.path("b.json"))
        one = histograms.load(self.path("all.json"))
        merged = histograms.merge([a, b])
        self.assertEqual(merged.counts, one.counts)
        self.assertEqual(merged.total_count, len(a_values) + len(b_values))
        self.assertEqual((merged.min, merged.max, merged.sum), (one.min, one.max, one.sum))
        self.assertEqual(merged.sum, sum(a_values) + sum(b_values))
        self.assertEqual(merged.mean, one.mean)
        for q in quantiles:
            # The reader computes what the C++ computes, file by file and merged.
            self.assertEqual(a.percentile(q), cpp_a[q], f"A q={q}")
            self.assertEqual(b.percentile(q), cpp_b[q], f"B q={q}")
            self.assertEqual(one.percentile(q), cpp_all[q], f"all q={q}")
            self.assertEqual(merged.percentile(q), cpp_all[q], f"A+B q={q}")
        return merged

    def test_two_processes_with_disjoint_samples_merge_to_the_one_holding_all(self):
        rng = random.Random(1)
        # Disjoint: A's values are even, B's odd; different shapes so the tails differ.
        a = [2 * int(rng.lognormvariate(9.5, 1.0)) for _ in range(20_000)]
        b = [2 * int(rng.uniform(3_000, 400_000)) + 1 for _ in range(7_000)]
        b += [2 * int(rng.uniform(1e6, 2e8)) + 1 for _ in range(50)]
        self.assertFalse(set(a) & set(b))
        merged = self.check_merge(a, b)
        # Why merging adds counts: the average of the two p99s is not the p99 of all samples.
        averaged = (
            histograms.load(self.path("a.json")).percentile(0.99)
            + histograms.load(self.path("b.json")).percentile(0.99)
        ) / 2
        self.assertGreater(abs(averaged - merged.percentile(0.99)), 0.05 * merged.percentile(0.99))

    def test_exact_buckets_the_overflow_bucket_and_a_lone_sample(self):
        self.check_merge([1, 3, 255, 256, 257, 1_000], [2, 4, 10**12, 3 * 10**11])
        self.check_merge([54_321], [])
        self.check_merge([], [])

    def test_merge_of_many_is_associative_and_keeps_agreeing_identity(self):
        rng = random.Random(4)
        parts = [[rng.randrange(1, 10**7) for _ in range(500)] for _ in range(5)]
        for i, values in enumerate(parts):
            cpp_histogram(values, self.path(f"p{i}.json"))
        loaded = [histograms.load(self.path(f"p{i}.json")) for i in range(5)]
        flat = histograms.merge(loaded)
        nested = histograms.merge([histograms.merge(loaded[:2]), histograms.merge(loaded[2:])])
        self.assertEqual(flat.counts, nested.counts)
        self.assertEqual((flat.min, flat.max, flat.sum), (nested.min, nested.max, nested.sum))
        self.assertEqual(flat.identity["mechanism"], "fixture")  # every input agrees
        self.assertIsNone(flat.identity["label"])  # the fixture labels each file by its path
        self.assertEqual(len(flat.sources), 5)


class Layout(unittest.TestCase):
    def test_bucket_bounds_tile_the_range_as_the_cpp_scheme_does(self):
        for i in range(histograms.BUCKETS - 1):
            low, high = histograms.bucket_bounds(i)
            self.assertEqual(histograms.bucket_of(low), i)
            self.assertEqual(histograms.bucket_of(high - 1), i)
            self.assertEqual(histograms.bucket_bounds(i + 1)[0], high)
        self.assertEqual(histograms.bucket_of(histograms.MAX_TRACKABLE), histograms.BUCKETS - 1)

    def test_the_file_states_its_scheme_and_every_bound(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "h.json")
            cpp_histogram([100, 100, 5_000], path, [])
            with open(path) as f:
                doc = json.load(f)
        self.assertEqual(
            (doc["format"], doc["version"], doc["unit"]), ("muxbench-histogram", 1, "ns")
        )
        scheme = doc["scheme"]
        self.assertEqual(
            (
                scheme["linear_below"],
                scheme["sub_buckets"],
                scheme["buckets"],
                scheme["max_trackable"],
            ),
            (
                histograms.LINEAR_BELOW,
                histograms.SUB_BUCKETS,
                histograms.BUCKETS,
                histograms.MAX_TRACKABLE,
            ),
        )
        self.assertEqual(
            (doc["total_count"], doc["min"], doc["max"], doc["sum"]), (3, 100, 5_000, 5_200)
        )
        self.assertEqual(doc["buckets"][0], {"index": 100, "low": 100, "high": 101, "count": 2})
        self.assertEqual(len(doc["buckets"]), 2)
        for key in histograms.IDENTITY:
            self.assertIn(key, doc)
        # What the reader writes back is what it read.
        self.assertEqual(
            {k: v for k, v in histograms.from_json(doc).to_json().items() if k not in ("scheme",)},
            {k: v for k, v in doc.items() if k not in ("scheme",)},
        )

    def test_files_that_are_not_histograms_are_refused(self):
        h = histograms.Histogram({histograms.bucket_of(5_000): 2}, 4_990, 5_010, 10_000)
        good = h.to_json()
        histograms.from_json(good)
        for change in (
            {"format": "other"},
            {"version": 2},
            {"unit": "us"},
            {"total_count": 3},
            {"buckets": [dict(good["buckets"][0], low=1)]},
        ):
            with self.subTest(change=change), self.assertRaises(histograms.HistogramError):
                histograms.from_json(dict(good, **change))


class CommandLine(unittest.TestCase):
    def test_prints_the_merged_count_and_percentiles_and_writes_the_merge(self):
        with tempfile.TemporaryDirectory() as d:
            a, b, both = (os.path.join(d, n) for n in ("a.json", "b.json", "both.json"))
            cpp_histogram([1_000, 2_000, 3_000], a, [])
            cpp_all = cpp_histogram([1_000, 2_000, 3_000, 4_000_000], both, [0.5, 0.99])
            cpp_histogram([4_000_000], b, [])
            out = io.StringIO()
            merged_path = os.path.join(d, "merged.json")
            with redirect_stdout(out):
                self.assertEqual(histograms.main([a, b, "--out", merged_path]), 0)
            lines = dict(line.split() for line in out.getvalue().splitlines())
            self.assertEqual(lines["count"], "4")
            self.assertEqual(lines["p50_us"], f"{cpp_all[0.5] / 1000:.3f}".rstrip("0").rstrip("."))
            self.assertEqual(lines["max_us"], "4000")
            self.assertEqual(histograms.load(merged_path).counts, histograms.load(both).counts)
            bad = os.path.join(d, "bad.json")
            with open(bad, "w") as f:
                f.write("{")
            with redirect_stdout(io.StringIO()):
                self.assertEqual(histograms.main([a, bad]), 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
