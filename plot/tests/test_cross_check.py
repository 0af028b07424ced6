"""The report's cross-check with libevent (plot/cross_check.py) on synthetic micro.csv rows: the
ratio ours / libevent's per backend and count, the flag beyond the tolerance, the reasons of
skipped sides, and the section in report.md."""

import csv
import os
import shutil
import tempfile
import unittest

from plot import cross_check
from plot import report
from plot.numbers import fmt
from plot.rules import CROSS_CHECK_TOLERANCE
from plot.tests import synthetic

NOT_INSTALLED = "libevent not installed: apt-get install libevent-dev"


def chain_row(mech, watched, ns, status="ok", writes=1000):
    return {
        "benchmark": f"chain/{mech}/active:1/writes:{writes}/watched:{watched}/manual_time",
        "family": "chain",
        "mechanism": mech,
        "watched": str(watched),
        "ready": "",
        "active": "1",
        "writes": str(writes),
        "repetitions": "3" if ns else "0",
        "ns_per_call_median": f"{ns:.1f}" if ns else "",
        "ns_per_call_min": f"{ns * 0.98:.1f}" if ns else "",
        "ns_per_call_max": f"{ns * 1.03:.1f}" if ns else "",
        "status": status,
    }


def wait_row(mech, watched, ns):
    return {
        "family": "wait",
        "mechanism": mech,
        "watched": str(watched),
        "ready": "1",
        "ns_per_call_median": f"{ns:.1f}",
        "status": "ok",
    }


# Ratios chosen well inside and well outside ±CROSS_CHECK_TOLERANCE (0.15).
ROWS = [
    chain_row("poll", 1000, 73_000),
    chain_row("libevent-poll", 1000, 70_000),  # 1.04
    chain_row("poll", 4096, 500_000),
    chain_row("libevent-poll", 4096, 400_000),  # 1.25: flagged
    chain_row("epoll-lt", 1000, 4_000),
    chain_row("libevent-epoll", 1000, 5_000),  # 0.80: flagged
    chain_row("select", 1000, 60_000),
    chain_row("libevent-select", 1000, None, NOT_INSTALLED),
    wait_row("poll", 1000, 71_000),
    wait_row("poll", 4096, 390_000),
]


def point(rows, backend, watched):
    (r,) = [r for r in rows if r["backend"] == backend and r["watched"] == watched]
    return r


class Compare(unittest.TestCase):
    def test_ratio_and_flag_per_backend_and_count(self):
        rows = cross_check.compare(ROWS)
        r = point(rows, "poll", 1000)
        self.assertAlmostEqual(r["ratio"], 73 / 70)
        self.assertFalse(r["flagged"])
        self.assertEqual(r["libevent"], "libevent-poll")
        self.assertEqual(r["ours"][0], 73_000)
        self.assertEqual(r["theirs"][1:], (70_000 * 0.98, 70_000 * 1.03))
        self.assertTrue(point(rows, "poll", 4096)["flagged"])
        self.assertTrue(point(rows, "epoll-lt", 1000)["flagged"], "too cheap is flagged too")
        self.assertTrue(point(rows, "poll", 1000)["overlap"])
        self.assertFalse(point(rows, "poll", 4096)["overlap"])
        self.assertIsNone(point(rows, "select", 1000)["overlap"])

    def test_the_tolerance_is_the_named_constant(self):
        inside = 1 + CROSS_CHECK_TOLERANCE * 0.9
        outside = 1 + CROSS_CHECK_TOLERANCE * 1.1
        rows = cross_check.compare(
            [
                chain_row("poll", 100, 10_000 * inside),
                chain_row("libevent-poll", 100, 10_000),
                chain_row("poll", 200, 10_000 * outside),
                chain_row("libevent-poll", 200, 10_000),
            ]
        )
        self.assertFalse(point(rows, "poll", 100)["flagged"])
        self.assertTrue(point(rows, "poll", 200)["flagged"])

    def test_a_skipped_side_keeps_its_reason_and_is_never_flagged(self):
        r = point(cross_check.compare(ROWS), "select", 1000)
        self.assertIsNone(r["theirs"])
        self.assertEqual(r["theirs_status"], NOT_INSTALLED)
        self.assertIsNone(r["ratio"])
        self.assertFalse(r["flagged"])

    def test_the_wait_call_at_the_same_count(self):
        rows = cross_check.compare(ROWS)
        self.assertEqual(point(rows, "poll", 1000)["wait_call"], 71_000)
        self.assertIsNone(point(rows, "epoll-lt", 1000)["wait_call"])

    def test_no_chain_rows_no_points(self):
        self.assertEqual(cross_check.compare([wait_row("poll", 1000, 1.0)]), [])
        self.assertEqual(cross_check.compare(None), [])


