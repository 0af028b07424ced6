"""What one idle connection costs the kernel, in bytes, on each side (server and holders).

The sweep takes a snapshot with the server running and no idle connection, opens the hold, takes
another once the hold says `holding`, and divides the difference by the connections established.

Per side. On loopback both ends of every connection live in one kernel, so the machine-wide
counters can only give the sum of both sides. The sides are told apart by cgroup memory
accounting where the kernel offers it. With cgroup v2 (method `cgroup`) the sweep creates
`<cgroup2 root>/muxbench-<pid>/server` and `.../holders`, starts every server in the first and
every hold in the second (each child moves itself before exec), and reads the delta of each
one's `memory.stat` — `sock` (socket buffers), `slab` (kernel objects: TCP sockets, their inodes
and files, epoll items) and `kernel` (all kernel memory, Linux 5.18+) — then removes them. The
kernel charges memory to the cgroup of the task that allocates it; what it allocates outside
any task (on loopback the server's half of a connection is created in the softirq of the
client's send) is charged to nobody, and shows as `unattributed`: the machine-wide sum minus
both sides.

Where cgroup v2 has no memory controller but a cgroup v1 memory hierarchy is mounted (method
`cgroup-v1`), the same two cgroups are created in it, under the sweep's own memory cgroup, and
read from `memory.kmem.usage_in_bytes` (all kernel memory charged to the cgroup: slab objects,
and the stacks and page tables of its new processes) and `memory.kmem.tcp.usage_in_bytes`
(socket buffers, counted apart from kmem in v1). v1 accounts a cgroup's sockets only once its
`memory.kmem.tcp.limit_in_bytes` has been written, so the sweep writes "-1" (no limit) to each
side's; that also charges the server's accepted sockets to the server on accept, as v2 does.

The machine-wide counters are always read, as a cross-check and as the only figure where no
cgroup memory accounting can be used (none mounted, kernel memory accounting off, a container
that may not create cgroups): `/proc/net/sockstat` TCP `mem` (pages of socket buffers), the
growth of the slab caches idle TCP connections use (`/proc/slabinfo`, readable by root), and the
fall of `MemAvailable` (which also counts the holders' own processes and anything else the
machine did meanwhile: the coarsest). Then the per-side figures stay empty and `method` says why.

Parsing is separate from reading, so the arithmetic is tested on synthetic /proc text.
"""

import errno
import os
import re
import time

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
METHOD_CGROUP_V1 = "cgroup-v1"
METHOD_GLOBAL = "global"

# cgroup v2 memory.stat keys, in bytes.
CGROUP_KEYS = ["sock", "slab", "kernel"]
# cgroup v1 counters, in bytes: the file each is read from.
CGROUP_V1_FILES = {"kmem": "memory.kmem.usage_in_bytes", "tcp": "memory.kmem.tcp.usage_in_bytes"}
# Per method: the keys read on each side, and those whose sum is the side's `total` (the same
# things `both` counts machine-wide: socket buffers and kernel objects).
SIDE_KEYS = {
    METHOD_CGROUP: (CGROUP_KEYS, ("sock", "slab")),
    METHOD_CGROUP_V1: (list(CGROUP_V1_FILES), ("kmem", "tcp")),
}


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
        self.method = cgroups.method if cgroups is not None else None
        self.sides = {}
        if cgroups is not None:
            for side in cgroups.paths():
                stat = cgroups.stat(side)
                if stat is not None:
                    self.sides[side] = stat


def per_connection(before, after, connections, why_no_sides=None):
    """What the connections took, per connection in bytes: a dict for servers.jsonl.

    `both` is the machine-wide sum of both sides (socket buffers + the named slab caches);
    `server` and `holders` come from their cgroups, each `total` being, under cgroup v2, `sock` +
    `slab` like `both` (`kernel`, where reported, also counts the holders' own new processes:
    their stacks and page tables), under cgroup v1 `kmem` (all kernel memory, those stacks and
    page tables included) + `tcp` (socket buffers); `unattributed` is `both` minus the two
    totals. Under v1 a kmem counter that did not move on either side means kernel memory
    accounting is off: no sides then."""
    if not connections:
        return None
    per = lambda a, b: None if a is None or b is None else round((b - a) / connections, 1)  # noqa
    rec = {"connections": connections}
    rec.update(machine_wide(before, after, per))
    rec.update(by_side(before, after, per, rec["both"], why_no_sides))
    return rec


