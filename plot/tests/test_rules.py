"""The verdict rules on synthetic series: linear is confirmed, flat refuted, noisy inconclusive."""

import csv
import dataclasses
import math
import os
import random
import tempfile
import unittest

from plot import claims
from plot import report
from plot import rules
from plot import student_t
from plot import rules_text
from plot import rules_words
from plot.tests import synthetic
from plot.results_folder import ResultsFolder
from plot.point_series import Series

IDLE = [0, 100, 500, 1000, 2000, 5000, 10000]


def series(shape, relative_noise, seed=1, xs=IDLE, repeats=3):
    rng = random.Random(seed)
    s = Series("test")
    for x in xs:
        for r in range(1, repeats + 1):
            s.add(x, shape(x) * (1 + rng.uniform(-relative_noise, relative_noise)), r)
    return s


class ShapeRules(unittest.TestCase):
    def test_linear_series_grows_linearly_and_confirms_a_growth_claim(self):
        fit = rules.Fit(series(lambda x: 6.0 + 0.004 * x, 0.03))
        self.assertEqual(fit.shape, rules.GROWS_LINEAR)
        self.assertAlmostEqual(fit.slope, 0.004, delta=0.0004)
        self.assertGreater(fit.slope_low, 0)
        self.assertEqual(len(fit.repeat_slopes), 3)
        self.assertEqual(claims.growth_verdict(fit, "grows-linear"), rules.CONFIRMED)

    def test_flat_series_is_flat_and_refutes_a_growth_claim(self):
        fit = rules.Fit(series(lambda x: 6.0, 0.03))
        self.assertEqual(fit.shape, rules.FLAT)
        self.assertEqual(claims.growth_verdict(fit, "grows-linear"), rules.REFUTED)
        self.assertEqual(claims.growth_verdict(fit, "flat"), rules.CONFIRMED)

    def test_noisy_series_is_unclear_and_inconclusive(self):
        # A real 50 % rise buried in ±90 % noise: neither growth nor flatness can be claimed.
        fit = rules.Fit(series(lambda x: 6.0 + 0.0003 * x, 0.9, seed=3))
        self.assertEqual(fit.shape, rules.UNCLEAR)
        self.assertEqual(claims.growth_verdict(fit, "grows-linear"), rules.INCONCLUSIVE)
        self.assertEqual(claims.growth_verdict(fit, "flat"), rules.INCONCLUSIVE)

    def test_small_but_certain_rise_is_not_called_growth(self):
        # +10 % over the range, measured precisely: flat by the stated threshold, not "grows".
        fit = rules.Fit(series(lambda x: 6.0 + 0.00006 * x, 0.005))
        self.assertEqual(fit.shape, rules.FLAT)

    def test_strongly_curved_growth_is_not_linear(self):
        fit = rules.Fit(series(lambda x: 1.0 + (x / 1000.0) ** 3, 0.01))
        self.assertEqual(fit.shape, rules.GROWS)
        self.assertEqual(claims.growth_verdict(fit, "grows-linear"), rules.INCONCLUSIVE)
        self.assertEqual(claims.growth_verdict(fit, "grows"), rules.CONFIRMED)

    def test_falling_series_refutes_growth(self):
        fit = rules.Fit(series(lambda x: 20.0 - 0.0015 * x, 0.01))
        self.assertEqual(fit.shape, rules.FALLS)
        self.assertEqual(claims.growth_verdict(fit, "grows-linear"), rules.REFUTED)

    def test_too_few_points_decide_nothing(self):
        fit = rules.Fit(series(lambda x: 6.0 + x, 0.0, xs=[0, 1000]))
        self.assertEqual(fit.shape, rules.TOO_FEW)
        self.assertEqual(claims.growth_verdict(fit, "grows-linear"), rules.INCONCLUSIVE)

    def test_all_zero_series_is_flat(self):
        # epoll's descriptors passed per event: zero everywhere must not divide by zero.
        fit = rules.Fit(series(lambda x: 0.0, 0.0))
        self.assertEqual(fit.shape, rules.FLAT)

    def test_single_repeat_without_residual_spread_still_fits(self):
        fit = rules.Fit(series(lambda x: 5.0 + 0.01 * x, 0.0, repeats=1))
        self.assertEqual(fit.shape, rules.GROWS_LINEAR)


