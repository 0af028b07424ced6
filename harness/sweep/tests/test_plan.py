"""The sweep's planning: idle counts, the largest count and what caps it, placement, presets."""
import os
import unittest

import argparse

from harness.common import mechanisms
from harness.sweep import curves, plan
from harness.common.runs_csv import BENCH_COLUMNS, LOADGEN_COLUMNS, merged_columns


class PlanTest(unittest.TestCase):
    def test_largest_idle_leaves_a_margin_and_says_what_capped_it(self):
        largest, why = plan.largest_idle(20000, 50000)
        self.assertEqual(largest, 19000)
        self.assertIn("RLIMIT_NOFILE=20000", why)
        largest, why = plan.largest_idle(1048576, 50000)
        self.assertEqual(largest, 50000)
        self.assertIn("--max-idle 50000", why)
        self.assertEqual(plan.largest_idle(1024, 0)[0], 924)

    def test_the_most_active_connections_come_off_the_idle_budget(self):
        largest, why = plan.largest_idle(
            1024, 0, plan.most_active(plan.variants(None, "2,512", None))
        )
        self.assertEqual(largest, 1024 - plan.SERVER_FD_MARGIN - 512)
        self.assertIn("512 more for --active-counts", why)
        self.assertEqual(plan.most_active(plan.variants(None, None, None)), 0)

    def test_variants_are_the_product_of_active_counts_and_sizes(self):
        vs = plan.variants(None, "2,64,2", "64,4000")
        self.assertEqual(
            [(v.active, v.size) for v in vs], [(2, 64), (2, 4000), (64, 64), (64, 4000)]
        )
        self.assertEqual(vs[1].loadgen_args(), ["--active", "2", "--size", "4000"])
        self.assertEqual(vs[1].label(), " active=2 size=4000")
        self.assertEqual(plan.variants(8, None, None)[0].loadgen_args(), ["--active", "8"])
        default = plan.variants(None, None, None)
        self.assertEqual((len(default), default[0].loadgen_args(), default[0].label()), (1, [], ""))
        for bad in (
            (4, "2,4", None),
            (None, "1", None),
            (None, None, "48"),
            (None, None, "4096"),
            (None, ",", None),
        ):
            with self.assertRaises(ValueError, msg=bad):
                plan.variants(*bad)

    def test_the_estimate_counts_every_variant_run(self):
        args = (["poll"], [0], ["pingpong"], 1, 1.0, 1.0, 0, False, False, False)
        one, three = plan.estimate(*args), plan.estimate(*args, variants=3)
        self.assertAlmostEqual(three - one, 2 * plan.run_cost(1.0, 1.0))

    def test_counts_resolve_max_and_report_what_is_dropped(self):
        counts, dropped = plan.resolve_counts(plan.parse_counts("0,max,100,30000,100"), 19000)
        self.assertEqual(counts, [0, 100, 19000])
        self.assertEqual(dropped, [30000])
        with self.assertRaises(ValueError):
            plan.parse_counts("100,-1")

    def test_a_count_that_is_no_number_is_named(self):
        # Was an int() traceback out of ./bench --counts 0,abc.
        with self.assertRaisesRegex(ValueError, "integers or 'max', got 'abc'"):
            plan.parse_counts("0,abc")

    def test_default_and_quick_counts_straddle_fd_setsize(self):
        for name in ("default", "quick", "full"):
            counts, _ = plan.resolve_counts(plan.PRESETS[name].counts, 19000)
            self.assertTrue(any(c < plan.FD_SETSIZE for c in counts), name)
            self.assertTrue(any(c > plan.FD_SETSIZE for c in counts), name)
        self.assertEqual(plan.PRESETS["quick"].repeats, 1)
        self.assertEqual(plan.PRESETS["default"].repeats, 3)

    def test_placement(self):
        cpus = sorted(os.sched_getaffinity(0))
        placement, server, loadgen, note = plan.placement_cpus("shared")
        self.assertEqual((placement, server), ("shared", loadgen))
        placement, server, loadgen, note = plan.placement_cpus("split")
        if len(cpus) >= 2:
            self.assertEqual(placement, "split")
            self.assertNotEqual(server, loadgen)
            self.assertIsNone(note)
        else:
            self.assertEqual(placement, "shared")
            self.assertIn("share", note)
        self.assertEqual(plan.placement_cpus("split", 3, 3)[0], "shared")

    def test_estimate_counts_one_quick_refused_run_for_select_past_fd_setsize(self):
        one = plan.estimate(["epoll-lt"], [2000], ["pingpong"], 3, 0.2, 0.6, 0, False, True, False)
        sel = plan.estimate(["select"], [2000], ["pingpong"], 3, 0.2, 0.6, 0, False, True, False)
        self.assertLess(sel, one)
        self.assertGreater(one, 3 * 0.8)

    def test_default_sweep_is_estimated_within_five_minutes_with_its_extra_rounds(self):
        # The budget: <= 5 min on 2 cores including the extra rounds for undecided
        # claims. Eight idle counts took 7-8 min (docs/reference-run.md); five fit, and with the
        # spread between sittings in every interval they agree between reruns as often as eight
        # did (plot/tests/test_rules_rerun.py prints both shapes).
        preset = plan.PRESETS["default"]
        counts, _ = plan.resolve_counts(preset.counts, 19000)
        # With its sparse modes too (churn at 0 and max), as planning.py plans them.
        sparse_at = {19000 if c == "max" else c for c in preset.sparse_modes["churn"]}
        modes = {c: preset.modes + (["churn"] if c in sparse_at else []) for c in counts}
        mechanisms = ["select", "poll", "epoll-lt", "epoll-et", "select-dynamic", "uring"]
        est = plan.estimate(
            mechanisms + ["uring-completion"],
            counts,
            modes,
            preset.repeats,
            preset.warmup_s,
            preset.duration_s,
            20,
            True,
            True,
            True,
            hostile=True,
        )
        self.assertLessEqual(est + preset.decide_budget_s, 5 * 60)

    def test_modes_at_takes_a_list_or_a_dict_by_count(self):
        self.assertEqual(plan.modes_at(["pingpong", "flood"], 500), ["pingpong", "flood"])
        by_count = {0: ["pingpong", "churn"], 100: ["pingpong"]}
        self.assertEqual(plan.modes_at(by_count, 0), ["pingpong", "churn"])
        self.assertEqual(plan.modes_at(by_count, 100), ["pingpong"])
        self.assertEqual(plan.modes_at(by_count, 200), [])

    def test_estimate_with_modes_by_count_counts_each_counts_own_modes(self):
        args = (3, 0.2, 0.6, 0, False, True, False)
        both = plan.estimate(["epoll-lt"], [0, 100], ["pingpong", "churn"], *args)
        listed = plan.estimate(["epoll-lt"], [0, 100], ["pingpong"], *args)
        sparse = plan.estimate(
            ["epoll-lt"], [0, 100], {0: ["pingpong", "churn"], 100: ["pingpong"]}, *args
        )
        one_run = plan.run_cost(0.2, 0.6)
        self.assertAlmostEqual(sparse - listed, 3 * one_run)
        self.assertAlmostEqual(both - sparse, 3 * one_run)
        # select past FD_SETSIZE: one quick refused run per mode there, sparse modes included.
        sel = plan.estimate(["select"], [2000], {2000: ["pingpong", "churn"]}, *args)
        # Every repeat (3 here) is a fresh instance with its own set-up.
        self.assertAlmostEqual(sel, 3 * plan.setup_cost(2000) + 2 * plan.REFUSED_RUN_S)

    def test_default_preset_runs_churn_at_a_few_counts_only(self):
        preset = plan.PRESETS["default"]
        self.assertNotIn("churn", preset.modes)
        at, _ = plan.resolve_counts(preset.sparse_modes["churn"], 19000)
        self.assertEqual(at, [0, 19000])
        counts, _ = plan.resolve_counts(preset.counts, 19000)
        self.assertTrue(set(at) <= set(counts))
        self.assertTrue(any(c < plan.FD_SETSIZE for c in at))
        self.assertTrue(any(c > plan.FD_SETSIZE for c in at))

    def test_columns_keep_the_contract_order_and_the_loadgen_extras(self):
        cols = merged_columns(LOADGEN_COLUMNS + ["new_col"])
        self.assertEqual(cols[: len(LOADGEN_COLUMNS)], LOADGEN_COLUMNS)
        self.assertEqual(cols[len(LOADGEN_COLUMNS)], "new_col")
        self.assertEqual(cols[-len(BENCH_COLUMNS) :], BENCH_COLUMNS)
        self.assertEqual(
            BENCH_COLUMNS[:7],
            [
                "run_id",
                "repeat",
                "placement",
                "server_cpu",
                "loadgen_cpu",
                "floor_p50_us",
                "bench_status",
            ],
        )

    def test_the_mechanism_listing_of_a_server_is_read_in_its_order(self):
        listing = (
            '[\n{"name":"poll","binary":"chat-poll","args":[],"edge_triggered":false,'
            '"optional":false,"available":true,"unavailable_reason":null},\n'
            '{"name":"epoll-et","binary":"chat-epoll","args":["--edge"],"edge_triggered":true,'
            '"optional":false,"available":true,"unavailable_reason":null},\n'
            '{"name":"uring","binary":"chat-uring","args":[],"edge_triggered":true,'
            '"optional":true,"available":false,"unavailable_reason":"refused"}\n]'
        )
        table = mechanisms.parse_listing(listing)
        self.assertEqual([m.name for m in table], ["poll", "epoll-et", "uring"])
        self.assertEqual(table[1].command("/b"), ["/b/chat-epoll", "--edge"])
        self.assertTrue(table[1].edge_triggered)
        self.assertEqual(
            (table[2].optional, table[2].available, table[2].unavailable_reason),
            (True, False, "refused"),
        )

    def test_mechanism_filter_names_what_is_missing(self):
        found = [
            mechanisms.Mechanism("select", "chat-select"),
            mechanisms.Mechanism("poll", "chat-poll"),
        ]
        self.assertEqual([m.name for m in mechanisms.select(found, ["poll"])], ["poll"])
        with self.assertRaises(ValueError) as e:
            mechanisms.select(found, ["kqueue"])
        self.assertIn("kqueue", str(e.exception))
        self.assertIn("select, poll", str(e.exception))

    def test_peers_are_opt_in_groups_that_full_includes(self):
        found = [
            mechanisms.Mechanism("poll", "chat-poll"),
            mechanisms.Mechanism("epoll-lt", "chat-epoll"),
            mechanisms.Mechanism("libevent-epoll", "chat-libevent", group="libraries"),
            mechanisms.Mechanism("libuv", "chat-libuv", group="libraries"),
            mechanisms.Mechanism("py-epoll", "py-epoll", group="python"),
        ]

        def names(wanted, every_group=False):
            return [m.name for m in mechanisms.select(found, wanted, every_group)]

        self.assertEqual(names(None), ["poll", "epoll-lt"])  # the default sweep is unchanged
        self.assertEqual(len(names(None, every_group=True)), 5)  # --full
        self.assertEqual(names(["+libraries"]), ["poll", "epoll-lt", "libevent-epoll", "libuv"])
        self.assertEqual(names(["epoll-lt", "+python"]), ["epoll-lt", "py-epoll"])
        self.assertEqual(names(["py-epoll", "poll"]), ["py-epoll", "poll"])  # the order given
        with self.assertRaises(ValueError) as e:
            names(["+rust"])
        self.assertIn("+libraries", str(e.exception))

    def test_a_listing_without_groups_is_all_default(self):
        listing = '[{"name":"poll","binary":"chat-poll","args":[]}]'
        self.assertEqual(mechanisms.parse_listing(listing)[0].group, "ours")


