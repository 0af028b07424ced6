"""What one idle connection costs the kernel, in bytes, on each side (server and holders).

The sweep takes a snapshot with the server running and no idle connection, opens the hold, takes
another once the hold says `holding`, and divides the difference by the connections established.

Per side. On loopback both ends of every connection live in one kernel, so the machine-wide
counters can only give the sum of both sides. The sides are told apart by cgroup v2 memory
accounting where the kernel offers it (method `cgroup`): the sweep creates
`<cgroup2 root>/muxbench-<pid>/server` and `.../holders`, starts every server in the first and
every hold in the second (each child moves itself before exec), and reads the delta of each
one's `memory.stat` — `sock` (socket buffers), `slab` (kernel objects: TCP sockets, their inodes
and files, epoll items) and `kernel` (all kernel memory, Linux 5.18+) — then removes them. The
kernel charges memory to the cgroup of the task that allocates it; what it allocates outside
any task (on loopback the server's half of a connection is created in the softirq of the
client's send) is charged to nobody, and shows as `unattributed`: the machine-wide sum minus
both sides.

The machine-wide counters are always read, as a cross-check and as the only figure where cgroup
v2 has no memory controller (cgroup v1 or a hybrid hierarchy, a container that may not create
cgroups): `/proc/net/sockstat` TCP `mem` (pages of socket buffers), the growth of the slab
caches idle TCP connections use (`/proc/slabinfo`, readable by root), and the fall of
`MemAvailable` (which also counts the holders' own processes and anything else the machine did
meanwhile: the coarsest). Then the per-side figures stay empty and `method` says why.

Parsing is separate from reading, so the arithmetic is tested on synthetic /proc text.
"""

import os
import re

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

# The slab caches an idle TCP connection takes objects from, on either side: the socket
# (`TCP`), its inode (`sock_inode_cache`) and open file (`filp`), the server's epoll item
# (`eventpoll_epi`: epoll servers only), and the bound-port buckets of the holders' source
# addresses. Caches the kernel merged into another (SLUB aliases) or lacks are left out.
SLAB_CACHES = [
    "TCP",
    "sock_inode_cache",
    "filp",
    "eventpoll_epi",
    "tcp_bind_bucket",
    "tcp_bind2_bucket",
]

METHOD_CGROUP = "cgroup"
METHOD_GLOBAL = "global"

# cgroup v2 memory.stat keys, in bytes.
CGROUP_KEYS = ["sock", "slab", "kernel"]


# -- parsing (pure) ----------------------------------------------------------------------------


def parse_sockstat(text):
    """{"inuse": .., "orphan": .., "tw": .., "alloc": .., "mem": pages} of the TCP line."""
    for line in text.splitlines():
        if line.startswith("TCP:"):
            fields = line.split()[1:]
            return {k: int(v) for k, v in zip(fields[::2], fields[1::2])}
    return {}


def parse_slabinfo(text, caches=SLAB_CACHES):
    """cache -> bytes the cache holds (slabs x pages per slab x page size) for the named caches
    present in /proc/slabinfo (version 2.1)."""
    out = {}
    for line in text.splitlines():
        if line.startswith(("slabinfo", "#")):
            continue
        parts = line.split()
        if not parts or parts[0] not in caches:
            continue
        try:
            pages_per_slab = int(parts[5])
            colon = parts.index("slabdata")
            num_slabs = int(parts[colon + 2])
        except (ValueError, IndexError):
            continue
        out[parts[0]] = num_slabs * pages_per_slab * PAGE_SIZE
    return out


def parse_meminfo(text):
    """MemAvailable in bytes, or None."""
    m = re.search(r"^MemAvailable:\s+(\d+) kB", text, re.M)
    return int(m.group(1)) * 1024 if m else None


def parse_memory_stat(text, keys=CGROUP_KEYS):
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in keys:
            out[parts[0]] = int(parts[1])
    return out


