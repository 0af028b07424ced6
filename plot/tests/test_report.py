"""report.py and the claims on synthetic results folders: every claim gets a verdict, missing
inputs give 'inconclusive' with a reason, never a crash."""

import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PLOT = os.path.dirname(HERE)
sys.path.insert(0, PLOT)
sys.path.insert(0, HERE)

import claims  # noqa: E402
import rules  # noqa: E402
import synthetic  # noqa: E402
from results_folder import ResultsFolder  # noqa: E402

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
        self.assertEqual(sorted(v), list(range(1, 11)))
        expected = {1: rules.CONFIRMED, 2: rules.CONFIRMED, 3: rules.CONFIRMED, 4: rules.CONFIRMED,
                    5: rules.CONFIRMED, 6: rules.CONFIRMED, 8: rules.CONFIRMED, 9: rules.REFUTED,
                    10: rules.CONFIRMED}
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
            self.assertTrue(any("probe.json absent" in f for f in v[number].figures), v[number].figures)
        for number in (8, 9, 10):
            self.assertEqual(v[number].verdict, rules.INCONCLUSIVE, v[number].figures)
            self.assertTrue(any("micro.csv absent" in f for f in v[number].figures), v[number].figures)
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
        return subprocess.run([sys.executable, os.path.join(PLOT, "report.py"), folder],
                              capture_output=True, text=True, timeout=120)

    def test_report_has_a_verdict_for_every_claim(self):
        with tempfile.TemporaryDirectory() as d:
            synthetic.write(d, churn=True, select_dynamic=True)
            proc = self.run_report(d)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            with open(os.path.join(d, "report.md")) as f:
                text = f.read()
            rows = [line for line in text.splitlines() if line.startswith("| ") and "**" in line]
            claim_rows = [r for r in rows if r.split("|")[1].strip().isdigit()]
            self.assertEqual([int(r.split("|")[1]) for r in claim_rows], list(range(1, 11)))
            for r in claim_rows:
                self.assertRegex(r.split("|")[3], r"\*\*(confirmed|refuted|inconclusive)\*\*")
            for section in ("## The machine and the run", "## How to read this", "## The claims",
                            "## Our figures beside the published ones", "## How verdicts are decided",
                            "## Failed points", "Synthetic CPU", "./bench --synthetic", "server-died",
                            "refused:FD_SETSIZE", "Kerrisk", "79%"):
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
            for expected in ("Nested Synthetic CPU", "soft 20000, hard 20000", "sweep.py --synthetic",
                             "fedcba9876543210 (with uncommitted changes)", "12.2.0", "-O3 -DNDEBUG"):
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


if __name__ == "__main__":
    unittest.main()
