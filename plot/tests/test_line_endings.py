"""Every reader of a results folder accepts runs.csv with \r\n line ends (folders written before
the bench chose \n, such as the committed results/) and with \n (docs/results.md, "Line
endings")."""

import contextlib
import io
import os
import shutil
import tempfile
import unittest

from plot import compare_runs
from plot.results_folder import ResultsFolder
from plot.tests import test_compare_runs

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Committed, written with \r\n before the bench chose \n; its last column is net.
REFERENCE = os.path.join(ROOT, "results", "reference")
# What the plots, the report and ./bench compare read; the rest of the folder is not needed.
READ_FILES = ("runs.csv", "env.json", "probe.json", "micro.csv", "micro_fit.csv")


def copy_with_line_end(source, target, line_end):
    os.makedirs(target)
    for name in READ_FILES:
        if not os.path.isfile(os.path.join(source, name)):
            continue
        shutil.copyfile(os.path.join(source, name), os.path.join(target, name))
    with open(os.path.join(source, "runs.csv"), "rb") as f:
        lines = f.read().replace(b"\r\n", b"\n").split(b"\n")
    with open(os.path.join(target, "runs.csv"), "wb") as f:
        f.write(line_end.join(lines))


class LineEndings(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.crlf = os.path.join(self.tmp.name, "crlf")
        self.lf = os.path.join(self.tmp.name, "lf")
        copy_with_line_end(REFERENCE, self.crlf, b"\r\n")
        copy_with_line_end(REFERENCE, self.lf, b"\n")

    def tearDown(self):
        self.tmp.cleanup()

    def rows(self, folder):
        return ResultsFolder._read_csv(os.path.join(folder, "runs.csv"))

    def test_both_line_ends_give_the_same_rows_and_column_names(self):
        with open(os.path.join(self.lf, "runs.csv"), "rb") as f:
            self.assertNotIn(b"\r", f.read())
        crlf, lf = self.rows(self.crlf), self.rows(self.lf)
        self.assertGreater(len(lf), 100)
        self.assertEqual(crlf, lf)
        self.assertEqual(list(lf[0])[-1], "net")  # never "net\r"
        self.assertFalse(any(v.endswith("\r") for row in crlf for v in row.values() if v))

    def test_the_folder_reads_alike(self):
        a, b = ResultsFolder(self.crlf), ResultsFolder(self.lf)
        self.assertEqual(len(a.all_runs), len(b.all_runs))
        self.assertEqual(a.nets, b.nets)
        self.assertEqual(a.notes, b.notes)

    def test_bench_compare_of_the_two_finds_nothing_different(self):
        # A small synthetic folder (csv's default \r\n), against its copy with \n.
        small = test_compare_runs.write(os.path.join(self.tmp.name, "small-crlf"))
        small_lf = os.path.join(self.tmp.name, "small-lf")
        copy_with_line_end(small, small_lf, b"\n")
        with open(os.path.join(small, "runs.csv"), "rb") as f:
            self.assertIn(b"\r\n", f.read())
        out, err = io.StringIO(), io.StringIO()
        argv = [small, small_lf, "--out", os.path.join(self.tmp.name, "cmp")]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = compare_runs.main(argv)
        self.assertEqual(code, 0, err.getvalue())
        self.assertIn("claims have the same verdict", out.getvalue())


if __name__ == "__main__":
    unittest.main()
