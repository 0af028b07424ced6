"""The veth path: two network namespaces joined by a veth pair, owned by one sweep.

The servers run in `mux-<pid>-<n>-srv`, the loadgen and its idle holders in `mux-<pid>-<n>-cli`.
Both ends take addresses from 198.18.0.0/15 (RFC 2544's benchmarking range): the servers
198.18.0.1, .2, ..., the clients 198.19.0.1, .2, ..., every one with the /15 prefix, so the one
route in each namespace is the veth link's own and nothing is routed anywhere else (a connect to
any other address fails with ENETUNREACH). Deleting a namespace deletes its veth end, and with it
the peer and any qdisc, so removing the two namespaces removes everything.

Removal happens on every exit path the sweep survives: close() (a context manager), an atexit
hook, and the sweep's SIGTERM handler, which turns the signal into KeyboardInterrupt so the
`with` block unwinds. A SIGKILLed sweep cannot clean up: the next one removes every `mux-<pid>-*`
namespace whose pid is dead (remove_stale).
"""

import atexit
import math
import os
import re
import shutil
import subprocess
import sys

PREFIX = "mux-"
SERVER_VETH = "mux-srv"  # names inside each namespace: they never meet in one namespace
CLIENT_VETH = "mux-cli"
PREFIX_LEN = 15  # 198.18.0.0/15: both sides on one link, no gateway
SERVER_BASE = (198, 18, 0, 0)
CLIENT_BASE = (198, 19, 0, 0)
DEFAULT_SERVER_ADDRESSES = 8
# A new network namespace starts with net.ipv4.ip_local_port_range = 32768 60999, whatever the
# host's setting; loadgen uses half a range per (source, destination) pair, as on loopback.
NAMESPACE_PORT_RANGE = (32768, 60999)
PORTS_PER_PAIR = (NAMESPACE_PORT_RANGE[1] - NAMESPACE_PORT_RANGE[0] + 1) // 2
MAX_CLIENT_ADDRESSES = 65534  # 198.19.0.1 .. 198.19.255.254
CAP_NET_ADMIN = 12
CAP_SYS_ADMIN = 21  # `ip netns add` bind-mounts the namespace under /run/netns
NET_LO = "lo"
NET_VETH = "veth"
KNOWN_NETS = (NET_LO, NET_VETH)
_NAME = re.compile(r"^mux-(\d+)-(\d+)-(srv|cli)$")


class NetnsError(Exception):
    """Something the user can act on: the message names the command that failed and the fix."""


def parse_nets(text):
    """`lo`, `veth` or `lo,veth` (order kept, duplicates dropped); ValueError otherwise."""
    nets = list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    unknown = [n for n in nets if n not in KNOWN_NETS]
    if unknown or not nets:
        raise ValueError(
            f"--net {text!r}: expected lo, veth or lo,veth (unknown: {', '.join(unknown) or '-'})"
        )
    return nets


def address(base, n):
    """The n-th address (1-based) after base, as a dotted quad."""
    value = (base[0] << 24 | base[1] << 16 | base[2] << 8 | base[3]) + n
    return ".".join(str(value >> shift & 255) for shift in (24, 16, 8, 0))


def client_addresses_for(max_idle, server_addresses=DEFAULT_SERVER_ADDRESSES):
    """Source addresses enough for max_idle idle connections spread over every server address:
    each (source, destination) pair gives PORTS_PER_PAIR connections."""
    pairs = math.ceil(max(1, max_idle) / PORTS_PER_PAIR)
    return max(2, min(MAX_CLIENT_ADDRESSES, math.ceil(pairs / max(1, server_addresses))))


def effective_capabilities(status_path="/proc/self/status"):
    try:
        with open(status_path) as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError):
        pass
    return 0


def why_not_permitted(caps=None):
    """None when this process may create namespaces and links, else the one line saying why and
    how to run it."""
    caps = effective_capabilities() if caps is None else caps
    missing = [
        name
        for bit, name in ((CAP_NET_ADMIN, "CAP_NET_ADMIN"), (CAP_SYS_ADMIN, "CAP_SYS_ADMIN"))
        if not caps >> bit & 1
    ]
    if missing:
        return (
            f"--net veth needs {' and '.join(missing)} to create network namespaces and a veth"
            " pair: run it as root, e.g. sudo ./bench --net veth (or --net lo for loopback only)"
        )
    for tool in ("ip", "tc"):
        if shutil.which(tool) is None and not os.path.exists(f"/usr/sbin/{tool}"):
            return f"--net veth needs `{tool}`: install it with apt-get install -y iproute2"
    return None


def _ip(args, what, check=True, stdin=None):
    cmd = ["ip"] + args
    proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=30)
    if check and proc.returncode != 0:
        raise NetnsError(
            f"{what} failed: `{' '.join(cmd)}` exit {proc.returncode}: {proc.stderr.strip()}"
        )
    return proc


def namespaces():
    """The names `ip netns list` shows (without their ids)."""
    proc = _ip(["netns", "list"], "listing network namespaces", check=False)
    return [line.split()[0] for line in proc.stdout.splitlines() if line.strip()]


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_inside(name):
    """SIGKILL every process left in one of our namespaces (only ever ours: its name carries the
    pid of the sweep that made it), so that deleting it frees the namespace at once."""
    proc = _ip(["netns", "pids", name], "listing processes", check=False)
    for pid in proc.stdout.split():
        try:
            os.kill(int(pid), 9)
        except (ProcessLookupError, ValueError):
            pass


