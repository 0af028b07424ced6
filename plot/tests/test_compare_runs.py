"""./bench compare (plot/compare_runs.py) on small synthetic results folders: behaviour, never
timing.

Identical folders exit 0; a metric clearly worse in every repeat at one point exits 1 and names
that point; one repeat a side is never a regression; a differing claim verdict exits 1 and is
listed; usage errors exit 2 with the path; results/reference against itself exits 0."""

import csv
import json
import os
import subprocess
import sys
import tempfile
import unittest
from unittest import mock

from plot import claims
from plot import compare_runs
from plot import rules
from plot.tests import synthetic

HERE = os.path.dirname(os.path.abspath(__file__))
PLOT = os.path.dirname(HERE)
ROOT = os.path.dirname(PLOT)


COLUMNS = [
    "mechanism",
    "mode",
    "idle",
    "repeat",
    "status",
    "bench_status",
    "placement",
    "active",
    "size",
    "rate",
    "p50_us",
    "p99_us",
    "throughput_msgs_s",
    "server_cpu_us_per_msg",
    "label",
]
MECHANISMS = ["select", "poll", "epoll-lt", "epoll-et"]
IDLE = [0, 100, 1000]
NOISE = [0.98, 1.0, 1.02, 0.99, 1.01]  # repeat r's factor: deterministic spread
PER_IDLE_US = {"select": 0.004, "poll": 0.005, "epoll-lt": 0.0, "epoll-et": 0.0}
PROBE = dict(
    fd_setsize=1024,
    select_lt_reports_again=True,
    poll_lt_reports_again=True,
    epoll_lt_reports_again=True,
    epoll_et_reports_once=True,
    epoll_et_reports_new_data=True,
)


# What every row of write() has in common: an ok run of the default shape.
COMMON = dict(status="ok", placement="split", active=2, size=64, rate=0)


