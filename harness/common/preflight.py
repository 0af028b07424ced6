"""`./bench --preflight --max-idle N`: can this machine hold N idle connections, and what to raise.

It reads the limits (rlimits, /proc/sys, /proc/meminfo, /proc/slabinfo) and prints, per limit,
`ok` or `RAISE` with the exact commands. It never changes a setting: every command is for the
user to run. Exit status 0 when nothing needs raising, 1 otherwise.

What N idle connections need, and why (the sweep's layout: one server process holds all N; the
holders, `loadgen --hold`, spread them over helper processes and loopback source addresses):
  - RLIMIT_NOFILE of the server: N descriptors plus SERVER_FD_MARGIN of its own. The bench
    raises the soft limit to the hard one itself, so the hard limit is what counts;
  - fs.nr_open: the ceiling no process's RLIMIT_NOFILE may exceed;
  - fs.file-max: open files machine-wide; on loopback both ends are on this machine (2 N);
  - net.ipv4.ip_local_port_range: each connection is one 4-tuple (source address and port,
    destination address and port), so one source address reaches one server port at most once
    per ephemeral port; loadgen uses half the range per source address (the rest is left for
    TIME_WAIT and other programs) and moves to 127.0.0.2, .3, ... On loopback the 127.0.0.0/8
    addresses are plenty; across a network it needs that many source addresses (or server
    ports/addresses);
  - net.core.somaxconn (and net.ipv4.tcp_max_syn_backlog): the accept backlog; connections
    arrive in bursts of thousands while the hold opens, and the servers ask listen() for
    SOMAXCONN (4096);
  - nf_conntrack_max, when the conntrack module is loaded: a firewall that tracks loopback
    takes one entry per connection, and drops new ones when the table is full;
  - memory: the kernel objects of both ends (see harness/sweep/kernel_memory.py), compared
    with MemAvailable.
"""

import math
import os
import resource
import sys


# Descriptors a server needs besides the idle connections: stdio, the listening socket, the
# epoll/io_uring instance, the loadgen's /stats control connection and its active connections
# (a handful; flood and broadcast use a few dozen at most).
SERVER_FD_MARGIN = 100
# What the servers ask listen() for (glibc's SOMAXCONN); the kernel caps it at net.core.somaxconn.
LISTEN_BACKLOG = 4096
# Slab object sizes (bytes) of one idle loopback connection when /proc/slabinfo is not readable:
# Linux 6.x on x86-64. Per end: the socket (TCP), its inode, its file and dentry; the server adds
# an epoll item (epoll servers).
DEFAULT_OBJECT_BYTES = {
    "TCP": 2368,
    "sock_inode_cache": 832,
    "filp": 256,
    "dentry": 192,
    "eventpoll_epi": 128,
}
# Memory left for everything else (page cache, the processes) when the idle connections are up.
MEMORY_HEADROOM = 0.5


class Machine:
    """The limits preflight reads: from this machine (read_machine()), or by hand in tests."""

    def __init__(self, **values):
        self.nofile_soft = values.get("nofile_soft")
        self.nofile_hard = values.get("nofile_hard")
        self.nr_open = values.get("nr_open")
        self.file_max = values.get("file_max")
        self.files_in_use = values.get("files_in_use", 0)
        self.port_range = values.get("port_range")  # (low, high)
        self.somaxconn = values.get("somaxconn")
        self.syn_backlog = values.get("syn_backlog")
        self.conntrack_max = values.get("conntrack_max")  # None: the module is not loaded
        self.conntrack_count = values.get("conntrack_count", 0)
        self.mem_available = values.get("mem_available")  # bytes
        self.object_bytes = values.get("object_bytes") or dict(DEFAULT_OBJECT_BYTES)
        self.object_bytes_from = values.get("object_bytes_from", "defaults for Linux 6.x x86-64")


