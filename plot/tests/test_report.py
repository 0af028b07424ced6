"""report.py and the claims on synthetic results folders: every claim gets a verdict, missing
inputs give 'inconclusive' with a reason, never a crash."""

import json
import os
import tempfile
import shutil
import unittest

from plot import claims
from plot import rules
from plot.tests import synthetic
from plot.results_folder import ResultsFolder

HERE = os.path.dirname(os.path.abspath(__file__))
PLOT = os.path.dirname(HERE)


VERDICTS = {rules.CONFIRMED, rules.REFUTED, rules.INCONCLUSIVE}


def verdicts(folder):
    return {c.number: c for c in claims.evaluate(ResultsFolder(folder))}


class Claims(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def test_textbook_shapes_give_textbook_verdicts(self):
        v = verdicts(synthetic.write(self.dir, churn=True))
        self.assertEqual(sorted(v), sorted(claims.CLAIMS))
        expected = {
            1: rules.CONFIRMED,
            2: rules.CONFIRMED,
            3: rules.CONFIRMED,
            4: rules.CONFIRMED,
            5: rules.CONFIRMED,
            6: rules.CONFIRMED,
            8: rules.CONFIRMED,
            9: rules.REFUTED,
            10: rules.CONFIRMED,
        }
        for number, verdict in expected.items():
            self.assertEqual(v[number].verdict, verdict, f"claim {number}: {v[number].figures}")
        self.assertIn(v[7].verdict, VERDICTS)

    def test_flat_select_and_poll_refute_the_growth_claims(self):
        v = verdicts(synthetic.write(self.dir, scan=0.0))
        self.assertEqual(v[2].verdict, rules.REFUTED, v[2].figures)
        self.assertEqual(v[4].verdict, rules.REFUTED, v[4].figures)

    def test_noisy_runs_without_micro_are_inconclusive(self):
        v = verdicts(synthetic.write(self.dir, micro=False, noise=0.95, scan=0.1, seed=11))
        self.assertEqual(v[2].verdict, rules.INCONCLUSIVE, v[2].figures)
        self.assertEqual(v[4].verdict, rules.INCONCLUSIVE, v[4].figures)

    def test_probe_alone_refutes_the_mmap_claim(self):
        v = verdicts(synthetic.write(self.dir, micro=False))
        self.assertEqual(v[9].verdict, rules.REFUTED, v[9].figures)
        self.assertTrue(any("ENODEV" in f for f in v[9].figures))

    def test_a_mappable_epoll_descriptor_and_a_per_event_cost_disagree(self):
        import json

        synthetic.write(self.dir)
        path = os.path.join(self.dir, "probe.json")
        with open(path) as f:
            probe = json.load(f)
        probe.update(epoll_fd_mmap_errno="mapped", epoll_wait_readonly_buffer_errno="accepted")
        with open(path, "w") as f:
            json.dump(probe, f)
        self.assertEqual(verdicts(self.dir)[9].verdict, rules.INCONCLUSIVE)

    def test_select_serving_past_fd_setsize_refutes_claim_1(self):
        v = verdicts(synthetic.write(self.dir, select_limit=3000, probe=False))
        self.assertEqual(v[1].verdict, rules.REFUTED, v[1].figures)
        # With the probe's FD_SET abort beside it, the two sources disagree: no verdict.
        v = verdicts(synthetic.write(self.dir, select_limit=3000))
        self.assertEqual(v[1].verdict, rules.INCONCLUSIVE, v[1].figures)

    def test_missing_micro_and_probe_make_their_claims_inconclusive_with_a_reason(self):
        v = verdicts(synthetic.write(self.dir, micro=False, probe=False, env=False))
        for number in (5, 6):
            self.assertEqual(v[number].verdict, rules.INCONCLUSIVE)
            self.assertTrue(
                any("probe.json absent" in f for f in v[number].figures), v[number].figures
            )
        for number in (8, 9, 10):
            self.assertEqual(v[number].verdict, rules.INCONCLUSIVE, v[number].figures)
            self.assertTrue(
                any("micro.csv absent" in f for f in v[number].figures), v[number].figures
            )
        # The runs alone still decide the claims they can.
        self.assertEqual(v[1].verdict, rules.CONFIRMED)
        self.assertEqual(v[2].verdict, rules.CONFIRMED)

    def test_ET_clearly_cheaper_confirms_claim_7_and_clearly_dearer_refutes_it(self):
        saved = dict(synthetic.BASE_US)
        try:
            synthetic.BASE_US["epoll-et"] = saved["epoll-lt"] * 0.7
            self.assertEqual(verdicts(synthetic.write(self.dir))[7].verdict, rules.CONFIRMED)
            synthetic.BASE_US["epoll-et"] = saved["epoll-lt"] * 1.3
            self.assertEqual(verdicts(synthetic.write(self.dir))[7].verdict, rules.REFUTED)
        finally:
            synthetic.BASE_US.clear()
            synthetic.BASE_US.update(saved)


class ReportScript(unittest.TestCase):
    def run_report(self, folder):
        return synthetic.run_module("plot.report", folder, timeout=120)

    def test_report_has_a_verdict_for_every_claim(self):
        with tempfile.TemporaryDirectory() as d:
            synthetic.write(d, churn=True, select_dynamic=True)
            proc = self.run_report(d)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            with open(os.path.join(d, "report.md")) as f:
                text = f.read()
            verdicts = text[text.index("## Verdicts") : text.index("## The story in two plots")]
            rows = [line for line in verdicts.splitlines() if line.startswith("| ")]
            claim_rows = [r for r in rows if r.split("|")[1].strip().isdigit()]
            self.assertEqual([int(r.split("|")[1]) for r in claim_rows], sorted(claims.CLAIMS))
            for r in claim_rows:
                self.assertRegex(r.split("|")[3], r"\*\*(confirmed|refuted|inconclusive)\*\*")
            for section in (
                "## The machine and the run",
                "## How to read this",
                "## The claims",
                "## Our figures beside the published ones",
                "## How verdicts are decided",
                "## Failed points",
                "Synthetic CPU",
                "./bench --synthetic",
                "server-died",
                "refused:FD_SETSIZE",
                "Kerrisk",
                "79%",
            ):
                self.assertIn(section, text)

    def test_report_without_optional_inputs_or_plots_still_writes(self):
        with tempfile.TemporaryDirectory() as d:
            synthetic.write(d, micro=False, probe=False, env=False)
            proc = self.run_report(d)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            with open(os.path.join(d, "report.md")) as f:
                text = f.read()
            self.assertIn("micro.csv: absent", text)
            self.assertIn("No plot found", text)

    def test_sweep_drivers_grouped_env_json_is_read(self):
        with tempfile.TemporaryDirectory() as d:
            synthetic.write(d, nested_env=True)
            proc = self.run_report(d)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            with open(os.path.join(d, "report.md")) as f:
                text = f.read()
            for expected in (
                "Nested Synthetic CPU",
                "soft 20000, hard 20000",
                "sweep.py --synthetic",
                "fedcba9876543210 (with uncommitted changes)",
                "12.2.0",
                "-O3 -DNDEBUG",
            ):
                self.assertIn(expected, text)

    def test_report_on_header_only_runs_csv_is_all_inconclusive(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "runs.csv"), "w") as f:
                f.write(",".join(synthetic.LOADGEN_COLUMNS + synthetic.BENCH_COLUMNS) + "\n")
            proc = self.run_report(d)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            v = verdicts(d)
            self.assertEqual({c.verdict for c in v.values()}, {rules.INCONCLUSIVE})

    def test_missing_runs_csv_is_one_actionable_line(self):
        with tempfile.TemporaryDirectory() as d:
            proc = self.run_report(d)
            self.assertNotEqual(proc.returncode, 0)
            self.assertIn("runs.csv: missing", proc.stderr)
            self.assertNotIn("Traceback", proc.stderr)