def _delete(name):
    _kill_inside(name)
    proc = _ip(["netns", "del", name], f"removing namespace {name}", check=False)
    return None if proc.returncode == 0 else proc.stderr.strip()


def remove_stale(say=None):
    """Removes the namespaces of sweeps that died without cleaning up (their pid is gone).
    Returns the names removed."""
    removed = []
    for name in namespaces():
        m = _NAME.match(name)
        if m and not _alive(int(m.group(1))):
            if _delete(name) is None:
                removed.append(name)
    if removed and say:
        say(f"removed {len(removed)} namespace(s) left by a sweep that was killed: {removed}")
    return removed


_counter = 0


class Topology:
    """Two namespaces, a veth pair, addresses, optional netem; close() removes all of it."""

    def __init__(self, netem=None, server_addresses=DEFAULT_SERVER_ADDRESSES, client_addresses=2):
        global _counter
        _counter += 1
        tag = f"{PREFIX}{os.getpid()}-{_counter}"
        self.server_ns = f"{tag}-srv"
        self.client_ns = f"{tag}-cli"
        self.netem = netem.split() if isinstance(netem, str) else list(netem or [])
        self.server_addresses = [address(SERVER_BASE, n + 1) for n in range(server_addresses)]
        self.client_addresses = [address(CLIENT_BASE, n + 1) for n in range(client_addresses)]
        self.mtu = None
        self.created = []
        self.closed = False
        atexit.register(self.close)
        try:
            self._create()
        except BaseException:
            self.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _create(self):
        for ns in (self.server_ns, self.client_ns):
            _ip(["netns", "add", ns], f"creating namespace {ns}")
            self.created.append(ns)
        _ip(
            ["link", "add", SERVER_VETH, "netns", self.server_ns, "type", "veth"]
            + ["peer", "name", CLIENT_VETH, "netns", self.client_ns],
            "creating the veth pair",
        )
        for ns, veth, addresses in (
            (self.server_ns, SERVER_VETH, self.server_addresses),
            (self.client_ns, CLIENT_VETH, self.client_addresses),
        ):
            batch = "".join(f"addr add {a}/{PREFIX_LEN} dev {veth}\n" for a in addresses)
            batch += f"link set lo up\nlink set {veth} up\n"
            _ip(["-n", ns, "-batch", "-"], f"addressing {veth} in {ns}", stdin=batch)
        if self.netem:
            for ns, veth in ((self.server_ns, SERVER_VETH), (self.client_ns, CLIENT_VETH)):
                self._add_netem(ns, veth)
        mtu = re.search(
            r"\bmtu (\d+)",
            _ip(["-n", self.server_ns, "link", "show", SERVER_VETH], "reading the MTU").stdout,
        )
        self.mtu = int(mtu.group(1)) if mtu else None

    def _add_netem(self, ns, veth):
        cmd = ["tc", "-n", ns, "qdisc", "add", "dev", veth, "root", "netem"] + self.netem
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        if proc.returncode == 0:
            return
        why = proc.stderr.strip()
        if "qdisc kind is unknown" in why:
            raise NetnsError(
                f"--netem: this kernel has no netem qdisc (`{' '.join(cmd)}`: {why}); load it with"
                " modprobe sch_netem (Debian's stock kernels ship it; Ubuntu's in"
                " linux-modules-extra-$(uname -r)), or run without --netem"
            )
        raise NetnsError(f"--netem {' '.join(self.netem)!r} refused: `{' '.join(cmd)}`: {why}")

    def server_exec(self):
        """The prefix that runs a command inside the server namespace."""
        return ["ip", "netns", "exec", self.server_ns]

    def client_exec(self):
        return ["ip", "netns", "exec", self.client_ns]

    def routes(self, ns):
        """`ip route` and `ip -6 route` lines inside one namespace."""
        lines = []
        for family in ("-4", "-6"):
            out = _ip(["-n", ns, family, "route", "show"], f"reading routes of {ns}").stdout
            lines += [line.strip() for line in out.splitlines() if line.strip()]
        return lines

    def describe(self):
        """env.json's `net` topology."""
        return {
            "server_namespace": self.server_ns,
            "client_namespace": self.client_ns,
            "server_veth": SERVER_VETH,
            "client_veth": CLIENT_VETH,
            "server_addresses": self.server_addresses,
            "client_addresses": self.client_addresses,
            "prefix": f"198.18.0.0/{PREFIX_LEN}",
            "mtu": self.mtu,
            "netem": " ".join(self.netem) or None,
            "qdisc": (
                f"netem {' '.join(self.netem)} on both veth ends (each direction delayed)"
                if self.netem
                else "the veth default (noqueue)"
            ),
            "routes": "only the veth link's own 198.18.0.0/15 (no default route)",
        }

    def close(self):
        """Removes both namespaces (their veth ends and qdiscs go with them); idempotent.
        Returns the problems met, one string per namespace that could not be removed."""
        if self.closed:
            return []
        self.closed = True
        atexit.unregister(self.close)
        problems = []
        for ns in reversed(self.created):
            why = _delete(ns)
            if why and ns in namespaces():
                problems.append(f"{ns}: {why}")
        if problems:
            print(
                "sweep: could not remove namespace(s): "
                + "; ".join(problems)
                + " (remove with ip netns del NAME)",
                file=sys.stderr,
            )
        return problems