class OtherRules(unittest.TestCase):
    def test_t_quantile_matches_the_published_table(self):
        for df, value in student_t._T95.items():
            self.assertAlmostEqual(student_t.t_quantile(0.95, df), value, delta=0.0015)
        # 99 % two-sided, df 10: 3.169 (any t table).
        self.assertAlmostEqual(student_t.t_quantile(0.99, 10), 3.169, delta=0.001)
        self.assertGreater(student_t.t_quantile(rules.LOOK_CONFIDENCE, 5), student_t.t95(5))

    def test_combine_needs_agreement(self):
        C, R, N = rules.CONFIRMED, rules.REFUTED, rules.INCONCLUSIVE
        self.assertEqual(rules.combine([C, N]), C)
        self.assertEqual(rules.combine([R, N, R]), R)
        self.assertEqual(rules.combine([C, R]), N)
        self.assertEqual(rules.combine([]), N)

    def test_t_quantiles_shrink_with_degrees_of_freedom(self):
        values = [student_t.t95(df) for df in (1, 2, 5, 10, 31, 50, 200, 5000)]
        self.assertEqual(values, sorted(values, reverse=True))
        self.assertEqual(
            student_t.t95(31), student_t.t95(30)
        )  # between entries: the wider interval

    def test_rules_text_names_every_threshold(self):
        text = "\n".join(rules_text.rules_text())
        for value in (
            "50%",
            "25%",
            "0.9",
            "5%",
            "64",
            "0.5",
            "0.1",
            "0.95",
            "1.05",
            "needs ≥ 3 repeats",
        ):
            self.assertIn(value, text)


def sweep(ratio, noise, repeats=3, seed=1, modes=("pingpong", "flood"), idle=IDLE, shared=0.0):
    """{(mode, idle): [(repeat, cost)]} for A and B: B's cost rises with idle connections, A costs
    ratio × B, each run has uniform ±noise, and `shared` is a factor both runs of one repeat pair
    get.
    """
    rng = random.Random(seed)
    a, b = {}, {}
    for m, mode in enumerate(modes):
        for x in idle:
            base = (20.0 if m == 0 else 1.0) * (1 + x / 5000.0)
            for r in range(1, repeats + 1):
                both = 1 + rng.uniform(-shared, shared)
                a.setdefault((mode, x), []).append(
                    (r, ratio * base * both * (1 + rng.uniform(-noise, noise)))
                )
                b.setdefault((mode, x), []).append(
                    (r, base * both * (1 + rng.uniform(-noise, noise)))
                )
    return a, b


class CostRatioRule(unittest.TestCase):
    def test_a_clear_saving_confirms(self):
        c = rules.CostRatio(*sweep(0.8, 0.03))
        self.assertEqual((c.outcome, c.verdict), (rules.CHEAPER, rules.CONFIRMED))
        self.assertAlmostEqual(c.ratio, 0.8, delta=0.02)
        self.assertLess(c.low, c.ratio)
        self.assertLess(c.ratio, c.high)
        self.assertEqual((c.points, c.run_repeats), (2 * len(IDLE), 3))
        line = rules_words.cost_ratio_line(c, "ET", "LT")
        for words in (
            "ratio 0.8",
            f"{rules.LOOK_CONFIDENCE:.2%} CI",
            f"{2 * len(IDLE)} points × 3 repeats",
            "below 0.95",
            "confirmed",
        ):
            self.assertIn(words, line)

    def test_the_same_cost_is_equivalent_and_refutes(self):
        # Within one sitting's noise only (sitting_sd 0, as for one mechanism against itself).
        c = rules.CostRatio(*sweep(1.0, 0.03), sitting_sd=0.0)
        self.assertEqual((c.outcome, c.verdict), (rules.EQUIVALENT, rules.REFUTED))
        self.assertIn("within 0.95 … 1.05", rules_words.cost_ratio_line(c))
        self.assertNotIn("between-sittings", rules_words.cost_ratio_line(c))

    def test_a_clearly_dearer_side_refutes(self):
        c = rules.CostRatio(*sweep(1.3, 0.03))
        self.assertEqual((c.outcome, c.verdict), (rules.DEARER, rules.REFUTED))
        self.assertIn("B is cheaper", rules_words.cost_ratio_line(c))

    def test_a_saving_smaller_than_the_margin_is_not_confirmed(self):
        c = rules.CostRatio(*sweep(0.97, 0.01), sitting_sd=0.0)
        self.assertLess(c.high, 1)
        self.assertNotEqual(c.verdict, rules.CONFIRMED)
        c = rules.CostRatio(*sweep(0.97, 0.01))
        self.assertNotEqual(c.verdict, rules.CONFIRMED)


