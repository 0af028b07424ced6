"""The sweep's repeats against fake servers and a fake loadgen: extra rounds for the claims still
undecided after the planned repeats; fresh servers and idle sets per repeat; idle states (block,
allow) as a factor with their own floors, and what holding the request does to the floor."""

import json
import os
import shutil
import tempfile
import unittest

from harness.sweep import idle_states
from harness.sweep.tests.sweep_test_support import FAST, expected_keys, make_fake_bin, run_sweep


class MeasureUntilDecidedTest(unittest.TestCase):
    """After the planned repeats, extra rounds for the claims still undecided (docs/claims.md)."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sweep-test-")
        self.bin = make_fake_bin(
            os.path.join(self.tmp, "bin"), ("chat-select", "chat-poll", "chat-epoll")
        )

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    ARGS = FAST + "--mechanisms select,epoll-lt,epoll-et --counts 0,20 --repeats 3".split()

    def test_an_undecided_claim_gets_extra_rounds_of_only_its_points(self):
        # ET's cost is drawn at random (±50 %): claim 7's interval stays wide, look after look.
        run = run_sweep(self.bin, self.ARGS, env={"FAKE_LOADGEN_NOISY": "epoll-et"})
        self.assertEqual(run.returncode, 0, run.stderr)
        from plot import rules

        extra = rules.MAX_LOOKS - 1
        self.assertEqual(
            run.keys(),
            sorted(
                expected_keys(["select", "epoll-lt", "epoll-et"], [0, 20], ["pingpong", "flood"], 3)
                + [
                    (m, idle, mode, rep)
                    for m in ("epoll-lt", "epoll-et")
                    for idle in (0, 20)
                    for mode in ("pingpong", "flood")
                    for rep in range(4, 4 + extra)
                ]
            ),
        )
        decide = run.env["decide"]
        self.assertEqual((decide["looks"], decide["extra_repeats"]), (rules.MAX_LOOKS, extra))
        entry = decide["claims"]["7"]
        self.assertEqual((entry["decided"], entry["looks"]), (False, rules.MAX_LOOKS))
        self.assertIn("looks made", entry["stopped"])
        self.assertIn("extra round, repeat 4", run.stderr)

    def test_no_budget_no_extra_round_and_the_claim_says_so(self):
        run = run_sweep(
            self.bin, self.ARGS + ["--decide-budget", "0"], env={"FAKE_LOADGEN_NOISY": "epoll-et"}
        )
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(max(int(r["repeat"]) for r in run.measured()), 3)
        self.assertIn("--decide-budget of 0 s ran out", run.env["decide"]["claims"]["7"]["stopped"])

    def test_a_decided_claim_needs_no_extra_round(self):
        # ET 30 % cheaper than LT at every point: claim 7 is confirmed with the planned repeats.
        run = run_sweep(self.bin, self.ARGS, env={"FAKE_LOADGEN_COST": "epoll-et=0.7"})
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(max(int(r["repeat"]) for r in run.measured()), 3)
        self.assertEqual((run.env["decide"]["looks"], run.env["decide"]["claims"]), (1, {}))

    def test_a_claim_only_the_sitting_keeps_open_gets_no_extra_round_and_says_why(self):
        # ET and LT cost exactly the same: the interval is the sitting's alone and straddles
        # 0.95 whatever the repeats (rules.SITTING_LOG_SD), so no round is spent on it.
        run = run_sweep(self.bin, self.ARGS)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(max(int(r["repeat"]) for r in run.measured()), 3)
        decide = run.env["decide"]
        self.assertEqual((decide["looks"], decide["extra_repeats"]), (1, 0))
        entry = decide["claims"]["7"]
        self.assertEqual((entry["decided"], entry["open"]), (False, []))
        self.assertEqual(entry["undecidable"], ["claim 7 (server CPU per message)"])
        self.assertIn("cannot be decided in one sitting", entry["stopped"])
        self.assertIn("cannot be decided in one sitting", run.stderr)


class IndependentRepeatsTest(unittest.TestCase):
    """Each repeat starts fresh servers and idle sets; idle states are a factor of the sweep."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sweep-test-")
        self.bin = make_fake_bin(os.path.join(self.tmp, "bin"), ("chat-poll", "chat-epoll"))
        # A plain file stands in for /dev/cpu_dma_latency: the request "holds" without root.
        self.device = os.path.join(self.tmp, "cpu_dma_latency")
        open(self.device, "wb").close()

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def servers(self, run):
        with open(os.path.join(run.out_dir, "servers.jsonl")) as f:
            return [json.loads(line) for line in f]

    def test_every_repeat_has_its_own_servers_and_idle_set(self):
        run = run_sweep(
            self.bin,
            FAST
            + "--mechanisms poll,epoll-lt --counts 0,20 --repeats 3 --modes pingpong,flood".split(),
            env={"MUXBENCH_CPU_DMA_LATENCY": self.device},
        )
        self.assertEqual(run.returncode, 0, run.stderr)
        starts = {}
        for r in run.measured():
            self.assertEqual(r["bench_status"], "ok", r)
            self.assertEqual(r["idle_states"], "block", r)
            starts.setdefault((r["mechanism"], r["idle"], r["mode"]), set()).add(
                (r["repeat"], r["server_started_utc"])
            )
        for key, seen in starts.items():
            self.assertEqual(len({s for _, s in seen}), 3, (key, seen))
        # One histogram file per run, floors included, named in the row.
        for r in run.rows:
            self.assertEqual(r["histogram_file"], f"histograms/run-{r['run_id']}.json")
            self.assertTrue(os.path.exists(os.path.join(run.out_dir, r["histogram_file"])), r)
        records = self.servers(run)
        self.assertEqual(len(records), 2 * 2 * 3)
        self.assertEqual(len({r["pid"] for r in records}), len(records))
        holds = [r for r in records if r["idle"] == 20]
        self.assertEqual(sorted(r["repeat"] for r in holds), [1, 1, 2, 2, 3, 3])
        self.assertTrue(all(r["released"].get("open") == 20 for r in holds), holds)
        self.assertTrue(all(r["holding"]["destinations"] == 1 for r in holds), holds)
        self.assertTrue(run.env["idle_states"]["held"])
        self.assertEqual(run.env["idle_states"]["run"], ["block"])

    def test_block_and_allow_are_both_measured_with_their_own_floors(self):
        run = run_sweep(
            self.bin,
            FAST
            + (
                "--mechanisms poll --counts 0 --repeats 2 --modes pingpong "
                "--idle-states block,allow"
            ).split(),
            env={"MUXBENCH_CPU_DMA_LATENCY": self.device},
        )
        self.assertEqual(run.returncode, 0, run.stderr)
        got = sorted((r["repeat"], r["idle_states"]) for r in run.measured())
        self.assertEqual(got, [("1", "allow"), ("1", "block"), ("2", "allow"), ("2", "block")])
        # The order of the two settings alternates with the repeat (drift shows as spread).
        order = [r["idle_states"] for r in sorted(run.measured(), key=lambda r: int(r["run_id"]))]
        self.assertEqual(order, ["block", "allow", "allow", "block"])
        floors = {
            (r["mode"], r["label"], r["idle_states"]) for r in run.rows if r["mechanism"] == "floor"
        }
        for state in ("block", "allow"):
            for kind, prefix in (("floor", "floor"), ("relay-floor", "relay")):
                for when in ("start", "end"):
                    self.assertIn((kind, f"{prefix}-{when}", state), floors)
        for r in run.measured():
            self.assertEqual(r["relay_floor_p50_us"], "25", r)
        self.assertEqual(run.env["idle_states"]["run"], ["block", "allow"])

    def test_rows_carry_the_median_of_the_start_floors(self):
        sequence = os.path.join(self.tmp, "floors")
        with open(sequence, "w") as f:
            f.write("30,10,20,99,99,99")  # start: 30, 10, 20 (median 20); end: 99 x 3
        run = run_sweep(
            self.bin,
            FAST
            + (
                "--mechanisms poll --counts 0 --repeats 1 --modes pingpong --placement shared"
            ).split(),
            env={"FAKE_FLOOR_SEQUENCE": sequence},
        )
        self.assertEqual(run.returncode, 0, run.stderr)
        starts = [float(r["p50_us"]) for r in run.rows if r["label"] == "floor-start"]
        self.assertEqual(starts[:3], [30, 10, 20])
        self.assertEqual([r["floor_p50_us"] for r in run.measured()], ["20"])

    def test_the_start_measures_what_holding_the_request_does_to_the_floor(self):
        run = run_sweep(
            self.bin,
            FAST + "--mechanisms poll --counts 0 --repeats 1 --modes pingpong".split(),
            # A machine where the request matters: the floor is 4x faster while it is held.
            env={"MUXBENCH_CPU_DMA_LATENCY": self.device, "FAKE_FLOOR_BY_REQUEST": "40:120,10:30"},
        )
        self.assertEqual(run.returncode, 0, run.stderr)
        effect = run.env["idle_states_effect"]
        self.assertTrue(effect["measured"], effect)
        self.assertEqual(
            [(r["request"], r["p50_us"], r["p99_us"], r["status"]) for r in effect["runs"]],
            [("without", 40, 120, "ok"), ("with", 10, 30, "ok")] * idle_states.EFFECT_ROUNDS,
        )
        self.assertEqual((effect["p50_ratio"], effect["p99_ratio"]), (0.25, 0.25))
        self.assertIn("cpuidle_driver", effect)
        self.assertIn("what_the_request_can_do", effect)
        self.assertIn("changed the floor's p50 by ×0.25", run.stderr)
        # The effect runs are not floors of the sweep, and the request is held again after them.
        floors = [r for r in run.rows if r["mechanism"] == "floor"]
        self.assertFalse(any(r["label"].startswith("idle-effect") for r in floors))
        self.assertEqual({float(r["p50_us"]) for r in floors if r["mode"] == "floor"}, {10})

    def test_without_permission_the_sweep_says_so_and_measures_allow(self):
        missing = os.path.join(self.tmp, "no-such-dir", "cpu_dma_latency")
        run = run_sweep(
            self.bin,
            FAST + "--mechanisms poll --counts 0 --repeats 1 --modes pingpong".split(),
            env={"MUXBENCH_CPU_DMA_LATENCY": missing},
        )
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual({r["idle_states"] for r in run.rows}, {"allow"})
        lines = [line for line in run.stderr.splitlines() if "NOT blocked" in line]
        self.assertEqual(len(lines), 1, run.stderr)
        self.assertIn("run as root", lines[0])
        self.assertFalse(run.env["idle_states"]["held"])
        self.assertIn("cannot open", run.env["idle_states"]["why_not"])
        self.assertTrue(any("NOT blocked" in n for n in run.env["notes"]))
        self.assertFalse(run.env["idle_states_effect"]["measured"])
        self.assertIn("cannot open", run.env["idle_states_effect"]["why_not"])
        self.assertEqual(run.env["idle_states_effect"]["runs"], [])


if __name__ == "__main__":
    unittest.main()