# -- snapshots ---------------------------------------------------------------------------------


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


class Snapshot:
    """The counters at one moment: machine-wide ones, and each side's cgroup when there are
    cgroups."""

    def __init__(self, proc="/proc", cgroups=None):
        sockstat = _read(os.path.join(proc, "net", "sockstat"))
        slabinfo = _read(os.path.join(proc, "slabinfo"))
        meminfo = _read(os.path.join(proc, "meminfo"))
        tcp = parse_sockstat(sockstat) if sockstat else {}
        self.sockstat_mem = tcp["mem"] * PAGE_SIZE if "mem" in tcp else None
        self.slab = parse_slabinfo(slabinfo) if slabinfo else None
        self.mem_available = parse_meminfo(meminfo) if meminfo else None
        self.sides = {}
        if cgroups is not None:
            for side, path in cgroups.paths().items():
                text = _read(os.path.join(path, "memory.stat"))
                if text is not None:
                    self.sides[side] = parse_memory_stat(text)


def per_connection(before, after, connections, why_no_sides=None):
    """What the connections took, per connection in bytes: a dict for servers.jsonl.

    `both` is the machine-wide sum of both sides (socket buffers + the named slab caches);
    `server` and `holders` come from their cgroups, each `total` being `sock` + `slab` like
    `both` (`kernel`, where reported, also counts the holders' own new processes: their stacks
    and page tables); `unattributed` is `both` minus the two totals."""
    if not connections:
        return None
    rec = {"connections": connections}
    per = lambda a, b: None if a is None or b is None else round((b - a) / connections, 1)  # noqa
    rec["sockstat_tcp_mem"] = per(before.sockstat_mem, after.sockstat_mem)
    if before.slab is not None and after.slab is not None:
        rec["slab"] = {
            c: per(before.slab[c], after.slab[c])
            for c in SLAB_CACHES
            if c in before.slab and c in after.slab
        }
        rec["slab_total"] = round(sum(rec["slab"].values()), 1)
    else:
        rec["slab"] = None
        rec["slab_total"] = None
    rec["mem_available_drop"] = per(after.mem_available, before.mem_available)
    parts = [rec["sockstat_tcp_mem"], rec["slab_total"]]
    rec["both"] = (
        round(sum(p for p in parts if p is not None), 1)
        if any(p is not None for p in parts)
        else rec["mem_available_drop"]
    )
    rec["both_from"] = (
        "sockstat TCP mem + slab growth"
        if rec["slab_total"] is not None
        else "sockstat TCP mem"
        if rec["sockstat_tcp_mem"] is not None
        else "MemAvailable drop"
    )
    sides = {}
    for side in ("server", "holders"):
        a, b = before.sides.get(side), after.sides.get(side)
        if not a or not b:
            continue
        d = {k: per(a[k], b[k]) for k in CGROUP_KEYS if k in a and k in b}
        d["total"] = round(sum(d.get(k) or 0 for k in ("sock", "slab")), 1)
        sides[side] = d
    if len(sides) == 2:
        rec["method"] = METHOD_CGROUP
        rec["server"], rec["holders"] = sides["server"], sides["holders"]
        rec["unattributed"] = (
            None
            if rec["both"] is None
            else round(rec["both"] - sides["server"]["total"] - sides["holders"]["total"], 1)
        )
    else:
        rec["method"] = METHOD_GLOBAL
        rec["server"] = rec["holders"] = rec["unattributed"] = None
        rec["why_no_sides"] = why_no_sides or "no per-side accounting"
    return rec