def _int(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _ints(path):
    try:
        with open(path) as f:
            return [int(x) for x in f.read().split()]
    except (OSError, ValueError):
        return None


def read_machine(proc="/proc"):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    inf = resource.RLIM_INFINITY
    sys_ = os.path.join(proc, "sys")
    file_nr = _ints(os.path.join(sys_, "fs", "file-nr"))
    ports = _ints(os.path.join(sys_, "net", "ipv4", "ip_local_port_range"))
    objects, source = dict(DEFAULT_OBJECT_BYTES), None
    try:
        with open(os.path.join(proc, "slabinfo")) as f:
            for line in f:
                parts = line.split()
                if parts and parts[0] in objects and len(parts) > 3:
                    objects[parts[0]] = int(parts[3])
                    source = "/proc/slabinfo object sizes"
    except (OSError, ValueError):
        pass
    meminfo = None
    try:
        with open(os.path.join(proc, "meminfo")) as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    meminfo = int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    conntrack = os.path.join(sys_, "net", "netfilter", "nf_conntrack_max")
    return Machine(
        nofile_soft=None if soft == inf else soft,
        nofile_hard=None if hard == inf else hard,
        nr_open=_int(os.path.join(sys_, "fs", "nr_open")),
        file_max=_int(os.path.join(sys_, "fs", "file-max")),
        files_in_use=file_nr[0] if file_nr else 0,
        port_range=tuple(ports[:2]) if ports and len(ports) >= 2 else None,
        somaxconn=_int(os.path.join(sys_, "net", "core", "somaxconn")),
        syn_backlog=_int(os.path.join(sys_, "net", "ipv4", "tcp_max_syn_backlog")),
        conntrack_max=_int(conntrack) if os.path.exists(conntrack) else None,
        conntrack_count=_int(os.path.join(sys_, "net", "netfilter", "nf_conntrack_count")) or 0,
        mem_available=meminfo,
        object_bytes=objects,
        object_bytes_from=source or "defaults for Linux 6.x x86-64 (/proc/slabinfo not readable)",
    )


class Check:
    def __init__(self, name, ok, have, need, why, commands=()):
        self.name = name
        self.ok = ok
        self.have = have
        self.need = need
        self.why = why
        self.commands = list(commands)


def bytes_per_connection(m):
    """Kernel slab bytes of one idle loopback connection, both ends (a floor: socket buffers and
    the holders' bound-port buckets come on top; kernel_memory.py measures the whole)."""
    o = m.object_bytes
    end = o["TCP"] + o["sock_inode_cache"] + o["filp"] + o["dentry"]
    return 2 * end + o["eventpoll_epi"]


def human_bytes(n):
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"


def port_check(n, port_range):
    """Ports and addresses: information (loopback has addresses enough), with the command that
    widens the range."""
    low, high = port_range
    ports = high - low + 1
    per_address = max(1, ports // 2)
    addresses = math.ceil(n / per_address)
    return Check(
        "net.ipv4.ip_local_port_range (source ports x addresses)",
        True,
        f"{low}-{high}: {ports} ports per source address",
        f"{addresses} source address(es) at {per_address} connections each",
        "one 4-tuple per connection: one source address reaches one server address and"
        " port once per ephemeral port; loadgen uses half the range per address and"
        " takes 127.0.0.2, .3, ... on loopback (127.0.0.0/8 has 16M). Across a network,"
        f" the holders need {addresses} source addresses (or the server that many"
        " address:port pairs); a wider range needs fewer",
        ['sysctl -w net.ipv4.ip_local_port_range="1024 65535"   # optional'],
    )


def advise(m, n):
    """The checks for n idle connections on machine m, in the order a user raises them; a limit
    the machine did not report is left out."""
    checks = [
        nofile_check(m, n),
        nr_open_check(m, n),
        file_max_check(m, n),
        None if m.port_range is None else port_check(n, m.port_range),
        somaxconn_check(m),
        syn_backlog_check(m),
        conntrack_check(m, n),
        memory_check(m, n),
    ]
    return [c for c in checks if c is not None]


def nofile_check(m, n):
    fds = n + SERVER_FD_MARGIN
    hard = m.nofile_hard
    return Check(
        "RLIMIT_NOFILE (hard, per process)",
        hard is None or hard >= fds,
        "unlimited" if hard is None else hard,
        fds,
        f"the server holds {n} idle connections as descriptors, plus"
        f" {SERVER_FD_MARGIN} of its own (the bench raises the soft limit to the hard"
        " one itself)",
        [
            f"ulimit -Hn {fds}; ulimit -Sn {fds}   # as root, in the shell that then runs"
            " ./bench (this session only)",
            f"echo '* hard nofile {fds}' >> /etc/security/limits.conf   # at the next login"
            f" (a systemd service: LimitNOFILE={fds})",
        ],
    )


def nr_open_check(m, n):
    if m.nr_open is None:
        return None
    fds = n + SERVER_FD_MARGIN
    return Check(
        "fs.nr_open",
        m.nr_open >= fds,
        m.nr_open,
        fds,
        "no process's RLIMIT_NOFILE may exceed it (raise it before RLIMIT_NOFILE)",
        [f"sysctl -w fs.nr_open={fds}"],
    )


def file_max_check(m, n):
    if m.file_max is None:
        return None
    need = m.files_in_use + 2 * n + 2 * SERVER_FD_MARGIN
    return Check(
        "fs.file-max",
        m.file_max >= need,
        m.file_max,
        need,
        f"open files machine-wide: both ends of {n} loopback connections, plus the"
        f" {m.files_in_use} open now",
        [f"sysctl -w fs.file-max={need}"],
    )


def somaxconn_check(m):
    return backlog_check(
        "net.core.somaxconn",
        m.somaxconn,
        "the accept backlog the servers ask for: the hold opens connections in bursts of"
        " thousands, and a full backlog drops SYNs (a 1 s retransmit each)",
    )


def syn_backlog_check(m):
    return backlog_check(
        "net.ipv4.tcp_max_syn_backlog",
        m.syn_backlog,
        "half-open connections queued per listener while the hold opens",
    )


def backlog_check(sysctl, value, why):
    """A queue of the listening sockets, which must hold the LISTEN_BACKLOG the servers ask for."""
    if value is None:
        return None
    return Check(
        sysctl,
        value >= LISTEN_BACKLOG,
        value,
        LISTEN_BACKLOG,
        why,
        [f"sysctl -w {sysctl}={LISTEN_BACKLOG}"],
    )


def conntrack_check(m, n):
    if m.conntrack_max is None:
        return None
    need = m.conntrack_count + n + SERVER_FD_MARGIN
    return Check(
        "net.netfilter.nf_conntrack_max",
        m.conntrack_max >= need,
        m.conntrack_max,
        need,
        f"nf_conntrack is loaded (tracking {m.conntrack_count} now): a firewall rule"
        " that tracks loopback takes one entry per connection and drops new ones when"
        " the table is full",
        [
            f"sysctl -w net.netfilter.nf_conntrack_max={need}",
            "# or leave loopback untracked: nft add table inet raw; nft add chain inet"
            " raw pre '{ type filter hook prerouting priority raw; }'; nft add rule inet"
            " raw pre iif lo notrack",
        ],
    )


def memory_check(m, n):
    if m.mem_available is None:
        return None
    per = bytes_per_connection(m)
    need = n * per
    return Check(
        "memory (MemAvailable)",
        need <= m.mem_available * MEMORY_HEADROOM,
        human_bytes(m.mem_available),
        f"{human_bytes(need)} of kernel objects for {n} connections (~{per} B each, both ends)",
        f"at least the slab objects of both ends ({m.object_bytes_from}); keep it under"
        f" {MEMORY_HEADROOM:.0%} of MemAvailable. The bench measures the real figure per"
        " idle count: runs.csv kernel_bytes_per_idle_*",
        ["# add memory, or sweep a smaller --max-idle"],
    )


def requirements(n):
    """What n idle connections need of any machine, with the commands (the report's projection):
    the checks of a machine that has none of it. Memory is left out (the report projects it from
    measured bytes)."""
    none = Machine(
        nofile_hard=0,
        nr_open=0,
        file_max=0,
        port_range=(32768, 60999),
        somaxconn=0,
        syn_backlog=0,
        conntrack_max=0,
    )
    return [c for c in advise(none, n) if c.commands and not c.name.startswith("net.ipv4.ip_")]


def render(checks, n):
    lines = [
        f"preflight: can this machine hold {n} idle connections? (one server process holds them"
        " all; the holders spread them over processes and loopback source addresses)",
        "Nothing is changed: the commands below are for you to run as root; then run"
        f" ./bench --preflight --max-idle {n} again.",
        "",
    ]
    for c in sorted(checks, key=lambda c: c.ok):
        mark = "ok   " if c.ok else "RAISE"
        lines.append(f"{mark} {c.name}: have {c.have}, need {c.need}")
        lines.append(f"      why: {c.why}")
        if not c.ok:
            lines += [f"      $ {cmd}" for cmd in c.commands]
    todo = [c for c in checks if not c.ok]
    lines.append("")
    if todo:
        lines.append(f"preflight: raise {len(todo)}: " + ", ".join(c.name for c in todo))
    else:
        lines.append(f"preflight: ready for {n} idle connections")
    return "\n".join(lines) + "\n"


def main(n, out=None):
    out = out or sys.stdout
    checks = advise(read_machine(), n)
    out.write(render(checks, n))
    return 0 if all(c.ok for c in checks) else 1
