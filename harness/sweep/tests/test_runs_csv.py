"""runs.csv is written with plain \n line ends (docs/results.md, "Line endings"), so that Unix
tools (awk -F, and cut) see the last column as it is named, also after a rewrite."""

import csv
import os
import tempfile
import unittest

from harness.common.runs_csv import RunsCsv


class LineEndings(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.tmp.name, "runs.csv")

    def tearDown(self):
        self.tmp.cleanup()

    def written(self):
        with open(self.path, "rb") as f:
            return f.read()

    def test_rows_end_with_a_plain_newline_before_and_after_a_rewrite(self):
        runs = RunsCsv(self.path, ["mechanism", "idle_open", "net"])
        runs.append({"mechanism": "poll", "idle_open": None, "net": "lo"})
        runs.append({"mechanism": "epoll-lt", "idle_open": None, "net": "lo"})
        self.assertNotIn(b"\r", self.written())
        runs.update(lambda row: row["mechanism"] == "poll", lambda row: {"idle_open": 100})
        runs.append({"mechanism": "select", "idle_open": 7, "net": "veth"})
        runs.close()
        data = self.written()
        self.assertNotIn(b"\r", data)
        self.assertEqual(
            data.decode().split("\n"),
            ["mechanism,idle_open,net", "poll,100,lo", "epoll-lt,,lo", "select,7,veth", ""],
        )

    def test_a_field_holding_a_newline_is_still_quoted_and_reads_back(self):
        runs = RunsCsv(self.path, ["mechanism", "status"])
        runs.append({"mechanism": "poll", "status": "error:two\nlines"})
        runs.close()
        with open(self.path, newline="") as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(rows, [{"mechanism": "poll", "status": "error:two\nlines"}])


if __name__ == "__main__":
    unittest.main()
