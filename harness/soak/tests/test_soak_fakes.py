"""The whole soak, end to end, against the sweep's fake servers and loadgen (seconds, not
minutes): what it samples and writes, and that a server leaking descriptors fails it."""

import contextlib
import csv
import io
import os
import tempfile
import unittest
from unittest import mock

from harness.soak import mix
from harness.soak import soak
from harness.common.tests.fake_bin import make_fake_bin

SECONDS = 4.5  # three rounds of 1.5 s: every fake run takes a fraction of a second


def run_soak(env=None):
    """(exit status, stderr, output folder) of a soak of the fake poll and epoll-lt servers."""
    tmp = tempfile.mkdtemp(prefix="soak-fakes-")
    bin_dir = make_fake_bin(os.path.join(tmp, "bin"))
    out = os.path.join(tmp, "out")
    err = io.StringIO()
    argv = ["--bin", bin_dir, "--seconds", str(SECONDS), "--mechanisms", "poll,epoll-lt"]
    argv += ["--out", out, "--no-plot"]
    # A leaking server never settles back to its baseline: the test does not wait 15 s for it.
    short = mock.patch.object(mix, "MIN_SOAK_S", 1), mock.patch.object(soak, "SETTLE_MAX_S", 1.0)
    with mock.patch.dict(os.environ, env or {}), short[0], short[1]:
        with contextlib.redirect_stderr(err):
            code = soak.main(argv)
    return code, err.getvalue(), out


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


class SoakWithFakesTest(unittest.TestCase):
    def test_healthy_servers_pass_and_every_sample_and_run_is_written(self):
        code, err, out = run_soak()
        self.assertEqual(code, 0, err)
        samples = read_csv(os.path.join(out, "soak.csv"))
        for mech in ("poll", "epoll-lt"):
            phases = [(s["phase"], s["round"]) for s in samples if s["mechanism"] == mech]
            self.assertEqual(
                phases,
                [("baseline", "0")]
                + [(p, str(r)) for r in (1, 2, 3) for p in ("load", "round")]
                + [("end", "3")],
            )
        self.assertTrue(all(s["stats_ok"] == "1" for s in samples))
        runs = read_csv(os.path.join(out, "soak-runs.csv"))
        kinds = {(r["server"], r["round"], r["kind"]) for r in runs}
        for mech in ("poll", "epoll-lt"):
            for round_no in ("1", "2", "3"):
                for kind in ("idle-hold", "flood", "broadcast", "churn", "pingpong"):
                    self.assertIn((mech, round_no, kind), kinds)
        self.assertTrue(all(r["run_error"] == "" for r in runs), runs)
        with open(os.path.join(out, "soak.md")) as f:
            self.assertIn("**PASSED**", f.read())

    def test_a_server_that_leaks_descriptors_fails_and_the_other_passes(self):
        code, err, out = run_soak({"FAKE_LEAK_FDS": "epoll-lt:3"})
        self.assertEqual(code, 1, err)
        failures = [line for line in err.splitlines() if line.startswith("FAIL ")]
        self.assertEqual(len(failures), 1, err)
        self.assertRegex(failures[0], r"^FAIL epoll-lt descriptors: baseline (\d+), end (\d+)$")
        base, end = map(int, failures[0].split("baseline ")[1].split(", end "))
        self.assertEqual(end - base, 3)
        self.assertNotIn("FAIL poll", err)


if __name__ == "__main__":
    unittest.main()
