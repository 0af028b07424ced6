"""The report's hostile-clients section on synthetic rows: the right numbers per mechanism, the
target reported, and hostile rows kept out of every claim."""

import csv
import os
import statistics
import tempfile
import unittest

from plot import claims
from plot import report
from plot.results_folder import ResultsFolder
from plot.numbers import fmt
from plot.tests import synthetic
from plot.tests import synthetic_sections

TITLE = "## Hostile clients beside honest ones"


def section_rows(text):
    """point -> cells of the section's table."""
    lines = text.split(TITLE, 1)[1].split("\n## ", 1)[0].splitlines()
    table = [line for line in lines if line.startswith("| ") and not line.startswith("| point")]
    return {
        cells[0]: cells[1:]
        for cells in ([c.strip() for c in t.strip("|").split("|")] for t in table)
    }


def honest_p(folder, mechanism, key, hostile):
    with open(os.path.join(folder, "runs.csv"), newline="") as f:
        return [
            float(r[key])
            for r in csv.DictReader(f)
            if r["mechanism"] == mechanism
            and r["mode"] == "pingpong"
            and r["idle"] == "0"
            and r["status"] == "ok"
            and ((r.get("hostile") or "0") != "0") == hostile
        ]


class HostileSection(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def test_section_gives_each_mechanism_with_and_without(self):
        synthetic.write(self.dir)
        synthetic_sections.with_hostile_rows(
            self.dir, p99_factor=1.5, lost={"poll": 2}, cut="select"
        )
        _, _, text = report.build(self.dir)
        self.assertIn(TITLE, text)
        rows = section_rows(text)
        self.assertEqual(sorted(rows), sorted(["select", "poll", "epoll-lt", "epoll-et"]))

        epoll = rows["epoll-lt"]
        without = honest_p(self.dir, "epoll-lt", "p50_us", hostile=False)
        with_ = honest_p(self.dir, "epoll-lt", "p50_us", hostile=True)
        self.assertEqual(len(without), 3)
        self.assertEqual(len(with_), 3)
        self.assertTrue(epoll[0].startswith(fmt(statistics.median(without)) + " ("), epoll[0])
        self.assertIn(f"({fmt(min(without))}–{fmt(max(without))})", epoll[0])
        self.assertTrue(epoll[1].startswith(fmt(statistics.median(with_)) + " ("), epoll[1])
        p99 = honest_p(self.dir, "epoll-lt", "p99_us", hostile=False)
        self.assertTrue(epoll[2].startswith(fmt(statistics.median(p99))), epoll[2])
        self.assertEqual(epoll[4], "1.50")  # p99 ratio
        self.assertEqual(epoll[5:12], ["0", "0", "360", "3", "36", "0", "3 / 3"])
        self.assertEqual(epoll[12], "yes")

        self.assertEqual(rows["poll"][5], "2")
        self.assertEqual(rows["poll"][12], "no: 2 lost")
        # select's repeat 2 was cut off: its figures come from the two other repeats.
        self.assertEqual(rows["select"][6], "1")
        self.assertEqual(rows["select"][12], "no: 1 run(s) cut off")
        self.assertIn("All at 0 idle connections", text.split(TITLE, 1)[1])

    def test_a_p99_more_than_twice_misses_the_target(self):
        synthetic.write(self.dir)
        synthetic_sections.with_hostile_rows(self.dir, p99_factor=2.5)
        rows = section_rows(report.build(self.dir)[2])
        self.assertEqual(rows["epoll-et"][4], "2.50")
        self.assertEqual(rows["epoll-et"][12], "no: p99 × 2.50")

    def test_no_hostile_phase_no_section(self):
        synthetic.write(self.dir)
        self.assertNotIn(TITLE, report.build(self.dir)[2])

    def test_hostile_rows_never_enter_a_claim(self):
        synthetic.write(self.dir)
        plain = {c.number: (c.verdict, c.figures) for c in claims.evaluate(ResultsFolder(self.dir))}
        # Hostile rows 100 x slower would move every latency and CPU figure they entered.
        synthetic_sections.with_hostile_rows(
            self.dir, p50_factor=100, p99_factor=100, cpu_factor=100
        )
        results = ResultsFolder(self.dir)
        self.assertEqual(len(results.hostile_runs), 12)
        self.assertTrue(all(not r.hostile for r in results.runs))
        hostile = {c.number: (c.verdict, c.figures) for c in claims.evaluate(results)}
        self.assertEqual(plain, hostile)


if __name__ == "__main__":
    unittest.main()
