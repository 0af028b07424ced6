"""./bench --preflight: the advice on synthetic limits, and that it changes nothing."""

import io
import os
import resource
import subprocess
import sys
import unittest

from harness.sweep import plan
from harness.common import preflight

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

SMALL = dict(
    nofile_soft=1024,
    nofile_hard=20000,
    nr_open=1048576,
    file_max=2_466_183,
    files_in_use=900,
    port_range=(32768, 60999),
    somaxconn=4096,
    syn_backlog=2048,
    conntrack_max=262144,
    conntrack_count=10,
    mem_available=24 * 2**30,
)

BIG = dict(
    SMALL,
    nofile_hard=2_000_000,
    nr_open=2_000_000,
    file_max=10_000_000,
    syn_backlog=8192,
    conntrack_max=None,
)

# What the preflight must leave untouched.
SETTINGS = [
    "fs/nr_open",
    "fs/file-max",
    "net/ipv4/ip_local_port_range",
    "net/core/somaxconn",
    "net/ipv4/tcp_max_syn_backlog",
    "net/netfilter/nf_conntrack_max",
]


def by_name(checks):
    return {c.name.split(" ")[0]: c for c in checks}


def read_settings():
    values = {}
    for s in SETTINGS:
        try:
            with open("/proc/sys/" + s) as f:
                values[s] = f.read()
        except OSError:
            values[s] = None
    return values


class AdviceTest(unittest.TestCase):
    def test_a_million_on_a_small_machine_names_each_limit_and_its_command(self):
        checks = by_name(preflight.advise(preflight.Machine(**SMALL), 1_000_000))
        need = 1_000_000 + plan.SERVER_FD_MARGIN
        nofile = checks["RLIMIT_NOFILE"]
        self.assertFalse(nofile.ok)
        self.assertEqual((nofile.have, nofile.need), (20000, need))
        self.assertTrue(any(f"ulimit -Hn {need}" in c for c in nofile.commands))
        self.assertTrue(checks["fs.nr_open"].ok)  # 1048576 >= 1000100
        self.assertTrue(checks["fs.file-max"].ok)
        self.assertEqual(checks["fs.file-max"].need, 900 + 2_000_000 + 2 * plan.SERVER_FD_MARGIN)
        self.assertFalse(checks["net.ipv4.tcp_max_syn_backlog"].ok)
        conntrack = checks["net.netfilter.nf_conntrack_max"]
        self.assertFalse(conntrack.ok)
        self.assertIn(f"sysctl -w net.netfilter.nf_conntrack_max={10 + need}", conntrack.commands)
        ports = checks["net.ipv4.ip_local_port_range"]
        # 28232 ports, half per source address: 14116 connections each, 71 addresses.
        self.assertIn("71 source address", ports.need)
        self.assertTrue(checks["memory"].ok)

    def test_limits_below_the_ceiling_are_raised_in_order(self):
        m = preflight.Machine(**dict(SMALL, nr_open=1_000_000))
        checks = by_name(preflight.advise(m, 1_000_000))
        self.assertFalse(checks["fs.nr_open"].ok)
        self.assertIn("sysctl -w fs.nr_open=1000100", checks["fs.nr_open"].commands)
        text = preflight.render(preflight.advise(m, 1_000_000), 1_000_000)
        self.assertIn("RAISE fs.nr_open", text)
        self.assertIn("Nothing is changed", text)
        self.assertLess(text.index("RAISE"), text.index("ok "))

    def test_a_big_machine_is_ready_and_memory_can_run_short(self):
        checks = preflight.advise(preflight.Machine(**BIG), 1_000_000)
        self.assertTrue(all(c.ok for c in checks), [c.name for c in checks if not c.ok])
        self.assertNotIn("net.netfilter.nf_conntrack_max", by_name(checks))
        tight = by_name(
            preflight.advise(preflight.Machine(**dict(BIG, mem_available=2**30)), 10**6)
        )
        self.assertFalse(tight["memory"].ok)
        self.assertTrue(
            preflight.render(checks, 10**6)
            .rstrip()
            .endswith("ready for 1000000 idle connections")
        )


class ChangesNothingTest(unittest.TestCase):
    def test_preflight_leaves_rlimits_and_sysctls_as_they_were(self):
        before = read_settings()
        rlimits = resource.getrlimit(resource.RLIMIT_NOFILE)
        out = io.StringIO()
        status = preflight.main(1_000_000, out=out)
        self.assertEqual(resource.getrlimit(resource.RLIMIT_NOFILE), rlimits)
        self.assertIn("preflight: ", out.getvalue())
        # As users run it: the sweep's command line, in a process of its own.
        proc = subprocess.run(
            [sys.executable, "-m", "harness.sweep", "--preflight", "--max-idle", "1000000"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        self.assertEqual(proc.returncode, status, proc.stderr)
        self.assertIn("can this machine hold 1000000 idle connections", proc.stdout)
        self.assertEqual(read_settings(), before)
        self.assertEqual(resource.getrlimit(resource.RLIMIT_NOFILE), rlimits)
        self.assertFalse(any(v is None for k, v in before.items() if "netfilter" not in k))


if __name__ == "__main__":
    unittest.main()
