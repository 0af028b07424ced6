"""The sweep's offered-load phase (--curves) end to end against the fake servers and the fake
loadgen, whose open-loop model is a single queue per server: p99 = 80 us / (1 - load), a capacity
of 10^6 / (20 us + 0.2 us per idle connection for select and poll) msg/s (harness/common/tests/
fakes/fake_loadgen.py). Behaviour, not timing: which rows, what stopped a curve, which capacity
the rows give, what env.json, the plots and the report say."""

import os
import shutil
import statistics
import tempfile
import unittest

from harness.sweep.tests import sweep_test_support
from harness.sweep.tests.sweep_test_support import make_fake_bin, run_sweep
from harness.sweep import curves as sweep_curves
from plot import curves
from plot import rules
from plot.results_folder import ResultsFolder

FAST = sweep_test_support.FAST + ["--modes", "pingpong,flood"]


def model_capacity(mechanism, idle):
    """The fake server's capacity at 100 % of a CPU, without its +-2 % instance noise."""
    return 1e6 / (20.0 + (0.2 * idle if mechanism in ("select", "poll") else 0.0))


def as_float(row, key):
    return float(row[key])


class CurvesSweepTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sweep-curves-")
        cls.bin = make_fake_bin(os.path.join(cls.tmp, "bin"), ("chat-poll", "chat-epoll"))
        cls.result = run_sweep(
            cls.bin,
            FAST + "--mechanisms poll,epoll-lt --counts 0,100 --repeats 1 --curves".split(),
            plots=True,
            timeout=300,
            out_root=os.path.join(cls.tmp, "out"),
        )

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def rate_rows(self, mechanism=None, idle=None, label=None):
        return [
            r
            for r in self.result.rows
            if r["mode"] == "rate"
            and mechanism in (None, r["mechanism"])
            and idle in (None, int(r["idle"]))
            and label in (None, r["label"])
        ]

    def test_the_sweep_succeeds_and_says_what_it_planned(self):
        self.assertEqual(self.result.returncode, 0, self.result.stderr)
        self.assertIn("+ offered-load curves and capacities at p99 <= 1000 us", self.result.stderr)
        self.assertIn("(5 fresh instances per count", self.result.stderr)

    def test_every_point_has_a_curve_that_starts_low_and_stops_past_its_knee(self):
        for mech in ("poll", "epoll-lt"):
            for idle in (0, 100):
                curve = self.rate_rows(mech, idle, curves.CURVE)
                self.assertGreaterEqual(len(curve), 4, (mech, idle))
                self.assertTrue(all(r["bench_status"] == "ok" for r in curve[:-1]))
                self.assertEqual({r["repeat"] for r in curve}, {"1"})
                rates = [as_float(r, "rate") for r in curve]
                # Each window holds P99_MIN_SAMPLES replies where that fits.
                for r in curve:
                    want = min(
                        sweep_curves.MAX_RATE_WINDOW_S,
                        max(0.01, sweep_curves.P99_MIN_SAMPLES / as_float(r, "rate")),
                    )
                    self.assertAlmostEqual(as_float(r, "duration_s"), want, delta=0.002)
                # Log-spaced, 4 steps a decade, from 5 % of the ping-pong point's capacity in
                # questions (half its relayed messages).
                for a, b in zip(rates, rates[1:]):
                    self.assertAlmostEqual(b / a, 10**0.25, delta=0.01)
                pingpong = [
                    as_float(r, "server_capacity_msgs_s")
                    for r in self.result.rows
                    if (r["mechanism"], r["mode"], int(r["idle"])) == (mech, "pingpong", idle)
                ]
                self.assertAlmostEqual(
                    rates[0] / (0.05 * statistics.median(pingpong) / 2), 1.0, delta=0.001
                )
                # Stopped at the first rate the server did not carry or whose p99 exploded.
                last = curve[-1]
                first_p99 = as_float(curve[0], "p99_us")
                self.assertTrue(
                    as_float(last, "throughput_msgs_s") < 0.9 * as_float(last, "rate")
                    or as_float(last, "p99_us") > 100 * first_p99
                    or as_float(last, "lost") > 0,
                    last,
                )
                for r in curve[:-1]:
                    self.assertGreaterEqual(
                        as_float(r, "throughput_msgs_s"), 0.9 * as_float(r, "rate")
                    )

    def test_capacity_is_bisected_in_fresh_instances_with_an_interval(self):
        results = ResultsFolder(self.result.out_dir)
        found = curves.Curves(results)
        self.assertEqual(found.slo_p99_us, rules.DEFAULT_SLO_P99_US)
        for mech in ("poll", "epoll-lt"):
            for idle in (0, 100):
                rows = self.rate_rows(mech, idle, curves.CURVE)
                rows += self.rate_rows(mech, idle, curves.CAPACITY)
                self.assertEqual({r["repeat"] for r in rows}, {"1", "2", "3", "4", "5"})
                # One server process per repeat: fresh instances.
                self.assertEqual(len({r["server_started_utc"] for r in rows}), 5)
                cap = found.capacity(mech, idle)
                self.assertEqual(cap.estimate.n, 5)
                # The single queue meets p99 <= 1000 us up to 92 % of its capacity; the
                # bisection stops within x1.07 below that, the instances differ by +-2 %.
                model = model_capacity(mech, idle)
                self.assertTrue(0.92 * model / 1.07 / 1.03 <= cap.mean <= 0.92 * model * 1.03)
                low, high = cap.interval()
                self.assertLess(low, cap.mean)
                self.assertGreater(high, cap.mean)
                self.assertEqual(cap.lower_bounds, [])
        poll0, poll100 = found.capacity("poll", 0), found.capacity("poll", 100)
        self.assertLess(poll100.interval()[1], poll0.interval()[0])

    def test_env_json_records_the_loadgen_capacity_and_the_phase(self):
        lg = self.result.env["loadgen_capacity"]
        # The fake loadgen sends up to 250000 msg/s: the server saturates first (about 50000).
        self.assertEqual(lg["limit"], "server")
        self.assertIn("lower bound", lg["words"])
        self.assertGreater(lg["msgs_s"], 45000)
        self.assertEqual(len(self.rate_rows(label=curves.LOADGEN_CAPACITY)), len(lg["steps"]))
        record = self.result.env["curves"]
        self.assertEqual((record["slo_p99_us"], record["arrival"]), (1000.0, "poisson"))
        self.assertEqual(len(record["points"]), 4)
        for point in record["points"]:
            self.assertIn("pingpong server_capacity_msgs_s / 2", point["expected_from"])

    def test_the_plots_and_claim_12_are_in_the_report(self):
        for stem in ("curves", "capacity"):
            self.assertTrue(os.path.isfile(os.path.join(self.result.out_dir, f"{stem}.png")), stem)
        with open(os.path.join(self.result.out_dir, "report.md")) as f:
            text = f.read()
        self.assertIn("](curves.png)", text)
        self.assertIn("](capacity.png)", text)
        self.assertIn("## Offered load: capacity at the latency objective", text)
        verdict_row = next(line for line in text.splitlines() if line.startswith("| 12 |"))
        self.assertIn("**confirmed**", verdict_row)

    def test_rate_rows_feed_no_other_claim_or_plot(self):
        results = ResultsFolder(self.result.out_dir)
        self.assertNotIn("rate", results.modes())
        self.assertEqual(len(results.curve_runs), len(self.rate_rows()))