class Section(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="muxcross-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        synthetic.write(self.dir)

    def add_chain_rows(self, rows):
        path = os.path.join(self.dir, "micro.csv")
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            header = list(reader.fieldnames)
            old = list(reader)
        header += [c for c in ("active", "writes", "label") if c not in header]
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=header)
            w.writeheader()
            w.writerows(old + [{k: v for k, v in r.items() if k in header} for r in rows])

    def section(self):
        _, _, text = report.build(self.dir)
        if cross_check.TITLE not in text:
            return None
        return text.split(cross_check.TITLE, 1)[1].split("\n## ", 1)[0]

    def test_the_report_shows_both_sides_the_ratio_and_the_flags(self):
        self.add_chain_rows(ROWS[:8])
        text = self.section()
        self.assertIsNotNone(text)
        lines = {
            tuple(c.strip() for c in line.strip("|").split("|")[:2]): line
            for line in text.splitlines()
            if line.startswith("| ") and "/" in line.split("|")[1]
        }
        poll = lines[("poll / libevent-poll", "1,000")]
        self.assertIn("| 73 (71.5–75.2) | 70 (68.6–72.1) |", poll)
        self.assertIn("1.04", poll)
        self.assertNotIn("⚑", poll)
        with open(os.path.join(self.dir, "micro.csv"), newline="") as f:
            wait = cross_check.wait_call(list(csv.DictReader(f)), "poll", 1000)
        self.assertTrue(poll.endswith(f"| {fmt(wait / 1000)} |"), "the wait call at the same N")
        self.assertIn("1.25 ⚑", lines[("poll / libevent-poll", "4,096")])
        self.assertIn("0.80 ⚑", lines[("epoll-lt / libevent-epoll", "1,000")])
        self.assertIn("| – [1] |", lines[("select / libevent-select", "1,000")])
        self.assertIn(f"- [1] {NOT_INSTALLED}", text)
        self.assertIn("| 1.04 | yes |", poll)
        self.assertIn("1.25 ⚑ | no |", lines[("poll / libevent-poll", "4,096")])
        self.assertIn("3 points compared, 2 beyond ±15%", text)
        self.assertIn("the repetitions' ranges of 0 of them overlap", text)

    def test_points_measured_on_neither_side_are_listed_once(self):
        refused = "select cannot watch descriptor 2004"
        self.add_chain_rows(
            ROWS[:2]
            + [
                chain_row(m, n, None, refused)
                for m in ("select", "libevent-select")
                for n in (2048, 4096)
            ]
        )
        text = self.section()
        self.assertNotIn("| select / libevent-select |", text)
        self.assertIn(
            "- Measured on neither side: select / libevent-select at N = 2,048, 4,096 (ours [1],"
            " libevent [1]).",
            text,
        )
        self.assertIn(f"- [1] {refused}", text)

    def test_no_chain_rows_no_section(self):
        self.assertIsNone(self.section())

    def test_no_micro_csv_no_section(self):
        os.remove(os.path.join(self.dir, "micro.csv"))
        self.assertIsNone(self.section())


if __name__ == "__main__":
    unittest.main()
