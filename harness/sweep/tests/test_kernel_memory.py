"""Kernel memory per idle connection: the arithmetic on synthetic /proc and cgroup text."""

import os
import tempfile
import unittest

from harness.sweep import kernel_memory as km

SOCKSTAT = """sockets: used {used}
TCP: inuse {inuse} orphan 0 tw 12 alloc {inuse} mem {mem}
UDP: inuse 0 mem 0
"""

SLABINFO_HEAD = (
    "slabinfo - version: 2.1\n"
    "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables"
    " <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>\n"
)


def slabinfo(tcp_slabs, filp_slabs, inode_slabs, epi_slabs):
    line = "{:<18} 100 100 {} 13 {} : tunables 0 0 0 : slabdata {} {} 0\n"
    return (
        SLABINFO_HEAD
        + line.format("TCP", 2368, 8, tcp_slabs, tcp_slabs)
        + line.format("filp", 192, 1, filp_slabs, filp_slabs)
        + line.format("sock_inode_cache", 832, 4, inode_slabs, inode_slabs)
        + line.format("eventpoll_epi", 128, 1, epi_slabs, epi_slabs)
        + line.format("dentry", 192, 1, 999999, 999999)  # not one of ours: ignored
    )


MEMINFO = "MemTotal:       24000000 kB\nMemAvailable:   {avail} kB\n"


def proc_tree(root, mem_pages, slabs, avail_kb):
    os.makedirs(os.path.join(root, "net"), exist_ok=True)
    with open(os.path.join(root, "net", "sockstat"), "w") as f:
        f.write(SOCKSTAT.format(used=10, inuse=10, mem=mem_pages))
    with open(os.path.join(root, "slabinfo"), "w") as f:
        f.write(slabinfo(*slabs))
    with open(os.path.join(root, "meminfo"), "w") as f:
        f.write(MEMINFO.format(avail=avail_kb))


class FakeCgroups:
    def __init__(self, base):
        self.base = base
        for side in ("server", "holders"):
            os.makedirs(os.path.join(base, side), exist_ok=True)

    def paths(self):
        return {side: os.path.join(self.base, side) for side in ("server", "holders")}

    def write(self, side, sock, slab, kernel):
        with open(os.path.join(self.base, side, "memory.stat"), "w") as f:
            f.write(f"anon 4096\nfile 0\nkernel {kernel}\nsock {sock}\nslab {slab}\nslab_x 1\n")


class ParsingTest(unittest.TestCase):
    def test_sockstat_tcp_line(self):
        tcp = km.parse_sockstat(SOCKSTAT.format(used=3, inuse=7, mem=225))
        self.assertEqual(tcp["mem"], 225)
        self.assertEqual(tcp["inuse"], 7)
        self.assertEqual(km.parse_sockstat("sockets: used 1\n"), {})

    def test_slabinfo_counts_the_pages_of_named_caches(self):
        slab = km.parse_slabinfo(slabinfo(10, 20, 30, 40))
        self.assertEqual(slab["TCP"], 10 * 8 * km.PAGE_SIZE)
        self.assertEqual(slab["filp"], 20 * 1 * km.PAGE_SIZE)
        self.assertEqual(slab["sock_inode_cache"], 30 * 4 * km.PAGE_SIZE)
        self.assertEqual(slab["eventpoll_epi"], 40 * km.PAGE_SIZE)
        self.assertNotIn("dentry", slab)

    def test_meminfo_and_memory_stat(self):
        self.assertEqual(km.parse_meminfo(MEMINFO.format(avail=1000)), 1024000)
        self.assertIsNone(km.parse_meminfo("MemTotal: 1 kB\n"))
        stat = km.parse_memory_stat("anon 1\nsock 4096\nslab 8192\nslab_reclaimable 5\n")
        self.assertEqual(stat, {"sock": 4096, "slab": 8192})


class PerConnectionTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.proc = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def snapshot(self, mem_pages, slabs, avail_kb, cgroups=None):
        proc_tree(self.proc, mem_pages, slabs, avail_kb)
        return km.Snapshot(proc=self.proc, cgroups=cgroups)

    def test_machine_wide_counters_give_both_sides_and_say_why_not_each(self):
        before = self.snapshot(100, (10, 20, 30, 40), 2_000_000)
        # 1000 connections: +400 pages of socket buffers, +600 TCP slabs (8 pages each), ...
        after = self.snapshot(500, (610, 120, 530, 90), 1_990_000)
        rec = km.per_connection(before, after, 1000, why_no_sides="no cgroup v2 here")
        page = km.PAGE_SIZE
        self.assertEqual(rec["sockstat_tcp_mem"], round(400 * page / 1000, 1))
        self.assertEqual(rec["slab"]["TCP"], round(600 * 8 * page / 1000, 1))
        self.assertEqual(rec["slab"]["filp"], round(100 * page / 1000, 1))
        self.assertEqual(rec["slab"]["sock_inode_cache"], round(500 * 4 * page / 1000, 1))
        self.assertEqual(rec["slab"]["eventpoll_epi"], round(50 * page / 1000, 1))
        slab = (600 * 8 + 100 + 500 * 4 + 50) * page / 1000
        self.assertAlmostEqual(rec["slab_total"], slab, places=0)
        self.assertAlmostEqual(rec["both"], slab + 400 * page / 1000, places=0)
        self.assertEqual(rec["mem_available_drop"], 10_000 * 1024 / 1000)
        self.assertEqual(rec["method"], km.METHOD_GLOBAL)
        self.assertIsNone(rec["server"])
        cols = km.csv_columns(rec)
        self.assertEqual(cols["kernel_bytes_per_idle_server"], "")
        self.assertEqual(cols["kernel_bytes_per_idle_holders"], "")
        self.assertEqual(cols["kernel_bytes_per_idle_both"], rec["both"])
        self.assertEqual(cols["kernel_bytes_method"], "global: no cgroup v2 here")

    def test_cgroups_split_the_sides_and_the_rest_is_unattributed(self):
        cg = FakeCgroups(os.path.join(self.proc, "cg"))
        cg.write("server", sock=0, slab=1_000_000, kernel=2_000_000)
        cg.write("holders", sock=0, slab=500_000, kernel=900_000)
        before = self.snapshot(0, (10, 20, 30, 40), 2_000_000, cgroups=cg)
        cg.write("server", sock=200_000, slab=3_000_000, kernel=5_500_000)
        cg.write("holders", sock=100_000, slab=4_500_000, kernel=5_000_000)
        after = self.snapshot(0, (610, 120, 530, 90), 1_990_000, cgroups=cg)
        rec = km.per_connection(before, after, 1000)
        self.assertEqual(rec["method"], km.METHOD_CGROUP)
        self.assertEqual(rec["server"]["sock"], 200.0)
        self.assertEqual(rec["server"]["slab"], 2000.0)
        self.assertEqual(rec["server"]["kernel"], 3500.0)
        self.assertEqual(rec["server"]["total"], 2200.0)  # sock + slab, like `both`
        self.assertEqual(rec["holders"]["total"], 4100.0)
        self.assertAlmostEqual(rec["unattributed"], rec["both"] - 2200.0 - 4100.0, places=1)
        cols = km.csv_columns(rec)
        self.assertEqual(cols["kernel_bytes_per_idle_server"], 2200.0)
        self.assertEqual(cols["kernel_bytes_per_idle_holders"], 4100.0)
        self.assertEqual(cols["kernel_bytes_method"], "cgroup")

    def test_nothing_held_is_no_record(self):
        s = self.snapshot(0, (1, 1, 1, 1), 1)
        self.assertIsNone(km.per_connection(s, s, 0))
        self.assertEqual(km.csv_columns(None)["kernel_bytes_method"], "")


class CgroupRootTest(unittest.TestCase):
    def test_a_v2_hierarchy_without_memory_is_said(self):
        with tempfile.TemporaryDirectory() as root:
            with open(os.path.join(root, "cgroup.controllers"), "w") as f:
                f.write("cpu io pids\n")
            mounts = f"cgroup2 {root} cgroup2 rw 0 0\n"
            path, why = km.cgroup2_root(mounts)
            self.assertIsNone(path)
            self.assertIn("no memory controller", why)
            with open(os.path.join(root, "cgroup.controllers"), "w") as f:
                f.write("cpu memory pids\n")
            self.assertEqual(km.cgroup2_root(mounts), (root, None))
        self.assertIn("no cgroup v2", km.cgroup2_root("proc /proc proc rw 0 0\n")[1])


if __name__ == "__main__":
    unittest.main()
