"""A tiny sweep with the real servers and loadgen: select and epoll-lt at 50 and 1100 idle
connections, two repeats. Checks every expected row, the figures of ok rows, and select's
refusal past FD_SETSIZE (one refused row per mode, then skipped repeats).

  python3 -m harness.sweep.tests.test_sweep_real --bin BUILD/bin [--require]   (from the root)

Without the binaries it exits 77 (skipped), unless --require says this build must have them.
"""
import argparse
import os
import statistics
import shutil
import sys
import tempfile
import unittest

from harness.sweep.tests.sweep_test_support import LOADGEN_COLUMNS, expected_keys, run_sweep

ARGS = None
NEEDED = ("chat-select", "chat-epoll", "loadgen")


class RealSweepTest(unittest.TestCase):
    def test_tiny_real_sweep(self):
        tmp = tempfile.mkdtemp(prefix="sweep-real-")
        try:
            link = os.path.join(tmp, "bin")
            os.symlink(ARGS.bin, link)
            run = run_sweep(
                link,
                [
                    "--mechanisms",
                    "select,epoll-lt",
                    "--counts",
                    "50,1100",
                    "--repeats",
                    "2",
                    "--modes",
                    "pingpong,flood",
                    "--warmup",
                    "0.05",
                    "--duration",
                    "0.2",
                    "--no-micro",
                ],
                timeout=200,
            )
            self.assertEqual(run.returncode, 0, run.stderr)
            self.assertEqual(run.header[: len(LOADGEN_COLUMNS)], LOADGEN_COLUMNS)
            self.assertEqual(
                run.keys(),
                expected_keys(["select", "epoll-lt"], [50, 1100], ["pingpong", "flood"], 2),
                run.stderr,
            )
            start_floor = self.start_floor(run)
            by = {
                (r["mechanism"], int(r["idle"]), r["mode"], int(r["repeat"])): r
                for r in run.measured()
            }
            for key, r in by.items():
                if key[:2] != ("select", 1100):
                    self.assert_measured(key, r, start_floor, run.stderr)
            for mode in ("pingpong", "flood"):
                refused = by["select", 1100, mode, 1]
                self.assertEqual(refused["bench_status"], "refused:FD_SETSIZE", refused)
                self.assertGreater(int(refused["idle_refused"]), 0)
                self.assertLess(int(refused["idle_open"]), 1024)
                self.assertTrue(by["select", 1100, mode, 2]["bench_status"].startswith("skipped"))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def start_floor(self, run):
        """The floors all ok; the median of the start floors, which every row carries."""
        floors = [r for r in run.rows if r["mechanism"] == "floor"]
        self.assertGreaterEqual(len(floors), 2)
        for r in floors:
            self.assertEqual(r["status"], "ok", r)
            self.assertGreater(float(r["p50_us"]), 0)
        return statistics.median(
            float(r["p50_us"])
            for r in floors
            if r["mode"] == "floor" and r["label"] == "floor-start"
        )

    def assert_measured(self, key, r, start_floor, stderr):
        """A point below FD_SETSIZE: measured, its idle connections open, its figures set."""
        mech, idle, mode, repeat = key
        # loadgen-bound is the loadgen's honest verdict on a busy 2-core machine; every other
        # non-ok status is a failure of the pipeline.
        self.assertIn(r["bench_status"], ("ok", "loadgen-bound"), (key, stderr))
        self.assertEqual(r["idle_open"], str(idle), key)
        self.assertAlmostEqual(float(r["floor_p50_us"]), start_floor, 3, key)
        self.assertGreater(int(r["msgs"]), 0, key)
        self.assertGreater(int(r["server_wait_calls"]), 0, key)
        if mode == "pingpong":
            self.assertGreater(float(r["p50_us"]), 0, key)
        else:
            self.assertGreater(float(r["throughput_msgs_s"]), 0, key)
        if mech == "select":
            # select hands every watched descriptor to the kernel at each call.
            self.assertGreaterEqual(float(r["server_fds_per_wait"]), idle, key)
        else:
            self.assertEqual(float(r["server_fds_per_wait"]), 0, key)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--require", action="store_true")
    ARGS, rest = p.parse_known_args()
    ARGS.bin = os.path.abspath(ARGS.bin)
    missing = [n for n in NEEDED if not os.access(os.path.join(ARGS.bin, n), os.X_OK)]
    if missing:
        message = f"real sweep test: {', '.join(missing)} not built in {ARGS.bin}"
        if ARGS.require:
            print(message + " although this build defines them", file=sys.stderr)
            sys.exit(1)
        print(message + ": skipped", file=sys.stderr)
        sys.exit(77)
    unittest.main(argv=[sys.argv[0]] + rest)
