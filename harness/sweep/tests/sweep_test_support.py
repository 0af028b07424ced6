"""Shared helpers for the sweep's tests: a bin dir of fake programs, running the sweep, reading
its results folder."""
import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import unittest

from harness.common.runs_csv import BENCH_COLUMNS, LOADGEN_COLUMNS  # noqa: F401
from harness.common.tests.fake_bin import make_fake_bin  # noqa: F401

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
# The sweep as a module of the repository's packages: run with cwd=ROOT, the import root.
SWEEP = ["-m", "harness.sweep"]
# Points of 10 ms, no micro-benchmarks, no hostile phase (last: FAST[:-2] runs it).
FAST = ["--warmup", "0.01", "--duration", "0.01", "--no-micro", "--hostile", "0"]


class SweepRun:
    def __init__(self, proc, out_dir):
        self.returncode = proc.returncode
        self.stderr = proc.stderr
        self.stdout = proc.stdout
        self.out_dir = out_dir
        runs = os.path.join(out_dir, "runs.csv")
        self.header, self.rows = [], []
        if os.path.exists(runs):
            with open(runs, newline="") as f:
                reader = csv.DictReader(f)
                self.rows = list(reader)
                self.header = reader.fieldnames
        env = os.path.join(out_dir, "env.json")
        self.env = None
        if os.path.exists(env):
            with open(env) as f:
                self.env = json.load(f)

    def measured(self):
        return [r for r in self.rows if r["mechanism"] != "floor"]

    def keys(self):
        return sorted(
            (r["mechanism"], int(r["idle"]), r["mode"], int(r["repeat"])) for r in self.measured()
        )


def run_sweep(
    bin_dir, args, env=None, timeout=120, python=sys.executable, out_root=None, plots=False
):
    """The sweep against bin_dir's programs; without plots and report unless `plots`."""
    out_root = out_root or tempfile.mkdtemp(prefix="sweep-out-", dir=os.path.dirname(bin_dir))
    full_env = dict(os.environ)
    # The tests never touch the machine's real PM QoS request: a plain file stands in for
    # /dev/cpu_dma_latency unless a test names its own.
    os.makedirs(out_root, exist_ok=True)
    stand_in = os.path.join(out_root, "cpu_dma_latency")
    open(stand_in, "ab").close()
    full_env["MUXBENCH_CPU_DMA_LATENCY"] = stand_in
    full_env.update(env or {})
    cmd = [
        python,
        *SWEEP,
        "--bin",
        bin_dir,
        "--root",
        ROOT,
        "--out",
        out_root,
        "--name",
        "run",
    ]
    cmd += list(args) if plots else ["--no-plots"] + list(args)
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, env=full_env, cwd=ROOT
    )
    return SweepRun(proc, os.path.join(out_root, "run"))


def expected_keys(mechanisms, counts, modes, repeats):
    return sorted(
        (m, c, mode, r)
        for m in mechanisms
        for c in counts
        for mode in modes
        for r in range(1, repeats + 1)
    )


# The real build's bin dir, for tests run as `python3 -m MODULE --bin BUILD/bin` (main_with_bin).
REAL_BIN = None


def real_bin():
    """REAL_BIN when it holds a built loadgen, else None."""
    if REAL_BIN and os.access(os.path.join(REAL_BIN, "loadgen"), os.X_OK):
        return REAL_BIN
    return None


def main_with_bin(why_skipped):
    """unittest.main for a module of root-only tests taking --bin BUILD/bin: exit 1 on a failure,
    77 (ctest: skipped) with why_skipped()'s reason when the tests that matter could not run."""
    global REAL_BIN
    p = argparse.ArgumentParser()
    p.add_argument("--bin")
    args, rest = p.parse_known_args()
    REAL_BIN = os.path.abspath(args.bin) if args.bin else None
    result = unittest.main(argv=[sys.argv[0]] + rest, exit=False).result
    if not result.wasSuccessful():
        sys.exit(1)
    why = why_skipped()
    if why:
        print(f"skipped: {why}", file=sys.stderr)
        sys.exit(77)
    sys.exit(0)