def write(folder, repeats=3, scale=None, states=None, probe=None):
    """A results folder: floors plus pingpong and flood of four mechanisms at three idle counts.

    scale: {(mechanism, mode, idle, metric): factor} applied to every repeat of that point;
    states: idle_states values, each measured (the column is absent when None);
    probe: probe.json (PROBE when None)."""
    scale = scale or {}
    os.makedirs(folder, exist_ok=True)
    rows = [row for state in states or [None] for row in rows_of(state, repeats, scale)]
    columns = COLUMNS + (["idle_states"] if states else [])
    with open(os.path.join(folder, "runs.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            row.setdefault("bench_status", row["status"])
            writer.writerow(row)
    with open(os.path.join(folder, "env.json"), "w") as f:
        json.dump(
            dict(
                kernel="6.1.0-synthetic",
                cpu_model="Synthetic CPU",
                cores=2,
                hostname="testhost",
                placement="split",
                server_cpu=1,
                loadgen_cpu=0,
            ),
            f,
        )
    with open(os.path.join(folder, "probe.json"), "w") as f:
        json.dump(PROBE if probe is None else probe, f)
    return folder


def rows_of(state, repeats, scale):
    """The rows of one idle-states setting (None: the column absent): the floor at the start and
    the end, then every point's repeats with its figures scaled as write() says."""
    rows = []
    extra = {} if state is None else {"idle_states": state}
    for r in (1, 2):  # the floor at the start and the end of the sweep
        rows.append(
            dict(
                mechanism="floor",
                mode="floor",
                idle=0,
                repeat=r,
                **COMMON,
                p50_us=20 * NOISE[r],
                p99_us=40 * NOISE[r],
                throughput_msgs_s=100000 / NOISE[r],
                label="floor-start" if r == 1 else "floor-end",
                **extra,
            )
        )
    for mode in ("pingpong", "flood"):
        for mech in MECHANISMS:
            for idle in IDLE:
                for r in range(1, repeats + 1):
                    f = NOISE[r - 1]
                    cpu = (6.0 if mode == "pingpong" else 1.0) + PER_IDLE_US[mech] * idle
                    values = dict(
                        p50_us=20 + 2 * cpu,
                        p99_us=40 + 4 * cpu,
                        throughput_msgs_s=1e6 / cpu,
                        server_cpu_us_per_msg=cpu,
                    )
                    row = dict(
                        mechanism=mech,
                        mode=mode,
                        idle=idle,
                        repeat=r,
                        **COMMON,
                        label="synthetic",
                        **extra,
                    )
                    for metric, v in values.items():
                        k = scale.get((mech, mode, idle, metric), 1.0)
                        if state is not None:
                            k *= scale.get((mech, mode, idle, metric, state), 1.0)
                        row[metric] = f"{v * f * k:.4f}"
                    rows.append(row)
    return rows


def run(*args):
    p = synthetic.run_module(
        "plot.compare_runs", *args, env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    )
    return p.returncode, p.stdout, p.stderr


class MannWhitney(unittest.TestCase):
    def test_three_against_three_wholly_worse_is_exactly_one_in_twenty(self):
        self.assertAlmostEqual(compare_runs.p_b_greater([1, 2, 3], [4, 5, 6]), 1 / 20)
        self.assertAlmostEqual(compare_runs.p_b_greater([4, 5, 6], [1, 2, 3]), 1.0)
        # One overlap: U = 8 of 9, P(U >= 8) = 2/20.
        self.assertAlmostEqual(compare_runs.p_b_greater([1, 2, 4], [3, 5, 6]), 2 / 20)

    def test_ties_are_counted_and_identical_samples_are_not_significant(self):
        self.assertGreater(compare_runs.p_b_greater([5, 5, 5], [5, 5, 5]), 0.5)
        self.assertGreater(compare_runs.p_b_greater([1, 2, 3], [3, 3, 3]), rules.COMPARE_ALPHA)

    def test_direction_follows_the_metric(self):
        a, b = [10, 11, 12], [20, 21, 22]
        self.assertLessEqual(
            compare_runs.p_worse(a, b, "higher"), rules.COMPARE_ALPHA
        )  # latency up: worse
        self.assertEqual(compare_runs.p_worse(a, b, "lower"), 1.0)  # throughput up: not worse

    def test_normal_approximation_is_close_to_the_exact_value(self):
        a = [1, 3, 4, 6, 8, 9, 12, 13]
        b = [5, 7, 10, 11, 14, 15, 16, 17]
        exact = compare_runs.p_b_greater(a, b)
        approx = compare_runs.p_b_greater(a, b, max_splits=0)
        self.assertAlmostEqual(exact, approx, delta=0.01)


class Compare(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def test_identical_folders_exit_0_without_differences(self):
        a, b = write(self.path("a")), write(self.path("b"))
        code, out, err = run(a, b, "--out", self.path("out"))
        self.assertEqual(code, 0, err)
        self.assertIn(f"None: all {len(claims.CLAIMS)} claims have the same verdict", out)
        self.assertNotIn("regressed** (p", out)
        for name in ("compare.md", "compare.png", "compare.svg"):
            self.assertTrue(os.path.isfile(os.path.join(self.path("out"), name)), name)
        with open(os.path.join(self.path("out"), "compare.md")) as f:
            self.assertEqual(f.read(), out)
        self.assertIn(self.path("out"), err)  # says where it wrote

    def test_a_clearly_worse_metric_at_one_point_is_flagged_but_does_not_fail(self):
        # One point alone is what chance gives a few of in every real pair of runs (about 5 % of
        # ~360 tested cells): it is flagged for a human, and the exit status stays 0.
        key = ("poll", "pingpong", 1000, "server_cpu_us_per_msg")
        a, b = write(self.path("a")), write(self.path("b"), scale={key: 1.5})
        c = compare_runs.Comparison(a, b)
        regs = [(p.mechanism, p.scenario[0], p.idle, cell.metric) for p, cell in c.regressions()]
        self.assertEqual(regs, [key])
        self.assertAlmostEqual(c.regressions()[0][1].ratio, 1.5, places=3)
        self.assertEqual(c.series_regressions(), [])
        self.assertEqual(c.exit_status, 0)
        code, out, err = run(a, b, "--out", self.path("out"))
        self.assertEqual(code, 0, err)
        self.assertIn("**1.50 regressed** (p 0.05)", out)
        self.assertIn(
            (
                "| pingpong, 2 active, 64 B, closed loop, split CPUs | poll | 1000 | server CPU per"
                " message"
            ),
            out,
        )

    def test_a_metric_worse_across_its_series_exits_1_and_names_the_series(self):
        scale = {("poll", "pingpong", idle, "server_cpu_us_per_msg"): 1.5 for idle in IDLE}
        a, b = write(self.path("a")), write(self.path("b"), scale=scale)
        c = compare_runs.Comparison(a, b)
        self.assertEqual(
            [k[1:] for k, _ in c.series_regressions()], [("poll", "server_cpu_us_per_msg")]
        )
        self.assertEqual(c.exit_status, 1)
        code, out, err = run(a, b, "--out", self.path("out"))
        self.assertEqual(code, 1, err)
        self.assertIn(
            "| poll | server CPU per message (µs) | **1.50 (95% CI 1.50 … 1.50, 3 points)** |", out
        )

    def test_lower_throughput_is_worse_and_higher_is_an_improvement(self):
        a = write(self.path("a"))
        down = write(self.path("down"), scale={("epoll-et", "flood", 0, "throughput_msgs_s"): 0.7})
        up = write(self.path("up"), scale={("epoll-et", "flood", 0, "throughput_msgs_s"): 1.5})
        self.assertEqual(
            [cell.metric for _, cell in compare_runs.Comparison(a, down).regressions()],
            ["throughput_msgs_s"],
        )
        better = compare_runs.Comparison(a, up)
        self.assertEqual(better.regressions(), [])
        outcomes = {
            cell.outcome
            for p, cell in better.cells()
            if p.mechanism == "epoll-et"
            and p.idle == 0
            and cell.metric == "throughput_msgs_s"
            and p.scenario[0] == "flood"
        }
        self.assertEqual(outcomes, {compare_runs.IMPROVED})

    def test_a_significant_change_within_the_threshold_is_no_regression(self):
        scale = {("select", "pingpong", idle, "p50_us"): 1.08 for idle in IDLE}
        a, b = write(self.path("a")), write(self.path("b"), scale=scale)
        code, out, err = run(a, b, "--out", self.path("out"))
        self.assertEqual(code, 0, err)
        self.assertIn("1.08 worse, within threshold (p 0.05)", out)
        code, out, err = run(a, b, "--out", self.path("out"), "--threshold", "0.05")
        self.assertEqual(code, 1, err)
        self.assertIn("**1.08 regressed**", out)

    def test_one_repeat_a_side_is_never_a_regression(self):
        key = ("poll", "pingpong", 1000, "server_cpu_us_per_msg")
        a, b = write(self.path("a"), repeats=1), write(self.path("b"), repeats=1, scale={key: 1.5})
        code, out, err = run(a, b, "--out", self.path("out"))
        self.assertEqual(code, 0, err)
        self.assertIn("1.50, not tested (n=1/1)", out)
        self.assertNotIn("regressed** (p", out)
        # Three repeats against one: still not tested (the claims that need 3 repeats may differ,
        # not the metrics).
        c = compare_runs.Comparison(write(self.path("a3")), b)
        self.assertEqual(c.regressions(), [])
        self.assertIn("1.47, not tested (n=3/1)", c.markdown("a3", "b"))  # 1.5 × 0.98 / 1.0

    def test_a_differing_claim_verdict_exits_1_and_is_listed(self):
        a = write(self.path("a"))
        b = write(self.path("b"), probe=dict(PROBE, select_lt_reports_again=False))
        c = compare_runs.Comparison(a, b)
        self.assertEqual(
            [(x.number, x.verdict, y.verdict) for x, y in c.verdict_diffs],
            [(5, rules.CONFIRMED, rules.REFUTED)],
        )
        self.assertEqual(c.regressions(), [])
        code, out, err = run(a, b, "--out", self.path("out"))
        self.assertEqual(code, 1, err)
        self.assertIn("| 5 | ", out)
        self.assertIn(f"**{rules.REFUTED}**", out)
        self.assertIn("1 claim verdict(s) differ", out)

    def test_claims_that_raise_are_a_note_and_the_metrics_still_compare(self):
        a, b = write(self.path("a")), write(self.path("b"))
        boom = RuntimeError("boom")
        with mock.patch.object(claims, "findings", side_effect=boom), mock.patch.object(
            claims, "comparisons", side_effect=boom
        ):
            c = compare_runs.Comparison(a, b)
        self.assertEqual(
            c.claims_not_evaluated,
            [compare_runs.NotEvaluated(side, "RuntimeError", "boom") for side in "AB"],
        )
        self.assertEqual((c.verdict_diffs, c.intervals, c.exit_status), ([], [], 0))
        self.assertTrue(c.points)
        text = c.markdown("a", "b")
        self.assertIn(
            "Note: the claims could not be evaluated on B (RuntimeError: boom); their verdicts are"
            " not compared.",
            text,
        )
        self.assertIn("Not compared (see the note above).", text)
        self.assertIn("Comparison intervals not computed (RuntimeError: boom).", text)

    def test_a_differing_verdict_whose_words_raise_still_lists_its_verdicts(self):
        a = write(self.path("a"))
        b = write(self.path("b"), probe=dict(PROBE, select_lt_reports_again=False))
        c = compare_runs.Comparison(a, b)
        with mock.patch.object(claims, "render", side_effect=RuntimeError("boom")):
            text = c.markdown("a", "b")
        self.assertIn(
            f"| {rules.CONFIRMED} | **{rules.REFUTED}** | figures not written (RuntimeError: boom)",
            text,
        )

    def test_rows_that_are_not_ok_do_not_count(self):
        a = write(self.path("a"))
        b = write(self.path("b"), scale={("poll", "flood", 100, "server_cpu_us_per_msg"): 3.0})
        path = os.path.join(b, "runs.csv")
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
            header = list(rows[0])
        for row in rows:
            if (row["mechanism"], row["mode"], row["idle"]) == ("poll", "flood", "100"):
                row["status"] = row["bench_status"] = "server-died"
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=header)
            writer.writeheader()
            writer.writerows(rows)
        c = compare_runs.Comparison(a, b)
        self.assertEqual(c.regressions(), [])
        self.assertEqual([(k[1], k[2]) for k in c.lost], [("poll", 100)])
        self.assertIn("server-died", c.markdown("a", "b"))

    def test_floors_are_compared_as_the_machine_floor(self):
        a, b = write(self.path("a")), write(self.path("b"))
        c = compare_runs.Comparison(a, b)
        floors = [p for p in c.points if p.is_floor]
        self.assertEqual(len(floors), 1)
        self.assertEqual(
            floors[0].cells["p50_us"].outcome, compare_runs.NOT_TESTED
        )  # start and end: n = 2
        self.assertIn("machine's floor", c.markdown("a", "b"))

    def test_each_idle_states_setting_is_its_own_scenario(self):
        key = ("epoll-lt", "pingpong", 0, "p99_us", "allow")
        a = write(self.path("a"), states=["block", "allow"])
        b = write(self.path("b"), states=["block", "allow"], scale={key: 2.0})
        regs = compare_runs.Comparison(a, b).regressions()
        self.assertEqual(
            [(p.mechanism, p.scenario[5], cell.metric) for p, cell in regs],
            [("epoll-lt", "allow", "p99_us")],
        )

    def test_a_folder_without_idle_states_meets_the_other_folders_allow_rows(self):
        old = write(self.path("old"))
        new = write(
            self.path("new"),
            states=["block", "allow"],
            scale={("poll", "pingpong", 0, "p50_us", "block"): 0.5},
        )
        c = compare_runs.Comparison(old, new)
        self.assertEqual(c.unrecorded, "A")
        self.assertEqual({p.scenario[5] for p in c.points}, {"allow"})
        self.assertEqual(c.regressions(), [])
        self.assertTrue(all(k[0][5] == "block" for k in c.only_b))
        self.assertIn("did not record the CPU idle-states setting", c.markdown("old", "new"))

    def test_usage_errors_exit_2_with_the_path(self):
        a = write(self.path("a"))
        missing = self.path("nowhere")
        code, out, err = run(a, missing, "--out", self.path("out"))
        self.assertEqual(code, 2)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn(missing, err)
        empty = self.path("empty")
        os.makedirs(empty)
        code, _, err = run(empty, a, "--out", self.path("out"))
        self.assertEqual(code, 2)
        self.assertIn(os.path.join(empty, "runs.csv"), err)
        self.assertEqual(run(a)[0], 2)  # one folder only
        code, out, _ = run("--help")
        self.assertEqual(code, 0)
        self.assertIn("--threshold", out)
        self.assertEqual(run(a, a, "--threshold", "10")[0], 2)

    def test_bench_compare_goes_straight_to_the_comparison(self):
        missing = self.path("nowhere")
        p = subprocess.run(
            [os.path.join(ROOT, "bench"), "compare", missing, missing],
            capture_output=True,
            text=True,
            env=dict(
                os.environ, MUXBENCH_PYTHON=sys.executable, MUXBENCH_BUILD=self.path("no-build")
            ),
        )
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(missing, p.stderr)
        self.assertFalse(os.path.exists(self.path("no-build")))  # nothing configured or built

    def test_default_folder_is_a_new_compare_folder_under_results(self):
        root = self.path("results")
        out = compare_runs.default_out_dir("results/reference", "/x/2026-01-01T00-host", root=root)
        self.assertEqual(out, os.path.join(root, "compare-reference-vs-2026-01-01T00-host"))
        write(out)  # a folder holding a run is never written into
        self.assertEqual(
            compare_runs.default_out_dir("results/reference", "/x/2026-01-01T00-host", root=root),
            out + "-2",
        )

    def test_reference_against_itself_exits_0(self):
        reference = os.path.join(ROOT, "results", "reference")
        code, out, err = run(reference, reference, "--out", self.path("out"))
        self.assertEqual(code, 0, err)
        self.assertIn(f"None: all {len(claims.CLAIMS)} claims have the same verdict", out)
        self.assertIn("(these set the exit status)", out)
        self.assertIn("the worse side.\n\nNone.", out)


if __name__ == "__main__":
    unittest.main()