class LoadgenBoundCurvesTest(unittest.TestCase):
    def test_a_loadgen_slower_than_the_server_makes_lower_bounds_and_says_so(self):
        tmp = tempfile.mkdtemp(prefix="sweep-curves-")
        try:
            bin_dir = make_fake_bin(os.path.join(tmp, "bin"), ("chat-epoll",))
            run = run_sweep(
                bin_dir,
                FAST + "--mechanisms epoll-lt --counts 0 --repeats 1 --curves".split(),
                env={"FAKE_LOADGEN_RATE_CAPACITY": "30000"},
                timeout=300,
                out_root=os.path.join(tmp, "out"),
            )
            self.assertEqual(run.returncode, 0, run.stderr)
            lg = run.env["loadgen_capacity"]
            self.assertEqual(lg["limit"], "loadgen")
            self.assertAlmostEqual(lg["msgs_s"], 30000, delta=1)
            found = curves.Curves(ResultsFolder(run.out_dir))
            cap = found.capacity("epoll-lt", 0)
            self.assertTrue(cap.lower_bounds)
            self.assertIn("the loadgen used", cap.lower_bounds[0])
            # Curve points offered beyond the loadgen's own capacity are marked.
            beyond = [s for s in found.curve("epoll-lt", 0) if found.beyond_loadgen(s)]
            self.assertTrue(beyond)
            self.assertTrue(all(s.offered > 30000 for s in beyond))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class CurveSubsetTest(unittest.TestCase):
    """--curve-mechanisms and --curve-counts: the phase at part of the sweep's points only (the
    reference run's curves beside a whole default sweep), and a point the sweep does not measure
    refused before anything runs."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sweep-curves-")
        cls.bin = make_fake_bin(os.path.join(cls.tmp, "bin"), ("chat-poll", "chat-epoll"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def sweep(self, extra, name):
        return run_sweep(
            self.bin,
            FAST + "--mechanisms poll,epoll-lt --counts 0,100 --repeats 1".split() + extra,
            timeout=300,
            out_root=os.path.join(self.tmp, name),
        )

    def test_only_the_named_points_get_curves_and_the_sweep_keeps_every_point(self):
        run = self.sweep(["--curve-mechanisms", "epoll-lt", "--curve-counts", "max"], "subset")
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertIn("+ offered-load curves", run.stderr)
        rate = [
            r for r in run.rows if r["mode"] == "rate" and r["label"] != curves.LOADGEN_CAPACITY
        ]
        self.assertTrue(rate)
        # "max" is the sweep's largest count, 100 here.
        self.assertEqual({(r["mechanism"], r["idle"]) for r in rate}, {("epoll-lt", "100")})
        swept = {(r["mechanism"], r["idle"]) for r in run.rows if r["mode"] == "pingpong"}
        self.assertEqual(swept, {(m, i) for m in ("poll", "epoll-lt") for i in ("0", "100")})
        record = run.env["curves"]
        self.assertEqual((record["mechanisms"], record["counts"]), (["epoll-lt"], [100]))
        self.assertEqual(
            [(p["mechanism"], p["idle"]) for p in record["points"]], [("epoll-lt", 100)]
        )

    def test_a_point_the_sweep_does_not_measure_is_refused_before_anything_runs(self):
        for extra, said in (
            (["--curve-mechanisms", "select"], "--curve-mechanisms: select not among the swept"),
            (["--curve-counts", "0,50"], "--curve-counts: 50 not among the swept idle counts"),
            (["--curve-counts", "0,x"], "--curve-counts: idle counts are integers or 'max'"),
        ):
            run = self.sweep(extra, "refused")
            self.assertEqual(run.returncode, 2, (extra, run.stderr))
            self.assertIn(said, run.stderr)
            self.assertEqual(run.rows, [], extra)


if __name__ == "__main__":
    unittest.main()