class SittingTerm(unittest.TestCase):
    """rules.SITTING_LOG_SD: what one sweep's repeats cannot see, added to every comparison
    between two mechanisms."""

    def test_the_interval_adds_the_sitting_sd_in_quadrature(self):
        data = sweep(0.9, 0.03)
        alone = rules.CostRatio(*data, sitting_sd=0.0)
        both = rules.CostRatio(*data)
        q = student_t.t_quantile(both.confidence, both.df)
        half = math.log(both.high / both.ratio)
        self.assertAlmostEqual(
            half, q * math.sqrt(both.within_se**2 + rules.SITTING_LOG_SD**2), places=9
        )
        self.assertAlmostEqual(alone.within_se, both.within_se, places=12)
        self.assertAlmostEqual(alone.ratio, both.ratio, places=12)
        self.assertIn("between-sittings sd of 0.025", rules_words.cost_ratio_line(both))

    def test_repeats_cannot_narrow_it_below_the_sitting(self):
        # Noise-free repeats: the within-run error is 0, the interval is the sitting's alone.
        c = rules.CostRatio(*sweep(1.0, 0.0, repeats=50))
        self.assertAlmostEqual(c.within_se, 0.0, places=12)
        self.assertGreater(c.high / c.low, math.exp(2 * 2.4 * rules.SITTING_LOG_SD))

    def test_equal_costs_are_undecidable_in_one_sitting(self):
        # The sitting's half-width alone straddles 0.95 at a ratio of 1: no round can decide it,
        # so the sweep does not spend its budget on it, and the line says so.
        c = rules.CostRatio(*sweep(1.0, 0.01))
        self.assertEqual(
            (c.outcome, c.verdict, c.decidable), (rules.UNDECIDED, rules.INCONCLUSIVE, False)
        )
        self.assertIn("no number of repeats in this sitting", rules_words.cost_ratio_line(c))

    def test_a_noisy_run_near_the_edge_stays_decidable(self):
        # Wide within-run noise: more repeats might still move the estimate clear of the edge.
        c = rules.CostRatio(*sweep(1.0, 0.5, seed=4))
        self.assertEqual((c.outcome, c.decidable), (rules.UNDECIDED, True))

    def test_a_clear_saving_is_still_confirmed(self):
        c = rules.CostRatio(*sweep(0.8, 0.03))
        self.assertEqual((c.verdict, c.decidable), (rules.CONFIRMED, True))

    def test_a_ratio_well_above_the_edge_is_still_refuted(self):
        c = rules.CostRatio(*sweep(1.1, 0.03))
        self.assertEqual(c.verdict, rules.REFUTED)

    def test_noise_wider_than_the_margin_is_inconclusive(self):
        c = rules.CostRatio(*sweep(1.0, 0.5, seed=4))
        self.assertEqual((c.outcome, c.verdict), (rules.UNDECIDED, rules.INCONCLUSIVE))

    def test_one_repeat_never_decides_however_large_the_difference(self):
        for repeats in (1, 2):
            c = rules.CostRatio(*sweep(0.5, 0.0, repeats=repeats))
            self.assertEqual((c.outcome, c.verdict), (rules.TOO_FEW_REPEATS, rules.INCONCLUSIVE))
            self.assertIn(
                f"needs ≥ 3 repeats, this run has {repeats}", rules_words.cost_ratio_line(c)
            )

    def test_a_point_with_a_failed_repeat_is_left_out_and_counted(self):
        a, b = sweep(0.8, 0.03)
        a[("pingpong", 0)] = a[("pingpong", 0)][:2]
        c = rules.CostRatio(a, b)
        self.assertEqual((c.points, c.left_out, c.verdict), (2 * len(IDLE) - 1, 1, rules.CONFIRMED))
        self.assertIn(
            "1 point(s) with fewer than 3 repeats of both left out", rules_words.cost_ratio_line(c)
        )

    def test_one_point_with_three_repeats_is_an_interval_over_its_repeats(self):
        c = rules.CostRatio(*sweep(0.5, 0.01, modes=("pingpong",), idle=[0]))
        self.assertEqual((c.outcome, c.df), (rules.CHEAPER, 2))

    def test_an_instance_shared_by_its_points_counts_once(self):
        # Every point of one (idle count, repeat) gets the same ±10 % on the ratio, as one server
        # instance would give them all: grouping by instance must see one value per instance, not
        # one per point, and widen the interval accordingly.
        rng = random.Random(3)
        a, b = sweep(1.0, 0.0)
        effect = {(x, r): 1 + rng.uniform(-0.1, 0.1) for x in IDLE for r in (1, 2, 3)}
        a = {p: [(r, v * effect[(p[1], r)]) for r, v in runs] for p, runs in a.items()}
        apart = rules.CostRatio(a, b)
        grouped = rules.CostRatio(a, b, instance=lambda p: p[1])
        self.assertEqual((apart.df, grouped.df), (2 * 2 * len(IDLE), 2 * len(IDLE)))
        self.assertGreater(grouped.high - grouped.low, apart.high - apart.low)

    def test_a_ratio_above_the_lower_edge_refutes_whatever_its_upper_end(self):
        # An interval at or above 0.95 that reaches beyond 1.05: a saving of more than 5 % is still
        # excluded, so the claim is refuted (not "inconclusive", as a two-edge rule would say).
        c = rules.CostRatio(*sweep(1.02, 0.12, seed=2))
        self.assertGreaterEqual(c.low, 0.95, rules_words.cost_ratio_line(c))
        self.assertGreater(c.high, 1.05, rules_words.cost_ratio_line(c))
        self.assertEqual((c.outcome, c.verdict), (rules.NOT_CHEAPER, rules.REFUTED))

    def test_pairing_by_repeat_cancels_what_a_pair_shared(self):
        # Each repeat pair ran on a machine up to ±40 % faster or slower; the pairs still agree.
        c = rules.CostRatio(*sweep(0.8, 0.02, shared=0.4))
        self.assertEqual(c.verdict, rules.CONFIRMED)
        self.assertAlmostEqual(c.ratio, 0.8, delta=0.02)

    def test_costs_without_a_logarithm_are_dropped(self):
        a, b = sweep(0.8, 0.03)
        a[("flood", 0)] = [(1, 0.0), (2, -1.0), (3, 1.0)]
        c = rules.CostRatio(a, b)
        self.assertEqual(c.left_out, 1)


