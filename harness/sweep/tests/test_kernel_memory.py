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


class FakeCgroups(km.SideCgroups):
    """cgroup v2 side cgroups made in a plain directory; the test writes their memory.stat."""

    def __init__(self, base):
        super().__init__(os.path.dirname(base), os.path.basename(base))

    def write(self, side, sock, slab, kernel):
        with open(os.path.join(self.base, side, "memory.stat"), "w") as f:
            f.write(f"anon 4096\nfile 0\nkernel {kernel}\nsock {sock}\nslab {slab}\nslab_x 1\n")


class FakeCgroupsV1(km.SideCgroupsV1):
    """cgroup v1 side cgroups made in a plain directory; the test writes their kmem counters."""

    def __init__(self, base):
        super().__init__(os.path.dirname(base), os.path.basename(base))

    def write(self, side, kmem, tcp):
        for name, value in (("kmem.usage_in_bytes", kmem), ("kmem.tcp.usage_in_bytes", tcp)):
            with open(os.path.join(self.base, side, "memory." + name), "w") as f:
                f.write(f"{value}\n")


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

    def test_cgroup_v1_sides_are_kmem_plus_tcp(self):
        cg = FakeCgroupsV1(os.path.join(self.proc, "cg"))
        cg.write("server", kmem=1_000_000, tcp=0)
        cg.write("holders", kmem=2_000_000, tcp=4096)
        before = self.snapshot(0, (10, 20, 30, 40), 2_000_000, cgroups=cg)
        cg.write("server", kmem=4_000_000, tcp=409_600)
        cg.write("holders", kmem=6_500_000, tcp=4096)
        after = self.snapshot(0, (610, 120, 530, 90), 1_990_000, cgroups=cg)
        rec = km.per_connection(before, after, 1000)
        self.assertEqual(rec["method"], km.METHOD_CGROUP_V1)
        self.assertEqual(rec["server"], {"kmem": 3000.0, "tcp": 409.6, "total": 3409.6})
        self.assertEqual(rec["holders"], {"kmem": 4500.0, "tcp": 0.0, "total": 4500.0})
        self.assertAlmostEqual(rec["unattributed"], rec["both"] - 3409.6 - 4500.0, places=1)
        cols = km.csv_columns(rec)
        self.assertEqual(cols["kernel_bytes_per_idle_server"], 3409.6)
        self.assertEqual(cols["kernel_bytes_per_idle_holders"], 4500.0)
        self.assertEqual(cols["kernel_bytes_method"], "cgroup-v1")

    def test_cgroup_v1_without_tcp_accounting_counts_kmem_alone(self):
        cg = FakeCgroupsV1(os.path.join(self.proc, "cg"))
        cg.tcp_active = False
        cg.write("server", kmem=0, tcp=999)
        cg.write("holders", kmem=0, tcp=999)
        before = self.snapshot(0, (1, 1, 1, 1), 1, cgroups=cg)
        cg.write("server", kmem=2_000_000, tcp=999_999)
        cg.write("holders", kmem=3_000_000, tcp=999_999)
        after = self.snapshot(0, (1, 1, 1, 1), 1, cgroups=cg)
        rec = km.per_connection(before, after, 1000)
        self.assertEqual(rec["server"], {"kmem": 2000.0, "total": 2000.0})
        self.assertIn("could not be turned on", cg.describe())

    def test_cgroup_v1_kmem_that_did_not_move_means_no_sides(self):
        cg = FakeCgroupsV1(os.path.join(self.proc, "cg"))
        for side in ("server", "holders"):
            cg.write(side, kmem=0, tcp=0)
        before = self.snapshot(0, (10, 20, 30, 40), 2_000_000, cgroups=cg)
        cg.write("server", kmem=0, tcp=409_600)  # sockets accounted, kernel objects not
        after = self.snapshot(0, (610, 120, 530, 90), 1_990_000, cgroups=cg)
        rec = km.per_connection(before, after, 1000)
        self.assertEqual(rec["method"], km.METHOD_GLOBAL)
        self.assertIsNone(rec["server"])
        self.assertIn("kmem counters did not move", rec["why_no_sides"])
        self.assertIn("nokmem", km.csv_columns(rec)["kernel_bytes_method"])

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


V1_MOUNTS = (
    "tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0\n"
    "cgroup {root}/cpu cgroup rw,relatime,cpu 0 0\n"
    "cgroup {root}/memory cgroup rw,relatime,memory 0 0\n"
    "cgroup2 {root}/unified cgroup2 rw,relatime 0 0\n"
)
V1_SELF = "5:devices:/\n4:memory:{own}\n1:cpu:/\n0::/\n"


class CgroupV1Test(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = self.tmp.name
        self.mounts = V1_MOUNTS.format(root=self.root)

    def tearDown(self):
        self.tmp.cleanup()

    def cgroup_dir(self, rel):
        path = os.path.join(self.root, "memory", rel)
        os.makedirs(path, exist_ok=True)
        open(os.path.join(path, "memory.kmem.usage_in_bytes"), "w").close()
        return path

    def parent(self, own, cmdline="quiet"):
        return km.cgroup1_memory_parent(self.mounts, V1_SELF.format(own=own), cmdline)

    def test_the_parent_is_the_sweeps_own_memory_cgroup(self):
        self.cgroup_dir("")
        own = self.cgroup_dir("process_api/abc")
        self.assertEqual(self.parent("/process_api/abc"), (own, None))
        self.assertEqual(self.parent("/"), (os.path.join(self.root, "memory"), None))

    def test_a_cgroup_outside_the_mount_falls_back_to_the_mount(self):
        # A container's mount whose root is its own cgroup: /proc/self/cgroup names a path the
        # mount does not show.
        self.cgroup_dir("")
        self.assertEqual(self.parent("/docker/xyz"), (os.path.join(self.root, "memory"), None))

    def test_why_not(self):
        self.cgroup_dir("")
        self.assertIn("nokmem", self.parent("/", "quiet cgroup.memory=nosocket,nokmem")[1])
        self.assertIsNone(self.parent("/", "cgroup.memory=nosocket")[1])
        os.remove(os.path.join(self.root, "memory", "memory.kmem.usage_in_bytes"))
        self.assertIn("no kmem counters", self.parent("/")[1])
        no_v1 = f"cgroup2 {self.root}/unified cgroup2 rw 0 0\n"
        self.assertIn("no cgroup v1 memory", km.cgroup1_memory_parent(no_v1, "", "")[1])

    def test_sides_turn_tcp_accounting_on_and_are_removed_once_empty(self):
        parent = self.cgroup_dir("")
        cg = km.SideCgroupsV1(parent, "muxbench-1")
        self.assertTrue(cg.tcp_active)
        for side, path in cg.paths().items():
            with open(os.path.join(path, "memory.kmem.tcp.limit_in_bytes")) as f:
                self.assertEqual(f.read(), "-1")
        self.assertEqual(cg.procs_file("server"), os.path.join(cg.base, "server", "cgroup.procs"))
        # A plain directory keeps its files, where cgroupfs drops them: not empty, left.
        self.assertEqual(len(cg.close(wait_s=0)), 3)
        for path in cg.paths().values():
            os.remove(os.path.join(path, "memory.kmem.tcp.limit_in_bytes"))
        self.assertEqual(cg.close(wait_s=0), [])
        self.assertFalse(os.path.exists(cg.base))


if __name__ == "__main__":
    unittest.main()
