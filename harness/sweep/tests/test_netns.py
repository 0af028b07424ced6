"""The veth path (harness/sweep/netns.py): namespaces created and removed on every exit path, no
route out of them, a chat server reached across the veth pair, and the one line without
CAP_NET_ADMIN.

  python3 -m harness.sweep.tests.test_netns --bin BUILD/bin   (from the root)

The namespace tests need CAP_NET_ADMIN and CAP_SYS_ADMIN (root) and are skipped with the reason
otherwise; the refusal test runs everywhere (as root it drops the capabilities with capsh).
"""
import errno
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

from harness.sweep import netns
from harness.sweep.tests import sweep_test_support as support
from harness.sweep.tests.sweep_test_support import ROOT, SWEEP, make_fake_bin, run_sweep

WHY_NOT = netns.why_not_permitted()
needs_netns = unittest.skipIf(WHY_NOT is not None, f"needs root: {WHY_NOT}")


def ours(pid=None):
    """Our namespaces left in `ip netns list` (of one sweep's pid, or of any)."""
    prefix = f"mux-{pid}-" if pid else "mux-"
    return [n for n in netns.namespaces() if n.startswith(prefix)]


def run_inside(ns, code):
    return subprocess.run(
        ["ip", "netns", "exec", ns, sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=30,
    )


@needs_netns
class TopologyTest(unittest.TestCase):
    def test_created_then_removed(self):
        with netns.Topology(client_addresses=3) as topo:
            self.assertIn(topo.server_ns, netns.namespaces())
            self.assertIn(topo.client_ns, netns.namespaces())
            self.assertEqual(topo.client_addresses, ["198.19.0.1", "198.19.0.2", "198.19.0.3"])
            self.assertEqual(topo.server_addresses[0], "198.18.0.1")
            self.assertEqual(topo.describe()["mtu"], topo.mtu)
        self.assertNotIn(topo.server_ns, netns.namespaces())
        self.assertNotIn(topo.client_ns, netns.namespaces())

    def test_removed_after_an_exception(self):
        with self.assertRaises(RuntimeError):
            with netns.Topology() as topo:
                raise RuntimeError("boom")
        self.assertEqual([n for n in (topo.server_ns, topo.client_ns) if n in ours()], [])

    def test_only_the_veth_link_is_routed(self):
        with netns.Topology() as topo:
            for ns, veth in ((topo.server_ns, netns.SERVER_VETH), (topo.client_ns, "mux-cli")):
                routes = topo.routes(ns)
                self.assertTrue(routes, ns)
                for line in routes:
                    self.assertIn(f"dev {veth}", line, (ns, routes))
                    self.assertFalse(line.startswith("default"), (ns, routes))
                # TEST-NET-1 is never routed: the connect must fail before any packet leaves.
                probe = run_inside(
                    ns,
                    "import socket,sys\n"
                    "s=socket.socket()\n"
                    "try: s.connect(('192.0.2.1',9))\n"
                    "except OSError as e: sys.exit(e.errno)\n",
                )
                self.assertEqual(probe.returncode, errno.ENETUNREACH, (ns, probe.stderr))
            # Across the link it connects: a listener in the server namespace, a client in the
            # client namespace.
            server = subprocess.Popen(
                [
                    "ip",
                    "netns",
                    "exec",
                    topo.server_ns,
                    sys.executable,
                    "-c",
                    "import socket\n"
                    "l=socket.create_server(('198.18.0.2',0))\n"
                    "print(l.getsockname()[1],flush=True)\n"
                    "c,_=l.accept(); c.sendall(c.recv(16))\n",
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            try:
                port = int(server.stdout.readline())
                echo = run_inside(
                    topo.client_ns,
                    "import socket\n"
                    f"s=socket.create_connection(('198.18.0.2',{port}),timeout=5)\n"
                    "s.sendall(b'ping'); print(s.recv(16).decode(), s.getsockname()[0])\n",
                )
                self.assertEqual(echo.stdout.split(), ["ping", "198.19.0.1"], echo.stderr)
            finally:
                server.kill()
                server.wait()
                server.stdout.close()

    def test_stale_namespaces_of_a_dead_sweep_are_removed(self):
        dead = subprocess.Popen(["true"])
        dead.wait()
        name = f"mux-{dead.pid}-1-srv"
        subprocess.run(["ip", "netns", "add", name], check=True)
        try:
            self.assertIn(name, netns.remove_stale())
            self.assertNotIn(name, netns.namespaces())
        finally:
            subprocess.run(["ip", "netns", "del", name], capture_output=True)

    def test_netem_refusal_is_one_line_and_leaves_nothing(self):
        before = set(ours())
        try:
            topo = netns.Topology(netem="delay 100us")
        except netns.NetnsError as e:
            # A kernel without sch_netem (ours): the message names the module.
            self.assertIn("netem", str(e))
            self.assertNotIn("\n", str(e))
        else:
            with topo:
                out = subprocess.run(
                    ["tc", "-n", topo.client_ns, "qdisc", "show", "dev", "mux-cli"],
                    capture_output=True,
                    text=True,
                ).stdout
                self.assertIn("netem", out)
        self.assertEqual(set(ours()), before)


def real_bin_or_skip(test):
    if support.real_bin() is None:
        test.skipTest("needs the real loadgen and servers (--bin BUILD/bin)")
    return support.real_bin()


@needs_netns
class VethSweepTest(unittest.TestCase):
    def test_pingpong_over_veth_and_lo(self):
        bin_dir = real_bin_or_skip(self)
        tmp = tempfile.mkdtemp(prefix="sweep-veth-")
        try:
            run = run_sweep(
                bin_dir,
                ["--net", "lo,veth", "--mechanisms", "epoll-lt", "--counts", "0,100"]
                + ["--repeats", "1", "--modes", "pingpong", "--warmup", "0.05", "--hostile", "0"]
                + ["--duration", "0.1", "--no-micro"],
                timeout=120,
                out_root=tmp,
            )
            self.assertEqual(run.returncode, 0, run.stderr)
            rows = run.measured()
            self.assertEqual(
                sorted((r["net"], r["idle"]) for r in rows),
                [("lo", "0"), ("lo", "100"), ("veth", "0"), ("veth", "100")],
            )
            for r in rows:
                self.assertEqual(r["bench_status"], "ok", r)
                self.assertGreater(float(r["p50_us"]), 0)
                self.assertGreater(float(r["server_cpu_us_per_msg"]), 0)
            veth_100 = next(r for r in rows if r["net"] == "veth" and r["idle"] == "100")
            self.assertEqual(veth_100["idle_open"], "100")
            self.assertNotEqual(veth_100["kernel_bytes_per_idle_both"], "")
            topo = run.env["net"]["veth"]
            self.assertEqual(topo["server_addresses"][0], "198.18.0.1")
            self.assertTrue(topo["server_namespace"].startswith("mux-"))
            self.assertEqual(ours(topo["server_namespace"].split("-")[1]), [])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_sigterm_removes_the_namespaces(self):
        bin_dir = real_bin_or_skip(self)
        tmp = tempfile.mkdtemp(prefix="sweep-veth-term-")
        stand_in = os.path.join(tmp, "cpu_dma_latency")
        open(stand_in, "wb").close()
        cmd = [sys.executable, *SWEEP, "--bin", bin_dir, "--root", ROOT, "--out", tmp]
        cmd += ["--name", "run", "--no-plots", "--no-micro", "--net", "veth"]
        cmd += [
            "--mechanisms",
            "epoll-lt",
            "--counts",
            "0",
            "--modes",
            "pingpong",
            "--hostile",
            "0",
        ]
        cmd += ["--repeats", "3", "--duration", "5"]
        env = dict(os.environ, MUXBENCH_CPU_DMA_LATENCY=stand_in)
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        try:
            deadline = time.monotonic() + 30
            while len(ours(proc.pid)) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(len(ours(proc.pid)), 2, "the sweep made no namespaces")
            time.sleep(1.0)  # into a measured run inside them
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
            self.assertEqual(proc.returncode, 130, err)
            self.assertEqual(ours(proc.pid), [], err)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            shutil.rmtree(tmp, ignore_errors=True)


class WithoutCapabilityTest(unittest.TestCase):
    def test_one_line_and_exit_2(self):
        tmp = tempfile.mkdtemp(prefix="sweep-nocap-")
        try:
            bin_dir = make_fake_bin(os.path.join(tmp, "bin"))
            wrapper = None
            if netns.effective_capabilities() >> netns.CAP_NET_ADMIN & 1:
                if shutil.which("capsh") is None:
                    self.skipTest("running with CAP_NET_ADMIN and no capsh to drop it")
                # Dropped from the bounding set, so the sweep that capsh execs never has it.
                wrapper = "capsh --drop=cap_net_admin,cap_sys_admin -- -c"
            args = ["--net", "veth", "--counts", "0", "--no-micro"]
            if wrapper:
                run = self.run_wrapped(wrapper, bin_dir, tmp, args)
                returncode, lines = run.returncode, run.stderr.strip().splitlines()
            else:
                run = run_sweep(bin_dir, args, out_root=tmp)
                returncode, lines = run.returncode, run.stderr.strip().splitlines()
            self.assertEqual(returncode, 2, lines)
            self.assertEqual(len(lines), 1, lines)
            self.assertIn("CAP_NET_ADMIN", lines[0])
            self.assertIn("sudo ./bench --net veth", lines[0])
            self.assertFalse(os.path.exists(os.path.join(tmp, "run")))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    @staticmethod
    def run_wrapped(wrapper, bin_dir, tmp, args):
        inner = [sys.executable, *SWEEP, "--bin", bin_dir, "--root", ROOT, "--out", tmp]
        inner += ["--name", "run"] + args
        return subprocess.run(
            wrapper.split() + [" ".join(inner)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=ROOT),
        )


class ParseTest(unittest.TestCase):
    def test_nets(self):
        self.assertEqual(netns.parse_nets("lo,veth,lo"), ["lo", "veth"])
        with self.assertRaises(ValueError):
            netns.parse_nets("wifi")

    def test_client_addresses_cover_every_idle_connection(self):
        for idle in (0, 19000, 1_000_000):
            n = netns.client_addresses_for(idle)
            self.assertGreaterEqual(
                n * netns.DEFAULT_SERVER_ADDRESSES * netns.PORTS_PER_PAIR, idle, idle
            )

    def test_capabilities_named(self):
        line = netns.why_not_permitted(caps=0)
        self.assertIn("CAP_NET_ADMIN", line)
        self.assertIn("CAP_SYS_ADMIN", line)
        self.assertNotIn(
            "CAP_NET_ADMIN", netns.why_not_permitted(caps=1 << netns.CAP_NET_ADMIN) or ""
        )


if __name__ == "__main__":
    support.main_with_bin(lambda: WHY_NOT)
