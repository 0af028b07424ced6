"""Servers and idle holders on other hosts (harness/sweep/remote.py), tested on one machine: an
sshd started by the test inside a network namespace (the "remote" host, 198.18.0.1), on a
test-only port, with a host key and a client key generated for the test; the sweep runs in the
other namespace (the "local" host). Nothing outside the temporary directory and the two
namespaces is configured, and all of it is removed at the end (sshd's privilege-separation
directory /run/sshd is created only if missing, and then removed).

  python3 -m harness.sweep.tests.test_remote --bin BUILD/bin   (from the root)

Skipped with the reason when not root, when sshd (Debian openssh-server) or ssh is missing, or
without the built binaries; the parsing and message tests run everywhere.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

from harness.sweep import netns
from harness.sweep import remote
from harness.sweep.tests import sweep_test_support as support
from harness.sweep.tests.sweep_test_support import ROOT, SWEEP, SweepRun

SSHD = "/usr/sbin/sshd"
TEST_PORT = 22622  # inside the test's own namespace only: nothing else can listen there
REMOTE = "198.18.0.1"


def why_skip():
    why = netns.why_not_permitted()
    if why:
        return f"needs root: {why}"
    if not os.access(SSHD, os.X_OK):
        return f"no {SSHD}: install it with apt-get install -y openssh-server (./bench test does)"
    if shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        return "no ssh/ssh-keygen: install openssh-client"
    if support.real_bin() is None:
        return "needs the real loadgen and servers (--bin BUILD/bin)"
    return None


class SshdInNamespace:
    """sshd -D in the server namespace of a Topology, its keys and config in a temp dir."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="mux-sshd-")
        self.topology = None
        self.sshd = None
        self.made_privsep = False
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    def _start(self):
        t = self.tmp
        for name in ("host_key", "client_key"):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", os.path.join(t, name)],
                check=True,
            )
        shutil.copy(os.path.join(t, "client_key.pub"), os.path.join(t, "authorized_keys"))
        config = os.path.join(t, "sshd_config")
        with open(config, "w") as f:
            f.write(
                f"ListenAddress {REMOTE}\nHostKey {t}/host_key\n"
                f"AuthorizedKeysFile {t}/authorized_keys\nPidFile {t}/sshd.pid\n"
                "StrictModes no\nUsePAM no\nPermitRootLogin prohibit-password\n"
                "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            )
        # sshd refuses to start without its privilege-separation directory (compiled in).
        if not os.path.isdir("/run/sshd"):
            os.makedirs("/run/sshd", mode=0o755)
            self.made_privsep = True
        self.topology = netns.Topology()
        with open(os.path.join(t, "sshd.log"), "wb") as log:
            self.sshd = subprocess.Popen(
                self.topology.server_exec()
                + [SSHD, "-D", "-e", "-f", config, "-p", str(TEST_PORT)],
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            probe = subprocess.run(
                self.topology.client_exec() + self.ssh_command() + ["true"],
                capture_output=True,
                timeout=20,
            )
            if probe.returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError(f"sshd did not answer: {self.log()}")

    def ssh_options(self):
        t = self.tmp
        return [
            f"Port={TEST_PORT}",
            f"IdentityFile={t}/client_key",
            "IdentitiesOnly=yes",
            f"UserKnownHostsFile={t}/known_hosts",
            "StrictHostKeyChecking=accept-new",
        ]

    def ssh_command(self):
        return (
            ["ssh", "-F", "none", "-o", "BatchMode=yes"]
            + [a for o in self.ssh_options() for a in ("-o", o)]
            + [REMOTE, "--"]
        )

    def log(self):
        try:
            with open(os.path.join(self.tmp, "sshd.log")) as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def close(self):
        if self.sshd is not None and self.sshd.poll() is None:
            self.sshd.terminate()
            try:
                self.sshd.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.sshd.kill()
                self.sshd.wait()
        if self.topology is not None:
            self.topology.close()
        if self.made_privsep:
            shutil.rmtree("/run/sshd", ignore_errors=True)
        shutil.rmtree(self.tmp, ignore_errors=True)


def sweep_in_local_namespace(env_host, extra, timeout=180, options=None):
    """The sweep run from the client ("local") namespace against the sshd's host."""
    out = tempfile.mkdtemp(prefix="out-", dir=env_host.tmp)
    stand_in = os.path.join(out, "cpu_dma_latency")
    open(stand_in, "wb").close()
    cmd = env_host.topology.client_exec() + [sys.executable, *SWEEP, "--bin", support.real_bin()]
    cmd += ["--root", ROOT, "--out", out, "--name", "run", "--no-plots", "--no-micro"]
    cmd += ["--ssh-config", "none"]
    for option in env_host.ssh_options() if options is None else options:
        cmd += ["--ssh-option", option]
    proc = subprocess.run(
        cmd + extra,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=dict(os.environ, MUXBENCH_CPU_DMA_LATENCY=stand_in, PYTHONPATH=ROOT),
    )
    return SweepRun(proc, os.path.join(out, "run"))


TINY = ["--mechanisms", "epoll-lt", "--counts", "0,30", "--repeats", "1", "--modes", "pingpong"]
TINY += ["--hostile", "0"]  # the hostile phase is not what these tests look at
TINY += ["--warmup", "0.05", "--duration", "0.1"]


class RemoteHostsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        why = why_skip()
        if why:
            raise unittest.SkipTest(why)
        cls.host = SshdInNamespace()

    @classmethod
    def tearDownClass(cls):
        host = cls.host
        host.close()
        assert not os.path.exists(host.tmp)
        assert host.topology.server_ns not in netns.namespaces()

    def test_servers_and_idle_holders_on_the_remote_host(self):
        run = sweep_in_local_namespace(
            self.host,
            ["--server-host", REMOTE, "--idle-hosts", REMOTE, "--remote-bin", support.real_bin()]
            + TINY,
        )
        self.assertEqual(run.returncode, 0, run.stderr + self.host.log())
        rows = run.measured()
        self.assertEqual(sorted(r["idle"] for r in rows), ["0", "30"], run.stderr)
        for r in rows:
            self.assertEqual(r["bench_status"], "ok", r)
            self.assertGreater(float(r["p50_us"]), 0)
            # No local pid: the server's CPU came from its /stats.
            self.assertGreater(float(r["server_cpu_us_per_msg"]), 0, r)
        held = next(r for r in rows if r["idle"] == "30")
        self.assertEqual(held["idle_open"], "30")
        self.assertTrue(held["kernel_bytes_method"].startswith("unavailable:"), held)
        hosts = run.env["hosts"]
        for entry in (hosts["server"], hosts["idle"][0]):
            self.assertIn("Linux", entry["kernel"])
            self.assertGreaterEqual(entry["cores"], 1)
            self.assertIsNotNone(entry["rlimit_nofile"]["hard"])
            self.assertTrue(entry["preflight"])
        self.assertIn("-o Port=22622", hosts["server"]["ssh"])
        # The servers were stopped through the session: their counters came back.
        with open(os.path.join(run.out_dir, "servers.jsonl")) as f:
            records = [line for line in f if line.strip()]
        self.assertTrue(records)
        self.assertTrue(all('"counters": {' in line for line in records), records)
        # Nothing of ours left on the "host" but sshd itself (its session processes may take a
        # moment to exit after the sweep's last ssh closed).
        deadline = time.monotonic() + 10
        while True:
            still = set(
                subprocess.run(
                    ["ip", "netns", "pids", self.host.topology.server_ns],
                    capture_output=True,
                    text=True,
                ).stdout.split()
            )
            if still == {str(self.host.sshd.pid)} or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(still, {str(self.host.sshd.pid)})

    def test_missing_binaries_is_one_line_naming_the_host_and_the_fix(self):
        run = sweep_in_local_namespace(
            self.host, ["--server-host", REMOTE, "--remote-bin", "/nonexistent/bin"] + TINY
        )
        self.assertEqual(run.returncode, 2, run.stderr)
        line = run.stderr.strip().splitlines()[-1]
        self.assertIn(REMOTE, line)
        self.assertIn("/nonexistent/bin/chat-epoll", line)
        self.assertIn("--remote-bin", line)

    def test_refused_and_unreachable_hosts_are_one_line_each(self):
        # Port 1 of the remote namespace: nothing listens, the kernel answers with a reset.
        refused = sweep_in_local_namespace(
            self.host,
            ["--server-host", REMOTE] + TINY,
            options=["Port=1"] + self.host.ssh_options()[1:],
        )
        self.assertEqual(refused.returncode, 2, refused.stderr)
        line = refused.stderr.strip().splitlines()[-1]
        self.assertIn(REMOTE, line)
        self.assertIn("Connection refused", line)
        self.assertIn("Port=N", line)
        # TEST-NET-1 has no route out of the namespace: ENETUNREACH before any packet leaves.
        unreachable = sweep_in_local_namespace(self.host, ["--server-host", "192.0.2.1"] + TINY)
        self.assertEqual(unreachable.returncode, 2, unreachable.stderr)
        line = unreachable.stderr.strip().splitlines()[-1]
        self.assertIn("192.0.2.1: ssh failed", line)
        self.assertIn("unreachable", line.lower())


class MessagesTest(unittest.TestCase):
    def test_split_evenly(self):
        self.assertEqual(remote.split_evenly(10, 3), [4, 3, 3])
        self.assertEqual(sum(remote.split_evenly(19000, 7)), 19000)

    def test_ssh_failures_name_the_fix(self):
        self.assertIn("ssh-copy-id h", remote.ssh_failure("h", "Permission denied (publickey)."))
        self.assertIn("Port=N", remote.ssh_failure("h", "connect ... : Connection refused"))
        self.assertIn("accept-new", remote.ssh_failure("h", "Host key verification failed."))

    def test_facts_feed_preflight(self):
        facts = remote.parse_facts(
            "uname=Linux 6.1.0 #1 x86_64\ncpus=4\nnofile_soft=1024\nnofile_hard=4096\n"
            "sys:fs/nr_open=1048576\nsys:net/ipv4/ip_local_port_range=32768\t60999\n"
            "mem_available_kb=1000\n"
        )
        m = remote.machine_of(facts)
        self.assertEqual(
            (m.nofile_hard, m.port_range, m.mem_available), (4096, (32768, 60999), 1024000)
        )
        host = remote.Host("u@h", ["Port=2"], "none", "/opt/mux")
        host.facts = facts
        entry = host.describe(idle=10000)
        self.assertEqual(host.address, "h")
        self.assertFalse(next(c for c in entry["preflight"] if "RLIMIT" in c["limit"])["ok"])

    def test_command_is_quoted_once(self):
        host = remote.Host("h")
        self.assertEqual(host.command(["echo", "a b"])[-2:], ["--", "echo 'a b'"])


if __name__ == "__main__":
    support.main_with_bin(why_skip)