REFERENCE = os.path.join(os.path.dirname(PLOT), "results", "reference")


def report_text(folder):
    from plot import report

    return report.build(folder)[2]


def section(text, heading):
    """The text of one '## ' section of a report, heading included."""
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start:] if end < 0 else text[start:end]


class NewColumns(unittest.TestCase):
    """Runs with idle_states, bound_by, relay floors and the new env.json keys."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def test_a_mechanism_the_hint_does_not_know_follows_the_sweeps_order(self):
        folder = synthetic.write_new(self.dir, states=("allow",))
        runs = os.path.join(folder, "runs.csv")
        with open(runs) as f:
            lines = f.read().splitlines()
        head, body = lines[0], lines[1:]
        extra = [line.replace("poll,", "zz-new,", 1) for line in body if line.startswith("poll,")]
        extra += [line.replace("poll,", "aa-new,", 1) for line in body if line.startswith("poll,")]
        with open(runs, "w") as f:
            f.write("\n".join([head] + body + extra) + "\n")
        # A folder from before env.json listed them: alphabetical after the known ones.
        self.assertEqual(ResultsFolder(folder).mechanisms()[-2:], ["aa-new", "zz-new"])
        env_path = os.path.join(folder, "env.json")
        with open(env_path) as f:
            env = json.load(f)
        env["mechanisms"] = [
            {"name": "zz-new", "command": ["chat-zz"]},
            {"name": "poll", "command": []},
            {"name": "aa-new", "command": ["chat-aa"]},
        ]
        with open(env_path, "w") as f:
            json.dump(env, f)
        results = ResultsFolder(folder)
        self.assertEqual(results.mechanisms()[-2:], ["zz-new", "aa-new"])
        self.assertEqual(results.mechanisms()[0], "select")

    def test_floors_and_idle_states_never_make_modes_or_mix_curves(self):
        results = ResultsFolder(synthetic.write_new(self.dir, states=("allow", "block")))
        self.assertEqual(results.modes(), ["pingpong", "flood"])
        self.assertNotIn("floor", results.mechanisms())
        self.assertEqual(results.primary_scenario("pingpong")[5], "block")
        self.assertEqual(results.idle_states_of("pingpong"), ["block", "allow"])
        self.assertEqual({r.idle_states for r in results.scenario_runs("pingpong")}, {"block"})
        self.assertEqual(
            {r.idle_states for r in results.scenario_runs("pingpong", "allow")}, {"allow"}
        )
        # One curve point per repeat, never block and allow together.
        self.assertEqual(len(results.series("pingpong", "poll", "p50_us").values_at(0)), 3)
        self.assertEqual(
            len(results.floor_rows("relay-floor", label="-start", idle_states="allow")), 1
        )
        self.assertAlmostEqual(results.floor_at("floor", "start", "block"), synthetic.FLOOR_P50)
        self.assertEqual(results.other_scenarios(), [])

    def test_a_drift_beyond_10_percent_is_a_warning_at_the_top(self):
        text = report_text(synthetic.write_new(self.dir, drift=1.12))
        top = text[: text.index("## Verdicts")]
        self.assertIn("- **Warning: the machine drifted**: the relay floor (4 hops, no", top)
        self.assertIn("[drift and spread](#drift-and-spread)", top)
        drift = section(text, "## Drift and spread")
        self.assertIn("+12.0% **drift**", drift)
        # The warning in full opens its section.
        self.assertIn("**Warning: the machine drifted during this run.**", drift)
        # One line per floor and idle-states setting: never the same line twice.
        warnings = [line for line in top.splitlines() if line.startswith("- **Warning")]
        self.assertEqual(len(warnings), len(set(warnings)))

    def test_a_drift_of_5_percent_is_no_warning(self):
        text = report_text(synthetic.write_new(self.dir, drift=1.05))
        self.assertNotIn("Warning: the machine drifted", text)
        drift = section(text, "## Drift and spread")
        self.assertIn("+5.0%", drift)
        self.assertNotIn("**drift**", drift)

    def test_the_reference_warns_exactly_when_its_floors_drifted(self):
        # Whether the committed reference drifted is a fact of that run (run-F did, run-G did
        # not): the warning at the top must follow the floors' own drift table, either way.
        text = report_text(REFERENCE)
        warned = "**Warning: the machine drifted**" in text[: text.index("## Verdicts")]
        drifted = "**drift**" in section(text, "## Drift and spread")
        self.assertEqual(warned, drifted)

    def test_a_point_whose_repeats_spread_is_listed_with_its_values(self):
        text = report_text(synthetic.write_new(self.dir, spread=("poll", "pingpong", 500)))
        spread = section(text, "## Drift and spread")
        rows = [
            line for line in spread.splitlines() if line.startswith("| poll | pingpong | 500 |")
        ]
        self.assertEqual(len(rows), 1, spread)
        self.assertIn("p50_us", rows[0])
        self.assertIn("idle states blocked", rows[0])
        self.assertRegex(rows[0], r"1: [\d.]+, 2: [\d.]+, 3: [\d.]+ \| ×2\.\d+ \|")

    def test_no_spread_says_so(self):
        text = report_text(synthetic.write_new(self.dir))
        self.assertIn("Spread: no point's repeats differ", section(text, "## Drift and spread"))

    def test_idle_states_section_sets_block_against_allow(self):
        text = report_text(synthetic.write_new(self.dir, allow_factor=2.5))
        idle = section(text, "## CPU idle states")
        self.assertIn("allowed ÷ blocked", idle)
        epoll = next(line for line in idle.splitlines() if line.startswith("| epoll-lt |"))
        self.assertEqual(epoll.count("×2.50"), 2, epoll)  # p50 and server CPU per message
        for floor in ("| floor (2 hops, no server) |", "| relay floor (4 hops, no multiplexer) |"):
            row = next(line for line in idle.splitlines() if line.startswith(floor))
            self.assertIn("×2.50", row)
        self.assertNotIn("could not be blocked", text)

    def test_one_idle_states_value_says_which_and_how_to_see_the_effect(self):
        text = report_text(synthetic.write_new(self.dir, states=("block",)))
        idle = section(text, "## CPU idle states")
        self.assertIn("idle states blocked", idle)
        self.assertIn("--idle-states block,allow", idle)
        self.assertNotIn("allowed ÷ blocked", idle)

    def test_idle_states_not_held_is_said_near_the_top(self):
        text = report_text(synthetic.write_new(self.dir, states=("allow",), held=False))
        top = text[: text.index("## Verdicts")]
        self.assertIn(
            "**Warning: CPU idle states could not be blocked** (cannot open /dev/cpu_dma_latency",
            top,
        )

    NO_DRIVER = (
        "this machine has no cpuidle driver (current_driver: none) and lists no idle states: the"
        " request has no idle state to keep CPUs out of, so it cannot make idle CPUs poll here"
    )

    def effect(self, **changes):
        """idle_states_effect as the sweep writes it on a machine without a cpuidle driver."""
        runs = [
            {"request": req, "round": n, "p50_us": p50, "p99_us": p99, "status": "ok"}
            for n, (req, p50, p99) in enumerate(
                [("without", 32.9, 131), ("with", 32.6, 68), ("without", 32.1, 122)]
                + [("with", 31.7, 74), ("without", 33.0, 125), ("with", 31.0, 70)]
            )
        ]
        effect = {
            "cpuidle_driver": "none",
            "cpuidle_states": [],
            "request_can_poll": False,
            "what_the_request_can_do": self.NO_DRIVER,
            "warmup_s": 0.2,
            "window_s": 1.0,
            "runs": runs,
            "p50_without_us": 32.9,
            "p50_with_us": 31.7,
            "p50_ratio": 0.964,
            "p99_without_us": 125,
            "p99_with_us": 70,
            "p99_ratio": 0.56,
            "measured": True,
        }
        effect.update(changes)
        return effect

    def test_the_idle_states_section_says_what_the_request_did_not_what_it_hoped(self):
        folder = synthetic.write_new(self.dir, states=("block",), idle_effect=self.effect())
        text = report_text(folder)
        idle = section(text, "## CPU idle states")
        self.assertIn("What the request can do here: " + self.NO_DRIVER, idle)
        self.assertIn(
            "holding the request changed the 2-hop floor's p50 by **×0.96** (32.9 → 31.7 µs) and"
            " its p99 by **×0.56** (125 → 70 µs) on this machine",
            idle,
        )
        self.assertIn("median of 3 interleaved 1 s runs each", idle)
        self.assertNotIn("idle CPUs polled", text)
        self.assertIn("Explanation, not measured by this run: an idle CPU may halt", idle)
        machine = section(text, "## The machine and the run")
        self.assertIn("| PM QoS request can make idle CPUs poll | no |", machine)
        self.assertIn(
            "| floor with ÷ without the request (measured) | p50 ×0.96, p99 ×0.56 |", machine
        )

    def test_an_effect_not_measured_says_why(self):
        effect = self.effect(measured=False, runs=[], why_not="cannot open /dev/cpu_dma_latency")
        for key in ("p50_ratio", "p99_ratio"):
            effect[key] = None
        idle = section(
            report_text(synthetic.write_new(self.dir, idle_effect=effect)), "## CPU idle states"
        )
        self.assertIn(
            "What holding the request does was not measured in this run: cannot open"
            " /dev/cpu_dma_latency.",
            idle,
        )
        self.assertNotIn("changed the 2-hop floor", idle)

    def test_a_sweep_from_before_the_measurement_says_it_was_not_measured(self):
        idle = section(report_text(synthetic.write_new(self.dir)), "## CPU idle states")
        self.assertIn("was not measured (env.json has no `idle_states_effect`", idle)

    def test_environment_lists_the_confounders(self):
        machine = section(report_text(synthetic.write_new(self.dir)), "## The machine and the run")
        for expected in (
            "| CPU vulnerabilities | 4 listed: 1 not affected, 2 mitigated, 1 vulnerable",
            "| cpufreq governor | none exposed",
            "| transparent huge pages | always [madvise] never |",
            "| clocksource | tsc |",
            "| CPU isolation | none",
            "| virtualization | kvm |",
            "| cpuidle driver / governor | haltpoll / haltpoll |",
            "POLL (exit 0 µs",
        ):
            self.assertIn(expected, machine)

    def test_what_bound_each_point_and_throughput_from_server_bound_points_only(self):
        text = report_text(synthetic.write_new(self.dir, states=("block",)))
        bound = section(text, "## What bound each point")
        self.assertIn("| mechanism | mode | server | loadgen | latency |", bound)
        self.assertIn(
            "| epoll-et | flood | 17 | 3 | 0 |", bound
        )  # its last repeat at 10000 died: no bound_by
        self.assertIn("| poll | pingpong | 0 | 0 | 21 |", bound)
        gammo = section(text, "## Our figures beside the published ones")
        self.assertIn("server-bound points only", gammo)
        # epoll-et's 0-idle flood point was loadgen-bound: it is not used as a capacity.
        self.assertIn("| epoll-et | – | not server-bound at 0 idle or near it |", gammo)

    def test_no_server_bound_point_says_throughput_is_a_round_trip_rate(self):
        text = report_text(synthetic.write_new(self.dir, flood_bound="latency"))
        gammo = section(text, "## Our figures beside the published ones")
        self.assertIn("was server-bound in this run", gammo)
        self.assertIn("round-trip rate, not the server's capacity", gammo)
        self.assertNotIn("degrades", gammo.split("### Throughput lost")[1].split("###")[0])

    def test_chat_epoll_against_the_relay_floor(self):
        text = report_text(synthetic.write_new(self.dir))
        floors = section(text, "## Latency against the floors")
        self.assertRegex(
            floors,
            r"chat-epoll \(epoll-lt\) p50 at 0 idle: [\d.]+ µs = \*\*[\d.]+ × the relay floor\*\*",
        )
        self.assertIn("within 1.10 ×", floors)


class Reference(unittest.TestCase):
    """A run from before the new columns (the reference, with them stripped) still gives a full
    report, and the committed reference itself too."""

    def test_reference_report_without_the_new_columns(self):
        tmp = tempfile.mkdtemp(prefix="old-reference-")
        self.addCleanup(shutil.rmtree, tmp, ignore_errors=True)
        old = synthetic.without_new_columns(REFERENCE, os.path.join(tmp, "old"))
        text = report_text(old)
        for heading in (
            "## Drift and spread",
            "## CPU idle states",
            "## Latency against the floors",
            "## What bound each point",
            "## The claims",
            "## Failed points",
        ):
            self.assertIn(heading, text)
        self.assertIn("does not record idle_states", text)
        self.assertIn("does not record bound_by", text)
        self.assertIn("relay floor was not measured", text)
        self.assertIn("Not measured at both ends: relay floor", text)
        self.assertNotIn("could not be blocked", text)
        self.assertEqual(sorted(verdicts(old)), sorted(claims.CLAIMS))

    def test_the_committed_reference_reports_its_new_columns(self):
        text = report_text(REFERENCE)
        self.assertNotIn("does not record idle_states", text)
        self.assertNotIn("does not record bound_by", text)
        self.assertIn("× the relay floor", text)
        self.assertIn("idle states blocked (PM QoS held) | yes", text)
        self.assertEqual(sorted(verdicts(REFERENCE)), sorted(claims.CLAIMS))


if __name__ == "__main__":
    unittest.main()