def machine_wide(before, after, per):
    """The machine-wide counters' growth per connection, and `both` from the best of them:
    sockstat TCP mem + slab growth, else what of it was read, else MemAvailable's fall."""
    rec = {"sockstat_tcp_mem": per(before.sockstat_mem, after.sockstat_mem)}
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
    return rec


def by_side(before, after, per, both, why_no_sides):
    """The server's and the holders' shares (their cgroups) and what neither was charged; with
    no two sides to read, method `global` and why."""
    sides = side_deltas(before, after, per)
    if (
        len(sides) == 2
        and after.method == METHOD_CGROUP_V1
        and not any(s.get("kmem") for s in sides.values())
    ):
        sides = {}
        why_no_sides = (
            "the cgroup v1 kmem counters did not move (kernel memory accounting is off here,"
            " e.g. cgroup.memory=nokmem)"
        )
    if len(sides) == 2:
        return {
            "method": after.method,
            "server": sides["server"],
            "holders": sides["holders"],
            "unattributed": (
                None
                if both is None
                else round(both - sides["server"]["total"] - sides["holders"]["total"], 1)
            ),
        }
    return {
        "method": METHOD_GLOBAL,
        "server": None,
        "holders": None,
        "unattributed": None,
        "why_no_sides": why_no_sides or "no per-side accounting",
    }


def side_deltas(before, after, per):
    """side -> {key: bytes per connection, "total": ..} for each side both snapshots read."""
    if after.method not in SIDE_KEYS or before.method != after.method:
        return {}
    keys, total_of = SIDE_KEYS[after.method]
    sides = {}
    for side in ("server", "holders"):
        a, b = before.sides.get(side), after.sides.get(side)
        if not a or not b:
            continue
        d = {k: per(a[k], b[k]) for k in keys if k in a and k in b}
        d["total"] = round(sum(d.get(k) or 0 for k in total_of), 1)
        sides[side] = d
    return sides


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

SIDES = ("server", "holders")


def _mounts(mounts_text):
    if mounts_text is None:
        mounts_text = _read("/proc/self/mounts") or ""
    return [f for f in (line.split() for line in mounts_text.splitlines()) if len(f) > 3]


def cgroup2_root(mounts_text=None):
    """(root path, None) of a cgroup v2 hierarchy with the memory controller, or (None, why)."""
    roots = [f[1] for f in _mounts(mounts_text) if f[2] == "cgroup2"]
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


def kmem_off(cmdline):
    """Whether the kernel command line turns kernel memory accounting off."""
    for word in cmdline.split():
        if word.startswith("cgroup.memory=") and "nokmem" in word.split("=", 1)[1].split(","):
            return True
    return False


def cgroup1_memory_parent(mounts_text=None, cgroup_text=None, cmdline=None):
    """(directory, None) under which the sweep may create cgroup v1 memory cgroups, or (None,
    why). The directory is the sweep's own memory cgroup (/proc/self/cgroup), not the
    hierarchy's root: its children then stay under every limit the sweep itself runs under."""
    mounts = [
        f[1] for f in _mounts(mounts_text) if f[2] == "cgroup" and "memory" in f[3].split(",")
    ]
    if not mounts:
        return None, "no cgroup v1 memory hierarchy is mounted either"
    if cmdline is None:
        cmdline = _read("/proc/cmdline") or ""
    if kmem_off(cmdline):
        return None, "kernel memory accounting is off (cgroup.memory=nokmem)"
    if cgroup_text is None:
        cgroup_text = _read("/proc/self/cgroup") or ""
    own = "/"
    for line in cgroup_text.splitlines():
        parts = line.strip().split(":", 2)
        if len(parts) == 3 and "memory" in parts[1].split(","):
            own = parts[2]
    parent = os.path.normpath(os.path.join(mounts[0], own.lstrip("/")))
    if not os.path.isdir(parent):
        parent = mounts[0]  # a container's mount, whose root is its own cgroup
    if not os.path.exists(os.path.join(parent, CGROUP_V1_FILES["kmem"])):
        return None, f"the cgroup v1 memory hierarchy ({mounts[0]}) has no kmem counters"
    return parent, None


