"""The sweep's command line and plan, as a user sees them, byte for byte: `--help` and the
`--dry-run` plan of several option sets, and the runs.csv and env.json of a small sweep against
the fake programs (harness/common/tests/fakes), compared with the files in golden/.

What differs from machine to machine is pinned (terminal width, open-file limit, CPUs, the PM QoS
device) or replaced (paths) and what differs from run to run (times, measured kernel memory,
the machine's description) is left out, so that the files change only when the sweep's words or
its plan do. After an intended change, rewrite them and review the diff:

    /usr/bin/python3 -m harness.sweep.tests.test_cli_golden --update
"""

import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import unittest

from harness.common.tests.fake_bin import make_fake_bin

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
GOLDEN = os.path.join(HERE, "golden")
SERVERS = ("chat-select", "chat-poll", "chat-epoll", "chat-uring")
FD_LIMIT = 4096
CPUS = {0, 1}

# name -> the sweep's arguments (after --bin and --root)
CASES = {
    "help": ["--help"],
    "default": ["--dry-run"],
    "quick": ["--dry-run", "--quick"],
    "full": ["--dry-run", "--full"],
    "counts": ["--dry-run", "--counts", "0,1000,max", "--repeats", "3"],
    "veth": ["--dry-run", "--net", "lo,veth", "--netem", "delay 100us"],
    "states": ["--dry-run", "--idle-states", "block,allow", "--placement", "shared"],
    "variants": ["--dry-run", "--quick", "--active-counts", "1,64", "--sizes", "64,4000"],
    "subset": ["--dry-run", "--mechanisms", "select,poll", "--modes", "pingpong"],
    "unknown-mechanism": ["--dry-run", "--mechanisms", "nosuch"],
    "usage-error": ["--dry-run", "--repeats", "0"],
    # Was a traceback until the layering work; now a usage error naming the item.
    "bad-counts": ["--dry-run", "--counts", "0,abc"],
}
# The small sweep against the fakes: every kind of row (floors, refused, measured, hostile).
RUN = ["--quick", "--counts", "0,20", "--repeats", "1", "--no-plots"]
RUN += ["--warmup", "0.01", "--duration", "0.01", "--mechanisms", "select,epoll-lt"]
# What differs from run to run.
VOLATILE_COLUMNS = {"started_utc", "server_started_utc", "idle_open_s"}
VOLATILE_COLUMNS |= {f"kernel_bytes_per_idle_{side}" for side in ("server", "holders", "both")}
VOLATILE_COLUMNS.add("kernel_bytes_method")  # cgroup v1, v2 or sockstat: the machine's
ENV_KEYS = ["preset", "counts", "counts_dropped", "modes", "modes_by_count", "repeats"]
ENV_KEYS += ["warmup_s", "window_s", "active", "active_counts", "sizes", "loadgen_args"]
ENV_KEYS += ["hostile", "placement", "largest_idle", "largest_idle_cap", "runs_csv_columns"]
ENV_KEYS += ["series_interval_s", "rows", "net", "hosts", "micro"]
# After the runs: a mux-probe that fails and a mux-micro that measures nothing, so that what the
# sweep records of its helpers (harness.common.tools) is compared too.
FAKE_TOOLS = {
    "mux-probe": "echo 'probe: no counters here' >&2\nexit 3\n",
    "mux-micro": (
        'for a in "$@"; do case "$a" in --benchmark_out=*)'
        ' echo \'{"benchmarks": []}\' > "${a#--benchmark_out=}";; esac; done\n'
    ),
}


def pinned():
    """In the child: the open-file limit and the CPUs every machine can give."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))
    os.sched_setaffinity(0, CPUS)


def sweep(tree, tmp, args):
    """(exit status, stdout, stderr) of the sweep of `tree` with args, paths replaced."""
    bin_dir = os.path.join(tmp, "bin")
    env = dict(os.environ, PYTHONPATH=tree, COLUMNS="100", PYTHONDONTWRITEBYTECODE="1")
    # A device nobody can open: the sweep says so the same way everywhere.
    env["MUXBENCH_CPU_DMA_LATENCY"] = os.path.join(tmp, "no-such-dir", "cpu_dma_latency")
    done = subprocess.run(
        [sys.executable, "-m", "harness.sweep", "--bin", bin_dir, "--root", tree] + args,
        capture_output=True,
        text=True,
        cwd=tree,
        env=env,
        preexec_fn=pinned,
        timeout=120,
    )

    def plain(text):
        return text.replace(tmp, "<tmp>").replace(tree, "<root>")

    return done.returncode, plain(done.stdout), plain(done.stderr)


def run_files(out_dir):
    """runs.csv's header and rows and env.json's plan, without what differs between runs."""
    with open(os.path.join(out_dir, "runs.csv"), newline="") as f:
        raw_header = f.readline()
    with open(os.path.join(out_dir, "runs.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    lines = [f"header ({'CRLF' if raw_header.endswith(chr(13) + chr(10)) else 'LF'}):"]
    lines.append(raw_header.rstrip("\r\n"))
    for row in rows:
        lines.append(",".join(f"{k}={v}" for k, v in row.items() if k not in VOLATILE_COLUMNS))
    with open(os.path.join(out_dir, "env.json")) as f:
        env = json.load(f)
    plan = {k: env.get(k) for k in ENV_KEYS}
    plan["micro"].pop("micro_seconds", None)
    lines.append(json.dumps(plan, indent=1, sort_keys=True))
    return "\n".join(lines) + "\n"


def outputs(tree):
    """{golden file name: its text} of the sweep in tree."""
    tmp = tempfile.mkdtemp(prefix="sweep-golden-")
    try:
        make_fake_bin(os.path.join(tmp, "bin"), SERVERS)
        for name, script in FAKE_TOOLS.items():
            path = os.path.join(tmp, "bin", name)
            with open(path, "w") as f:
                f.write("#!/bin/sh\n" + script)
            os.chmod(path, 0o755)
        found = {}
        for name, args in CASES.items():
            rc, out, err = sweep(tree, tmp, args)
            found[name + ".txt"] = f"exit {rc}\n--- stdout\n{out}--- stderr\n{err}"
        out_root = os.path.join(tmp, "results")
        rc, out, err = sweep(tree, tmp, RUN + ["--out", out_root, "--name", "run"])
        files = run_files(os.path.join(out_root, "run"))
        found["run.txt"] = f"exit {rc}\n" + files.replace(tmp, "<tmp>").replace(tree, "<root>")
        return found
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def can_pin():
    return (
        CPUS <= os.sched_getaffinity(0)
        and FD_LIMIT <= resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    )


@unittest.skipUnless(can_pin(), f"needs CPUs {sorted(CPUS)} and an open-file limit >= {FD_LIMIT}")
class GoldenTest(unittest.TestCase):
    def test_outputs_match_the_golden_files(self):
        for name, text in outputs(ROOT).items():
            with self.subTest(name):
                with open(os.path.join(GOLDEN, name)) as f:
                    self.assertEqual(text, f.read(), f"golden/{name}: see this module's docstring")


def update(tree):
    for name, text in outputs(tree).items():
        with open(os.path.join(GOLDEN, name), "w") as f:
            f.write(text)
        print(f"golden/{name}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--update"]:
        # --update [TREE]: the golden files from the sweep in TREE (default: this checkout).
        update(os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else ROOT)
    else:
        unittest.main()
