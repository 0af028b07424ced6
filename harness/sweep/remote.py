"""Servers and idle holders on other hosts, reached through OpenSSH (no agent of our own).

`--server-host HOST` starts every chat server on HOST; `--idle-hosts H1,H2,...` splits each
server's idle connections evenly over those hosts' `loadgen --hold`; the measured active
connections always come from the local loadgen. Every command runs as
`ssh -o BatchMode=yes -o ConnectTimeout=5 [-F CONFIG] [-o OPTION]... HOST -- COMMAND`, so the
user's ~/.ssh/config, agent and keys apply, and nothing ever asks for a password.

A remote server is stopped by closing its ssh session's stdin: the remote shell below then sends
it SIGTERM and its JSON counters come back over ssh's stdout, as a local server's do. If the
sweep dies, ssh dies with it (PR_SET_PDEATHSIG), sshd closes the channel, the same read sees EOF
and the server is stopped: nothing is left running on the host. A remote hold is released the
same way (loadgen --hold releases at EOF on stdin).

Its CPU comes from the server's own /stats (no --server-pid across hosts); its kernel memory is
not measured (the cgroups and counters are this machine's).
"""

import os
import shlex
import socket
import subprocess
import time

from harness.common import children
from harness.common import preflight

SSH_BASE = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5"]
CHECK_TIMEOUT_S = 20.0
# Runs on the host: the server in the background, stdin (the ssh session) kept on fd 3 for a
# reader that turns EOF into SIGTERM; the shell exits with the server, which ends the session.
SERVER_WRAPPER = (
    'exec 3<&0; "$@" </dev/null 3<&- & p=$!; '
    '(read -r _ <&3; kill -TERM "$p" 2>/dev/null) >/dev/null 2>&1 & r=$!; '
    'exec 3<&-; wait "$p"; s=$?; kill "$r" 2>/dev/null; exit "$s"'
)
# key=value lines: what env.json records of each host, and the limits harness/common/preflight.py
# checks.
FACTS_SCRIPT = r"""
echo "uname=$(uname -srvm)"
echo "hostname=$(hostname)"
echo "cpus=$(nproc)"
echo "cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
echo "nofile_soft=$(ulimit -Sn)"
echo "nofile_hard=$(ulimit -Hn)"
for f in fs/nr_open fs/file-max fs/file-nr net/ipv4/ip_local_port_range net/core/somaxconn \
         net/ipv4/tcp_max_syn_backlog net/netfilter/nf_conntrack_max; do
  [ -r /proc/sys/$f ] && echo "sys:$f=$(cat /proc/sys/$f)"
done
echo "mem_available_kb=$(sed -n 's/^MemAvailable:[[:space:]]*\([0-9]*\).*/\1/p' /proc/meminfo)"
"""


class RemoteError(Exception):
    """One line naming the host and the fix."""


class Host:
    """One host reached with ssh: the command prefix, its checks and its facts."""

    def __init__(self, name, ssh_options=(), ssh_config=None, remote_bin=None):
        self.name = name
        self.remote_bin = remote_bin
        self.prefix = list(SSH_BASE)
        if ssh_config:
            self.prefix += ["-F", ssh_config]
        for option in ssh_options:
            self.prefix += ["-o", option]
        self.prefix.append(name)
        self.facts = None

    @property
    def address(self):
        """Where clients reach it by default: the ssh destination without its user."""
        return self.name.rsplit("@", 1)[-1]

    def command(self, argv):
        """ssh ... HOST -- 'argv' (quoted once: the remote shell splits it back)."""
        return self.prefix + ["--", shlex.join(argv)]

    def run(self, argv, timeout_s=CHECK_TIMEOUT_S):
        try:
            return subprocess.run(
                self.command(argv), capture_output=True, text=True, timeout=timeout_s
            )
        except subprocess.TimeoutExpired:
            raise RemoteError(
                f"{self.name}: no answer over ssh within {timeout_s:.0f} s; check that `ssh"
                f" {self.name} true` returns at once (a host that drops packets, a slow login)"
            ) from None

    def check(self, binaries, purpose):
        """Reachable over ssh without a password, and every binary executable in remote_bin;
        fills facts. Raises RemoteError with the fix."""
        probe = self.run(["sh", "-c", FACTS_SCRIPT])
        if probe.returncode == 255:
            raise RemoteError(ssh_failure(self.name, probe.stderr))
        if probe.returncode != 0:
            raise RemoteError(
                f"{self.name}: the host answered but `sh` failed (exit {probe.returncode}:"
                f" {last_line(probe.stderr)}); the host needs a POSIX sh and /proc (Linux)"
            )
        self.facts = parse_facts(probe.stdout)
        paths = [os.path.join(self.remote_bin, b) for b in binaries]
        test = self.run(["sh", "-c", 'for f; do [ -x "$f" ] || echo "$f"; done', "sh"] + paths)
        missing = [line for line in test.stdout.splitlines() if line.strip()]
        if test.returncode != 0 or missing:
            raise RemoteError(
                f"{self.name}: {', '.join(missing) or 'the binaries'} missing or not executable"
                f" (needed to {purpose}); build muxbench there (./bench build) and pass"
                " --remote-bin DIR (its build/bin), or copy this build's bin/ there"
            )

    def describe(self, idle=None):
        """env.json's entry: kernel, CPUs, limits, and preflight's checks for the idle
        connections this host holds (or serves)."""
        facts = dict(self.facts or {})
        entry = {
            "ssh": " ".join(shlex.quote(a) for a in self.prefix),
            "remote_bin": self.remote_bin,
            "kernel": facts.get("uname"),
            "hostname": facts.get("hostname"),
            "cpu_model": facts.get("cpu_model"),
            "cores": to_int(facts.get("cpus")),
            "rlimit_nofile": {
                "soft": to_int(facts.get("nofile_soft")),
                "hard": to_int(facts.get("nofile_hard")),
            },
            "sysctl": {k[4:]: v for k, v in facts.items() if k.startswith("sys:")},
            "kernel_memory": "not measured: its counters and cgroups are on that host",
        }
        if idle:
            entry["preflight"] = [
                {"limit": c.name, "ok": c.ok, "have": c.have, "need": c.need}
                for c in preflight.advise(machine_of(facts), idle)
            ]
        return entry