if __name__ == "__main__":
    unittest.main()


class DecideRoundFitting(unittest.TestCase):
    """decide.fitting: when the round every open comparison asks for does not fit the budget left,
    the cheapest ones still get theirs (a 25-s default budget and a 26-s round once meant no
    round at all)."""

    class Comparison:
        def __init__(self, claim, mechanisms, modes, counts):
            self.claim, self.mechanisms, self.modes, self.counts = claim, mechanisms, modes, counts

    class Sweep:
        counts = [0, 1000, 19000]

        class args:
            variants = [None]
            warmup = 0.15
            duration = 0.5

    def setUp(self):
        from harness.sweep import decide

        self.decide = decide
        self.wide = self.Comparison(11, ["a", "b"], ["pingpong", "flood"], [0, 1000, 19000])
        self.small = self.Comparison(10, ["c", "d"], ["churn"], [0])
        self.costs = {
            c.claim: decide.round_cost(decide.round_plan([c], self.Sweep.counts), self.Sweep.args)
            for c in (self.wide, self.small)
        }

    def test_everything_when_it_fits(self):
        both = self.decide.round_cost(
            self.decide.round_plan([self.wide, self.small], self.Sweep.counts), self.Sweep.args
        )
        chosen = self.decide.fitting([self.wide, self.small], self.Sweep, both, 1.0)
        self.assertEqual(chosen, [self.wide, self.small])

    def test_the_cheapest_that_fit_when_not_everything_does(self):
        self.assertLess(self.costs[10], self.costs[11])
        room = self.costs[10] + 0.5 * (self.costs[11] - self.costs[10])
        chosen = self.decide.fitting([self.wide, self.small], self.Sweep, room, 1.0)
        self.assertEqual(chosen, [self.small])

    def test_nothing_when_not_even_the_cheapest_fits(self):
        chosen = self.decide.fitting([self.wide, self.small], self.Sweep, self.costs[10] * 0.9, 1.0)
        self.assertEqual(chosen, [])
        # The pace (how much slower the last round ran than estimated) counts too.
        chosen = self.decide.fitting([self.small], self.Sweep, self.costs[10] * 1.5, 2.0)
        self.assertEqual(chosen, [])