class SideCgroups:
    """cgroup v2: two child cgroups, server and holders, under <root>/muxbench-<pid>; removed
    by close()."""

    method = METHOD_CGROUP

    def __init__(self, root, name=None):
        self.root = root
        self.base = os.path.join(root, name or f"muxbench-{os.getpid()}")
        os.mkdir(self.base)
        try:
            self._populate()
        except OSError:
            self.close(wait_s=0)
            raise

    def _populate(self):
        with open(os.path.join(self.base, "cgroup.subtree_control"), "w") as f:
            f.write("+memory")
        for side in SIDES:
            os.mkdir(os.path.join(self.base, side))

    def paths(self):
        return {side: os.path.join(self.base, side) for side in SIDES}

    def procs_file(self, side):
        return os.path.join(self.base, side, "cgroup.procs")

    def stat(self, side):
        """{key: bytes} of the side's counters now, or None when unreadable."""
        text = _read(os.path.join(self.base, side, "memory.stat"))
        return None if text is None else parse_memory_stat(text)

    def describe(self):
        return f"per side from cgroup v2 memory.stat ({self.base})"

    def close(self, wait_s=2.0):
        """Removes the cgroups once their processes have exited (an empty cgroup is removed with
        rmdir, its files go with it), waiting up to wait_s for processes still exiting. Returns
        the directories left."""
        deadline = time.monotonic() + wait_s
        left = []
        for path in [*self.paths().values(), self.base]:
            while True:
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError as e:
                    if e.errno != errno.EBUSY or time.monotonic() >= deadline:
                        left.append(path)
                        break
                    time.sleep(0.05)
        return left


class SideCgroupsV1(SideCgroups):
    """cgroup v1: the same two cgroups in the v1 memory hierarchy, read from their kmem
    counters. v1 charges socket buffers (and, on accept, the accepted socket) to a cgroup only
    once its memory.kmem.tcp.limit_in_bytes has been written (Documentation/admin-guide/
    cgroup-v1/memory.rst; any value turns it on, checked on Linux 6.18): each side gets "-1",
    no limit."""

    method = METHOD_CGROUP_V1

    def _populate(self):
        self.tcp_active = True
        for side in SIDES:
            path = os.path.join(self.base, side)
            os.mkdir(path)
            try:
                with open(os.path.join(path, "memory.kmem.tcp.limit_in_bytes"), "w") as f:
                    f.write("-1")
            except OSError:
                self.tcp_active = False

    def stat(self, side):
        out = {}
        for key, name in CGROUP_V1_FILES.items():
            if key == "tcp" and not self.tcp_active:
                continue
            text = _read(os.path.join(self.base, side, name))
            try:
                out[key] = int(text)
            except (TypeError, ValueError):
                return None
        return out

    def describe(self):
        tcp = (
            " + memory.kmem.tcp.usage_in_bytes"
            if self.tcp_active
            else " (TCP buffer accounting could not be turned on)"
        )
        return f"per side from cgroup v1 memory.kmem.usage_in_bytes{tcp} ({self.base})"


def _create(kind, parent):
    if not os.access(parent, os.W_OK):
        return None, f"cannot create cgroups under {parent} (run as root)"
    try:
        return kind(parent), None
    except OSError as e:
        return None, f"cannot create cgroups under {parent}: {e.strerror or e}"


def open_side_cgroups():
    """(SideCgroups, None) when the sides can be told apart here, else (None, why not): cgroup
    v2 where it has the memory controller, else a writable cgroup v1 memory hierarchy."""
    root, why = cgroup2_root()
    if root is not None:
        return _create(SideCgroups, root)
    parent, why_v1 = cgroup1_memory_parent()
    if parent is None:
        return None, f"{why}; {why_v1}"
    return _create(SideCgroupsV1, parent)


def join_cgroup(procs_file):
    """For a child between fork and exec: moves the calling process into the cgroup."""
    with open(procs_file, "w") as f:
        f.write(str(os.getpid()))


class KernelMeter:
    """The sweep's one handle: the side cgroups (when they can exist here), a snapshot before each
    hold and the per-connection record after it."""

    def __init__(self, enabled=True):
        self.cgroups, self.why = (None, "not measured") if not enabled else open_side_cgroups()

    @property
    def method(self):
        return self.cgroups.method if self.cgroups else METHOD_GLOBAL

    def procs_file(self, side):
        """The cgroup.procs a child of this side joins before exec, or None."""
        return self.cgroups.procs_file(side) if self.cgroups else None

    def snapshot(self):
        return Snapshot(cgroups=self.cgroups)

    def measure(self, before, connections):
        return per_connection(before, self.snapshot(), connections, self.why)

    def describe(self):
        if self.cgroups:
            return self.cgroups.describe()
        return f"both sides together from machine-wide counters; per side not separable: {self.why}"

    def close(self):
        """Removes the cgroups; returns the directories left (processes that would not exit)."""
        return self.cgroups.close() if self.cgroups else []
