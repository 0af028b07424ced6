"""The report's projection to 100k and 1M idle connections, on synthetic results folders."""

import os
import tempfile
import unittest

from harness.common import preflight
from plot import claims, projection
from plot.results_folder import ResultsFolder
from plot.tests import synthetic
from plot.tests import synthetic_sections


class ProjectionTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def folder(self, **scale):
        path = synthetic.write(os.path.join(self.tmp.name, "run"), noise=0.0)
        synthetic_sections.with_scale_columns(path, **scale)
        return ResultsFolder(path)

    def test_memory_per_side_is_n_times_the_measured_bytes(self):
        results = self.folder(server=3000.0, holders=4000.0, both=7500.0)
        kb = projection.kernel_bytes(results)
        self.assertEqual(kb["count"], max(synthetic.IDLE))
        self.assertEqual((kb["server"], kb["holders"], kb["both"]), (3000.0, 4000.0, 7500.0))
        text = "\n".join(projection.section(results))
        self.assertIn("This is a projection, not a measurement", text)
        human = preflight.human_bytes
        self.assertIn(
            f"Kernel memory at 1,000,000 idle: server {human(3e9)}, holders {human(4e9)},"
            f" both sides {human(7.5e9)}.",
            text,
        )
        self.assertIn(f"Kernel memory at 100,000 idle: server {human(3e8)}", text)
        self.assertIn("measured at 10,000 idle (cgroup)", text)
        self.assertNotIn("not separable", text)

    def test_without_sides_only_the_sum_is_projected_and_it_says_why(self):
        results = self.folder(both=7000.0)
        text = "\n".join(projection.section(results))
        self.assertIn(
            f"Kernel memory at 1,000,000 idle: both sides {preflight.human_bytes(7e9)}.", text
        )
        self.assertIn("Per side: not separable", text)
        self.assertIn("global: synthetic, no cgroup v2", text)

    def test_poll_extends_claim_4s_fits(self):
        results = self.folder()
        # synthetic micro.csv: one poll call = 200 ns + 4 ns per watched descriptor.
        ready, fit = claims.micro_wait_fit(results, "poll")
        value, low, high = projection.line_at(fit, 1_000_000)
        self.assertAlmostEqual(value, 200 + 4.0 * 1_000_000, delta=0.01 * 4e6)
        self.assertLessEqual(low, value)
        self.assertLessEqual(value, high)
        # synthetic runs.csv: poll's server CPU per ping-pong message = 6 µs + PER_IDLE_NS per idle.
        mode, rfit = claims.runs_cost_fit(results, "poll")
        value, _, _ = projection.line_at(rfit, 1_000_000)
        per_idle_us = synthetic.PER_IDLE_NS["poll"] / 1000
        self.assertAlmostEqual(
            value, 6.0 + per_idle_us * 1_000_000, delta=0.01 * per_idle_us * 1_000_000
        )
        text = "\n".join(projection.poll_lines(results))
        self.assertIn("One poll call watching 1,000,000 descriptors", text)
        self.assertIn("Extends: claim 4's fit of one poll call", text)
        self.assertIn("Extends: claim 4's runs.csv fit", text)

    def test_time_to_open_extends_the_measured_connect_rate(self):
        results = self.folder(open_per_conn_s=5e-5)  # 20,000 connections per second
        rate, count = projection.connect_rate(results)
        self.assertAlmostEqual(rate, 20_000.0)
        text = "\n".join(projection.open_lines(results))
        self.assertIn("Time to open 1,000,000 idle connections: 50.0 s", text)
        self.assertIn("Time to open 100,000 idle connections: 5.0 s", text)

    def test_limits_name_each_setting_with_its_command(self):
        text = "\n".join(projection.limit_lines())
        for command in (
            "ulimit -Hn 1000100",
            "sysctl -w fs.nr_open=1000100",
            "sysctl -w fs.file-max=2000200",
            "sysctl -w net.core.somaxconn=4096",
            "sysctl -w net.netfilter.nf_conntrack_max=1000100",
            "71 source address(es)",
        ):
            self.assertIn(command, text)

    def test_a_run_without_the_columns_says_what_was_not_measured(self):
        path = synthetic.write(os.path.join(self.tmp.name, "old"), micro=False)
        text = "\n".join(projection.section(ResultsFolder(path)))
        self.assertIn("Kernel memory: not measured in this run", text)
        self.assertIn("Time to open them: not measured", text)
        self.assertIn("One poll call: no micro.csv fit", text)

    def test_the_report_carries_the_section(self):
        results = self.folder(server=3000.0, holders=4000.0, both=7500.0)
        synthetic.run_module("plot.report", results.path)
        with open(os.path.join(results.path, "report.md")) as f:
            report = f.read()
        self.assertIn("## Projection to 100k and 1M idle connections", report)


if __name__ == "__main__":
    unittest.main()