class CurveEstimateTest(unittest.TestCase):
    """The offered-load phase's estimate counts each rate run at the window the phase gives it,
    and expects a mechanism whose cost grows with idle descriptors to carry less there."""

    ARGS = argparse.Namespace(warmup=0.15, duration=0.5, repeats=3)

    @staticmethod
    def mech(name, flat):
        return mechanisms.Mechanism(name, "chat-x", cost_independent_of_idle=flat)

    def test_a_rate_run_waits_for_its_replies_within_the_longest_window(self):
        self.assertEqual(curves.window_s(100000, 0.5), 0.5)
        self.assertEqual(curves.window_s(1000, 0.5), 2.0)
        self.assertEqual(curves.window_s(10, 0.5), curves.MAX_RATE_WINDOW_S)

    def test_a_scanning_mechanism_at_many_idle_is_expected_slower_and_costs_longer_windows(self):
        poll, epoll = self.mech("poll", False), self.mech("epoll-lt", True)
        self.assertEqual(curves.planned_capacity(poll, 0), curves.planned_capacity(epoll, 0))
        self.assertEqual(curves.planned_capacity(epoll, 5000), curves.DEFAULT_EXPECTED_CAPACITY)
        self.assertLess(curves.planned_capacity(poll, 5000), 600)
        at_0 = curves.estimate([poll], [0], self.ARGS)
        at_5000 = curves.estimate([poll], [5000], self.ARGS)
        flat_5000 = curves.estimate([epoll], [5000], self.ARGS)
        self.assertGreater(at_5000 - at_0, 3 * (flat_5000 - at_0))

    def test_every_curve_step_and_repeat_is_counted_at_its_own_window(self):
        epoll = self.mech("epoll-lt", True)
        one = curves.estimate([epoll], [0], self.ARGS) - curves.estimate([], [0], self.ARGS)
        expected = curves.DEFAULT_EXPECTED_CAPACITY
        rates = [
            expected * curves.LOW_FRACTION * curves.step_factor() ** i
            for i in range(curves.MAX_STEPS)
        ]
        rates += [expected] * (curves.BISECT_STEPS + 4 * curves.EXPECTED_REPEAT_RUNS)
        want = sum(plan.run_cost(0.15, curves.window_s(r, 0.5)) for r in rates)
        # The one point's server instances (5 repeats at 0 idle) come on top.
        self.assertAlmostEqual(one, want + 5 * plan.setup_cost(0), places=6)