def ssh_failure(host, stderr):
    why = last_line(stderr) or "no message"
    low = why.lower()
    if "connection refused" in low:
        fix = "no sshd listens there: start it (apt-get install openssh-server) or give the port"
        fix += " with --ssh-option Port=N"
    elif "permission denied" in low or "publickey" in low:
        fix = "ssh needs a key it can use without a password: ssh-copy-id " + host
        fix += " (or --ssh-option IdentityFile=KEY)"
    elif "host key verification failed" in low:
        fix = f"its host key is not known: ssh {host} true once and accept it"
        fix += " (or --ssh-option StrictHostKeyChecking=accept-new)"
    else:
        fix = f"check that `ssh {host} true` works without a password from this machine"
    return f"{host}: ssh failed ({why}); {fix}"


def last_line(text):
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def to_int(text):
    try:
        return int(str(text).split()[0])
    except (ValueError, IndexError, TypeError):
        return None


def parse_facts(text):
    facts = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            facts[key.strip()] = value.strip()
    return facts


def machine_of(facts):
    """preflight.Machine from a host's facts, so its checks are the ones run here."""

    def sysctl(name):
        return facts.get("sys:" + name)

    ports = [to_int(p) for p in (sysctl("net/ipv4/ip_local_port_range") or "").split()]
    file_nr = to_int(sysctl("fs/file-nr"))
    mem = to_int(facts.get("mem_available_kb"))
    return preflight.Machine(
        nofile_soft=to_int(facts.get("nofile_soft")),
        nofile_hard=to_int(facts.get("nofile_hard")),
        nr_open=to_int(sysctl("fs/nr_open")),
        file_max=to_int(sysctl("fs/file-max")),
        files_in_use=file_nr or 0,
        port_range=tuple(ports[:2]) if len(ports) >= 2 and None not in ports[:2] else None,
        somaxconn=to_int(sysctl("net/core/somaxconn")),
        syn_backlog=to_int(sysctl("net/ipv4/tcp_max_syn_backlog")),
        conntrack_max=to_int(sysctl("net/netfilter/nf_conntrack_max")),
        mem_available=mem * 1024 if mem else None,
    )


def split_evenly(count, parts):
    """count spread over parts, the first ones taking the remainder: [4, 3, 3] for 10 over 3."""
    return [count // parts + (1 if i < count % parts else 0) for i in range(parts)]


def server_wrap(host):
    """The prefix children.Server puts before a server's command on host: ssh, then the shell
    that stops the server when the session's stdin closes. The server's own argv follows."""
    return host.prefix + ["--", "sh", "-c", shlex.quote(SERVER_WRAPPER), "sh"]


def reachable(address, port, host, timeout_s=5.0):
    """A connect from here to the remote server; raises RemoteError naming the host and the fix
    when the host (or a firewall between) refuses it."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((address, port), timeout=timeout_s):
                return
        except OSError as e:
            if time.monotonic() > deadline:
                raise RemoteError(
                    f"{host}: its chat server listens on port {port} but a connection from here"
                    f" to {address}:{port} failed ({e.strerror or e}); allow TCP from this machine"
                    f" in {host}'s firewall, or pass --server-address with the address this"
                    " machine reaches it at"
                ) from None
            time.sleep(0.2)


class HoldGroup:
    """One server's idle connections split over several idle hosts: each a children.Hold run
    through ssh, answering as one hold (counts summed)."""

    def __init__(self, loadgen, server, idle, log_path, hosts):
        self.holds = []
        for host, share in zip(hosts, split_evenly(idle, len(hosts))):
            if share:
                self.holds.append(
                    children.Hold(
                        os.path.join(host.remote_bin, os.path.basename(loadgen)),
                        server,
                        share,
                        log_path,
                        wrap=host.prefix + ["--"],
                    )
                )

    def wait_holding(self, timeout_s):
        try:
            return _summed([h.wait_holding(timeout_s) for h in self.holds])
        except children.StartError:
            self.abandon()  # the hosts that did establish theirs let go too
            raise

    def release(self, timeout_s=30.0):
        released = [h.release(timeout_s) for h in self.holds]
        return _summed(released) if all(released) else {}

    def abandon(self):
        for h in self.holds:
            h.abandon()


def _summed(dicts):
    total = {}
    for d in dicts:
        for k, v in d.items():
            total[k] = total.get(k, 0) + v
    return total