def csv_columns(rec):
    """The runs.csv columns of one hold's record (empty strings when not measured)."""
    if not rec:
        return {
            "kernel_bytes_per_idle_server": "",
            "kernel_bytes_per_idle_holders": "",
            "kernel_bytes_per_idle_both": "",
            "kernel_bytes_method": "",
        }

    def side(name):
        s = rec.get(name)
        return "" if not s else s.get("total")

    method = rec["method"]
    if method == METHOD_GLOBAL:
        method += ": " + rec.get("why_no_sides", "")
    return {
        "kernel_bytes_per_idle_server": side("server"),
        "kernel_bytes_per_idle_holders": side("holders"),
        "kernel_bytes_per_idle_both": "" if rec.get("both") is None else rec["both"],
        "kernel_bytes_method": method,
    }


# -- cgroups -----------------------------------------------------------------------------------


def cgroup2_root(mounts_text=None, cgroup_text=None):
    """(root path, None) of a cgroup v2 hierarchy with the memory controller, or (None, why)."""
    if mounts_text is None:
        mounts_text = _read("/proc/self/mounts") or ""
    roots = [
        line.split()[1]
        for line in mounts_text.splitlines()
        if len(line.split()) > 2 and line.split()[2] == "cgroup2"
    ]
    if not roots:
        return None, "no cgroup v2 hierarchy is mounted"
    for root in roots:
        controllers = (_read(os.path.join(root, "cgroup.controllers")) or "").split()
        if "memory" in controllers:
            return root, None
    return None, (
        f"the cgroup v2 hierarchy ({roots[0]}) has no memory controller (it is bound to cgroup"
        " v1 here)"
    )


class SideCgroups:
    """Two child cgroups, server and holders, under <root>/muxbench-<pid>; removed by close()."""

    def __init__(self, root, name=None):
        self.root = root
        self.base = os.path.join(root, name or f"muxbench-{os.getpid()}")
        os.mkdir(self.base)
        try:
            with open(os.path.join(self.base, "cgroup.subtree_control"), "w") as f:
                f.write("+memory")
            for side in ("server", "holders"):
                os.mkdir(os.path.join(self.base, side))
        except OSError:
            self.close()
            raise

    def paths(self):
        return {side: os.path.join(self.base, side) for side in ("server", "holders")}

    def procs_file(self, side):
        return os.path.join(self.base, side, "cgroup.procs")

    def close(self):
        """Removes the cgroups (their processes must have exited; an empty cgroup is removed
        with rmdir, its files go with it)."""
        for side in ("server", "holders"):
            try:
                os.rmdir(os.path.join(self.base, side))
            except OSError:
                pass
        try:
            os.rmdir(self.base)
        except OSError:
            pass


def open_side_cgroups():
    """(SideCgroups, None) when the sides can be told apart here, else (None, why not)."""
    root, why = cgroup2_root()
    if root is None:
        return None, why
    if not os.access(root, os.W_OK):
        return None, f"cannot create cgroups under {root} (run as root)"
    try:
        return SideCgroups(root), None
    except OSError as e:
        return None, f"cannot create cgroups under {root}: {e.strerror or e}"


def join_cgroup(procs_file):
    """For a child between fork and exec: moves the calling process into the cgroup."""
    with open(procs_file, "w") as f:
        f.write(str(os.getpid()))


class KernelMeter:
    """The sweep's one handle: the side cgroups (when they can exist here), a snapshot before each
    hold and the per-connection record after it."""

    def __init__(self, enabled=True):
        self.cgroups, self.why = (None, "not measured") if not enabled else open_side_cgroups()

    def procs_file(self, side):
        """The cgroup.procs a child of this side joins before exec, or None."""
        return self.cgroups.procs_file(side) if self.cgroups else None

    def snapshot(self):
        return Snapshot(cgroups=self.cgroups)

    def measure(self, before, connections):
        return per_connection(before, self.snapshot(), connections, self.why)

    def describe(self):
        if self.cgroups:
            return f"per side from cgroup v2 memory.stat ({self.cgroups.base})"
        return f"both sides together from machine-wide counters; per side not separable: {self.why}"

    def close(self):
        if self.cgroups:
            self.cgroups.close()