class Claim7And10(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.saved = dict(synthetic.BASE_US)

    def tearDown(self):
        synthetic.BASE_US.clear()
        synthetic.BASE_US.update(self.saved)
        self.tmp.cleanup()

    def claims(self, **kw):
        return {
            c.number: c
            for c in claims.evaluate(ResultsFolder(synthetic.write(self.tmp.name, **kw)))
        }

    def test_a_quick_run_cannot_confirm_et_however_cheap(self):
        synthetic.BASE_US["epoll-et"] = self.saved["epoll-lt"] * 0.7
        c = self.claims(repeats=1)[7]
        self.assertEqual(c.verdict, rules.INCONCLUSIVE, c.figures)
        self.assertIn("needs ≥ 3 repeats, this run has 1", c.figures[0])
        self.assertIn("3 repeats", c.explanation)
        c = self.claims(repeats=3)[7]
        self.assertEqual(c.verdict, rules.CONFIRMED, c.figures)
        self.assertIn("more than 5%", c.explanation)
        self.assertIn("ratio per mode", c.figures[1])

    def test_et_and_lt_alike_leave_claim_7_undecidable_in_one_sitting(self):
        # Equal costs: the spread between sittings (rules.SITTING_LOG_SD) alone reaches past
        # 0.95, so one sweep can neither confirm nor exclude a 5 % saving.
        synthetic.BASE_US["epoll-et"] = self.saved["epoll-lt"]
        c = self.claims()[7]
        self.assertEqual(c.verdict, rules.INCONCLUSIVE, c.figures)
        self.assertIn("between-sittings sd of 0.025", c.figures[0])

    def test_et_dearer_refutes_claim_7(self):
        synthetic.BASE_US["epoll-et"] = self.saved["epoll-lt"] * 1.3
        c = self.claims()[7]
        self.assertEqual(c.verdict, rules.REFUTED, c.figures)
        self.assertIn("LT was cheaper", c.explanation)

    def test_loadgen_bound_rows_still_feed_the_cost_comparison(self):
        # A run the loadgen bound measured the server's CPU per message all the same: the point
        # stays in claim 7 (dropping it changed what the claim estimated from run to run).
        folder = synthetic.write(self.tmp.name)
        (before,) = [c for c in claims.comparisons(ResultsFolder(folder)) if c.claim == 7]

        def bound(row):
            if row["mechanism"] == "epoll-et" and row["mode"] == "flood" and row["idle"] == "0":
                row["status"] = row["bench_status"] = "loadgen-bound"

        synthetic.rewrite(folder, bound)
        (seven,) = [c for c in claims.comparisons(ResultsFolder(folder)) if c.claim == 7]
        self.assertEqual(seven.ratio.left_out, before.ratio.left_out)
        self.assertIn(("flood", 0), seven.ratio.d)

    def test_a_point_lost_to_failed_runs_keeps_the_comparison_open(self):
        folder = synthetic.write(self.tmp.name)

        def failed(row):
            if row["mechanism"] == "epoll-et" and row["mode"] == "flood" and row["idle"] == "0":
                row["status"] = row["bench_status"] = "error:loadgen-exit-3"

        (before,) = [c for c in claims.comparisons(ResultsFolder(folder)) if c.claim == 7]
        synthetic.rewrite(folder, failed)
        (seven,) = [c for c in claims.comparisons(ResultsFolder(folder)) if c.claim == 7]
        self.assertEqual(seven.ratio.left_out, before.ratio.left_out + 1)
        self.assertTrue(seven.open)
        self.assertIn(0, seven.counts)

    def test_churn_with_one_repeat_is_not_compared(self):
        c = self.claims(churn=True, repeats=1, micro=False)[10]
        self.assertEqual(c.verdict, rules.INCONCLUSIVE, c.figures)
        self.assertTrue(any("needs ≥ 3 repeats, this run has 1" in f for f in c.figures), c.figures)


class FindingsAreData(unittest.TestCase):
    """claims.findings evaluates without words; claims.render is the only step that writes them."""

    def test_every_claim_is_a_plain_dataclass_and_renders_to_its_own_verdict(self):
        with tempfile.TemporaryDirectory() as tmp:
            results = ResultsFolder(synthetic.write(tmp))
            found = claims.findings(results)
            evaluated = claims.evaluate(results)
        self.assertEqual([f.number for f in found], list(range(1, 13)))
        for finding, claim in zip(found, evaluated):
            self.assertTrue(dataclasses.is_dataclass(finding.facts), finding)
            self.assertNotIn(claims.Claim, nested_types(finding.facts), finding.number)
            rendered = claims.render(finding)
            self.assertEqual(rendered.number, finding.number)
            self.assertEqual(rendered.verdict, finding.verdict)
            self.assertEqual(
                (rendered.figures, rendered.explanation), (claim.figures, claim.explanation)
            )


def nested_types(value):
    """Every type reachable from a dataclass through its fields, tuples, lists and dicts."""
    found = {type(value)}
    if dataclasses.is_dataclass(value):
        children = [getattr(value, f.name) for f in dataclasses.fields(value)]
    elif isinstance(value, dict):
        children = list(value.keys()) + list(value.values())
    elif isinstance(value, (list, tuple)):
        children = list(value)
    else:
        children = []
    for child in children:
        found |= nested_types(child)
    return found


class Claim11(unittest.TestCase):
    """uring-completion against epoll-lt: rows derived from the synthetic epoll-lt ones, at two
    active counts, with system calls per message."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def folder(self, calls, cpu, repeats=3, calls_epoll=3.0):
        """calls, cpu: {active: factor} of uring-completion against epoll-lt."""
        folder = synthetic.write(self.tmp.name, micro=False, probe=False, repeats=repeats)
        path = os.path.join(folder, "runs.csv")
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            header = list(reader.fieldnames) + ["server_syscalls_per_msg"]
            rows = list(reader)
        out = [r for r in rows if r["mechanism"] != "epoll-lt"]
        for r in rows:
            if r["mechanism"] != "epoll-lt" or r["status"] != "ok":
                continue
            for active in calls:
                base = dict(r, active=active, server_syscalls_per_msg=calls_epoll)
                out.append(base)
                cost = float(r["server_cpu_us_per_msg"]) * cpu[active]
                out.append(
                    dict(
                        base,
                        mechanism=claims.COMPLETION,
                        server_cpu_us_per_msg=f"{cost:.4f}",
                        server_syscalls_per_msg=calls_epoll * calls[active],
                    )
                )
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=header)
            writer.writeheader()
            writer.writerows(out)
        return ResultsFolder(folder)

    def claim(self, *args, **kw):
        return claims.claim11(self.folder(*args, **kw))

    def test_fewer_calls_and_a_cheaper_server_confirm(self):
        c = self.claim({2: 0.5, 64: 0.3}, {2: 0.8, 64: 0.6})
        self.assertEqual(c.verdict, rules.CONFIRMED, c.figures)
        self.assertIn("system calls", c.figures[0])
        self.assertIn("pingpong active=2 size=64 (idle 0–10000, 7 of 7)", c.explanation)
        self.assertIn("epoll-lt at no regime", c.explanation)

    def test_fewer_calls_without_a_cheaper_server_refute(self):
        c = self.claim({2: 0.5, 64: 0.3}, {2: 1.15, 64: 1.15})
        self.assertEqual(c.verdict, rules.REFUTED, c.figures)
        self.assertIn("fewer system calls per message, but the server was not", c.explanation)

    def test_as_many_calls_refute(self):
        c = self.claim({2: 1.0, 64: 1.0}, {2: 0.7, 64: 0.7})
        self.assertEqual(c.verdict, rules.REFUTED, c.figures)
        self.assertIn("did not make fewer system calls", c.explanation)

    def test_one_repeat_decides_nothing(self):
        c = self.claim({2: 0.5, 64: 0.3}, {2: 0.8, 64: 0.6}, repeats=1)
        self.assertEqual(c.verdict, rules.INCONCLUSIVE, c.figures)

    def test_the_regimes_say_who_wins_where(self):
        results = self.folder({2: 1.0, 64: 0.3}, {2: 1.3, 64: 0.6})
        regimes = claims.completion_regimes(results)
        winners = {(r["point"][0], r["point"][1]): r["winner"] for r in regimes}
        self.assertEqual(winners[("pingpong", "2")], claims.COMPLETION_BASELINE)
        self.assertEqual(winners[("pingpong", "64")], claims.COMPLETION)
        self.assertTrue(all(r["repeats"] == 3 for r in regimes))
        self.assertEqual({r["calls_epoll"] for r in regimes}, {3.0})
        section = "\n".join(report.completion_section(results))
        self.assertIn("## Where each I/O model wins (claim 11)", section)
        self.assertIn("| pingpong active=64 size=", section)

    def test_no_completion_rows_is_inconclusive_and_no_section(self):
        results = ResultsFolder(synthetic.write(self.tmp.name, micro=False, probe=False))
        self.assertEqual(claims.claim11(results).verdict, rules.INCONCLUSIVE)
        self.assertEqual(report.completion_section(results), [])


if __name__ == "__main__":
    unittest.main()
