"""ctest: mux-micro's smoke run and select refusal, micro_to_csv.py, and mux-probe's output.

Run by ctest with MUXBENCH_BIN pointing at build/bin (see harness/micro/CMakeLists.txt), or by
hand:  MUXBENCH_BIN=build/bin python3 -m unittest -v harness.micro.tests.test_micro  (from the
repository root).
Standard library only. Tests assert behaviour (names, statuses, columns), never timings.
"""

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
CONVERTER = ["-m", "harness.micro.micro_to_csv"]  # run with cwd=ROOT, the import root
SAMPLE = os.path.join(HERE, "sample_micro.json")
COLUMNS = (
    "benchmark,family,mechanism,watched,ready,repetitions,ns_per_call_median,"
    "ns_per_call_min,ns_per_call_max,ns_per_watched_fd,events_per_call,status,"
    "ns_per_call_q25,ns_per_call_q75,ns_per_call_repeats,sockets,active,writes,label"
).split(",")


def binary(name):
    path = os.path.join(os.environ.get("MUXBENCH_BIN", ""), name)
    if not os.access(path, os.X_OK):
        raise unittest.SkipTest(f"{path} is not built (set MUXBENCH_BIN to build/bin)")
    return path


def run(cmd, timeout=120):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def convert(json_path, csv_path):
    r = run([sys.executable, *CONVERTER, json_path, csv_path])
    if r.returncode != 0:
        raise AssertionError(f"micro_to_csv.py failed: {r.stderr}")
    with open(csv_path, newline="") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, list(reader)


class Tmp(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="muxmicro-")
        self.addCleanup(shutil.rmtree, self.dir, True)


class MicroSmoke(Tmp):
    """Each family once, at a tiny N, for a minimal time: the output parses and says ok."""

    FILTER = (
        "^(wait/[a-z-]+/ready:1/watched:4/|ready/[a-z-]+/watched:1000/ready:2/"
        "|build/[a-z-]+/ready:1/watched:4$|ctl/[a-z-]+/watched:4/|uring/uring/ready:1/watched:4/"
        "|shared/poll/sockets:2/ready:1/watched:4/)"
    )

    def test_every_family_runs_and_converts(self):
        out = os.path.join(self.dir, "micro.json")
        r = run(
            [
                binary("mux-micro"),
                "--watched=4",
                "--ready=2",
                "--shared-sockets=2",
                "--benchmark_min_time=0.001",
                "--benchmark_repetitions=1",
                "--benchmark_filter=" + self.FILTER,
                "--benchmark_out=" + out,
                "--benchmark_out_format=json",
            ]
        )
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out) as f:
            doc = json.load(f)
        self.assertIn("max_watched_limited_by", doc["context"])
        self.assertIn("RLIMIT_NOFILE", doc["context"]["max_watched_limited_by"])
        runs = {b["run_name"]: b for b in doc["benchmarks"] if b.get("run_type") == "iteration"}
        expected = [
            f"wait/{m}/ready:1/watched:4/manual_time"
            for m in ("select", "poll", "epoll-lt", "epoll-et")
        ]
        expected += [
            f"ready/{m}/watched:1000/ready:2/manual_time"
            for m in ("select", "poll", "epoll-lt", "epoll-et")
        ]
        expected += [f"build/{m}/ready:1/watched:4" for m in ("select", "poll", "poll-rebuild")]
        expected += [f"ctl/epoll-ctl-{op}/watched:4/manual_time" for op in ("add", "mod", "del")]
        # 4 pollfd entries naming 2 sockets, one more entry the ready socket: 1 event per call
        expected += ["shared/poll/sockets:2/ready:1/watched:4/manual_time"]
        for name in expected:
            self.assertIn(name, runs)
            b = runs[name]
            self.assertFalse(b.get("error_occurred"), f"{name}: {b.get('error_message')}")
            self.assertGreater(b["ns_per_call"], 0, name)
        for name in expected[:8] + expected[-1:]:
            want = 2 if name.startswith("ready/") else 1
            self.assertEqual(runs[name]["events_per_call"], want, name)
        uring = runs.get("uring/uring/ready:1/watched:4/manual_time")
        if doc["context"]["io_uring"].startswith("available"):
            self.assertIsNotNone(uring)
            self.assertFalse(uring.get("error_occurred"), uring.get("error_message"))
            self.assertEqual(uring["events_per_call"], 1)
        elif uring is not None:
            self.assertIn("io_uring unavailable", uring.get("error_message", ""))
        self.assert_csv_rows(out, expected)

    def assert_csv_rows(self, out, expected):
        """micro.json converted: a row per benchmark, ok, its family, mechanism and sizes from
        its name."""
        header, rows = convert(out, os.path.join(self.dir, "micro.csv"))
        self.assertEqual(header, COLUMNS)
        by_name = {row["benchmark"]: row for row in rows}
        for name in expected:
            row = by_name[name]
            self.assertEqual(row["status"], "ok", name)
            self.assertEqual(row["repetitions"], "1", name)
            self.assertGreater(float(row["ns_per_call_median"]), 0, name)
        row = by_name["shared/poll/sockets:2/ready:1/watched:4/manual_time"]
        self.assertEqual((row["family"], row["sockets"], row["watched"]), ("shared", "2", "4"))
        self.assertEqual(len(row["ns_per_call_repeats"].split(";")), 1)
        row = by_name["wait/epoll-et/ready:1/watched:4/manual_time"]
        self.assertEqual(
            (row["family"], row["mechanism"], row["watched"], row["ready"]),
            ("wait", "epoll-et", "4", "1"),
        )
        row = by_name["ready/poll/watched:1000/ready:2/manual_time"]
        self.assertEqual(
            (row["family"], row["mechanism"], row["watched"], row["ready"]),
            ("ready", "poll", "1000", "2"),
        )

    def test_own_flags_are_validated(self):
        r = run([binary("mux-micro"), "--watched=10,x"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("--watched=10,x", r.stderr)


class SelectRefusal(Tmp):
    """select past FD_SETSIZE is skipped with an error naming the limit, never run."""

    def run_select(self, watched):
        out = os.path.join(self.dir, "micro.json")
        r = run(
            [
                binary("mux-micro"),
                f"--watched={watched}",
                "--benchmark_min_time=0.001",
                "--benchmark_repetitions=1",
                "--benchmark_filter=^(wait|build)/select/ready:1/",
                "--benchmark_out=" + out,
                "--benchmark_out_format=json",
            ]
        )
        self.assertEqual(r.returncode, 0, f"mux-micro died (status {r.returncode}): {r.stderr}")
        with open(out) as f:
            return json.load(f)

    def test_n_over_fd_setsize_is_refused(self):
        doc = self.run_select("1500")
        runs = [b for b in doc["benchmarks"] if b.get("run_type") == "iteration"]
        self.assertEqual(len(runs), 2)
        for b in runs:
            self.assertTrue(b.get("error_occurred"), b["run_name"])
            self.assertIn("FD_SETSIZE is 1024", b["error_message"])
            self.assertEqual(b.get("iterations", 0), 0, "a refused benchmark must not iterate")

    def test_descriptor_numbers_past_fd_setsize_are_refused(self):
        # N = FD_SETSIZE: fewer than N numbers are free below 1024 (stdio at least), so the
        # highest watched descriptor would be >= 1024 even though N itself is not over.
        doc = self.run_select("1024")
        runs = [b for b in doc["benchmarks"] if b.get("run_type") == "iteration"]
        self.assertEqual(len(runs), 2)
        for b in runs:
            self.assertTrue(b.get("error_occurred"), b["run_name"])
            self.assertIn("FD_SETSIZE", b["error_message"])

    def test_a_refusal_beside_a_measurement(self):
        doc = self.run_select("10,1500")
        runs = {b["run_name"]: b for b in doc["benchmarks"] if b.get("run_type") == "iteration"}
        self.assertFalse(runs["wait/select/ready:1/watched:10/manual_time"].get("error_occurred"))
        self.assertTrue(runs["wait/select/ready:1/watched:1500/manual_time"].get("error_occurred"))


class MicroToCsv(Tmp):
    def test_sample_gives_the_fixed_columns_and_aggregates(self):
        header, rows = convert(SAMPLE, os.path.join(self.dir, "micro.csv"))
        self.assertEqual(header, COLUMNS)
        self.assertEqual(len(rows), 5)
        r = rows[0]
        self.assertEqual(
            (r["family"], r["mechanism"], r["watched"], r["ready"]), ("wait", "poll", "10", "1")
        )
        self.assertEqual(r["repetitions"], "3")
        self.assertEqual(
            (
                float(r["ns_per_call_median"]),
                float(r["ns_per_call_min"]),
                float(r["ns_per_call_max"]),
            ),
            (1000.0, 900.0, 1200.0),
        )
        self.assertEqual(float(r["ns_per_watched_fd"]), 100.0)
        self.assertEqual(r["status"], "ok")
        # every repetition kept, in run order, and the quartiles between them
        self.assertEqual([float(v) for v in r["ns_per_call_repeats"].split(";")], [900, 1000, 1200])
        self.assertEqual((float(r["ns_per_call_q25"]), float(r["ns_per_call_q75"])), (950, 1100))
        r = rows[1]  # no counters: real_time in microseconds, converted
        self.assertEqual(
            (
                float(r["ns_per_call_median"]),
                float(r["ns_per_call_min"]),
                float(r["ns_per_call_max"]),
            ),
            (8500.0, 8000.0, 9000.0),
        )
        self.assertEqual(float(r["ns_per_watched_fd"]), 85.0)
        r = rows[2]
        self.assertEqual((r["mechanism"], r["watched"], r["repetitions"]), ("select", "2000", "0"))
        self.assertIn("FD_SETSIZE is 1024", r["status"])
        self.assertEqual(r["ns_per_call_median"], "")
        r = rows[3]
        self.assertEqual(
            (r["family"], r["mechanism"], r["watched"], r["ready"]),
            ("ready", "epoll-lt", "1000", "16"),
        )
        r = rows[4]
        self.assertEqual(
            (r["family"], r["mechanism"], r["watched"], r["ready"]),
            ("ctl", "epoll-ctl-add", "10", ""),
        )
        self.assertEqual(r["ns_per_watched_fd"], "")

        with open(os.path.join(self.dir, "micro_fit.csv"), newline="") as f:
            fits = list(csv.DictReader(f))
        self.assertEqual(len(fits), 1)
        fit = fits[0]
        self.assertEqual(
            (fit["family"], fit["mechanism"], fit["fixed"], fit["fit_over"], fit["big_o"]),
            ("wait", "poll", "ready:1", "watched", "N"),
        )
        self.assertAlmostEqual(float(fit["coefficient_ns"]), 85.0)
        self.assertAlmostEqual(float(fit["rms_pct"]), 5.0)
        self.assertAlmostEqual(float(fit["ols_slope_ns"]), 7500 / 90, places=3)
        self.assertAlmostEqual(float(fit["ols_intercept_ns"]), 1000 - 7500 / 9, places=2)

    def test_a_run_cut_short_keeps_its_complete_entries(self):
        with open(SAMPLE) as f:
            text = f.read()
        cut = text.index('{"name": "wait/select/ready:1/watched:2000')
        path = os.path.join(self.dir, "cut.json")
        with open(path, "w") as f:
            f.write(text[: cut + 40])
        _, rows = convert(path, os.path.join(self.dir, "micro.csv"))
        self.assertEqual([r["watched"] for r in rows], ["10", "100"])

    def test_garbage_is_an_error_not_an_empty_csv(self):
        path = os.path.join(self.dir, "bad.json")
        with open(path, "w") as f:
            f.write("not json")
        r = run([sys.executable, *CONVERTER, path, os.path.join(self.dir, "micro.csv")])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("bad.json", r.stderr)


class ChainSmoke(Tmp):
    """The chain family (libevent's benchmark method) on every backend at a tiny size: each runs
    (or, for libevent without libevent-dev, says how to install it) and converts to micro.csv."""

    OURS = ("select", "poll", "epoll-lt")
    LIBEVENT = ("libevent-select", "libevent-poll", "libevent-epoll")

    def test_every_backend_runs_and_converts(self):
        out = os.path.join(self.dir, "micro.json")
        r = run(
            [
                binary("mux-micro"),
                "--chain-watched=8",
                "--chain-writes=20",
                "--benchmark_min_time=0.001",
                "--benchmark_repetitions=1",
                "--benchmark_filter=^chain/",
                "--benchmark_out=" + out,
                "--benchmark_out_format=json",
            ]
        )
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out) as f:
            doc = json.load(f)
        self.assertEqual(doc["context"]["chain_writes"], "20")
        libevent = not doc["context"]["libevent"].startswith("libevent not installed")
        runs = {b["run_name"]: b for b in doc["benchmarks"] if b.get("run_type") == "iteration"}
        names = {
            m: f"chain/{m}/active:1/writes:20/watched:8/iterations:1/manual_time" for m in self.OURS
        }
        names.update(
            {
                m: f"chain/{m}/active:1/writes:20/watched:8/iterations:1/manual_time"
                for m in self.LIBEVENT
            }
        )
        for mech, name in names.items():
            b = runs[name]
            if mech in self.LIBEVENT and not libevent:
                self.assertIn("apt-get install libevent-dev", b.get("error_message", ""))
                continue
            self.assertFalse(b.get("error_occurred"), f"{name}: {b.get('error_message')}")
            # One byte in flight: one ready descriptor per wait call.
            self.assertEqual(b["events_per_call"], 1, name)
            self.assertGreater(b["ns_per_call"], 0, name)
            backend = mech.removeprefix("libevent-")
            self.assertTrue(b["label"].endswith(backend), b["label"])

        header, rows = convert(out, os.path.join(self.dir, "micro.csv"))
        self.assertEqual(header, COLUMNS)
        by_name = {row["benchmark"]: row for row in rows}
        for mech, name in names.items():
            row = by_name[name]
            self.assertEqual(
                (row["family"], row["mechanism"], row["watched"], row["active"], row["writes"]),
                ("chain", mech, "8", "1", "20"),
            )
            if mech in self.OURS or libevent:
                self.assertEqual(row["status"], "ok", name)

    def test_chain_counts_past_the_open_file_limit_are_refused(self):
        out = os.path.join(self.dir, "micro.json")
        r = run(
            [
                binary("mux-micro"),
                "--chain-watched=10000000",
                "--benchmark_filter=^chain/poll/",
                "--benchmark_repetitions=1",
                "--benchmark_out=" + out,
                "--benchmark_out_format=json",
            ]
        )
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out) as f:
            doc = json.load(f)
        (b,) = [b for b in doc["benchmarks"] if b.get("run_type") == "iteration"]
        self.assertTrue(b.get("error_occurred"))
        self.assertIn("RLIMIT_NOFILE", b["error_message"])
        self.assertIn("two per socketpair", b["error_message"])


class Probe(unittest.TestCase):
    def test_one_json_object_with_linux_semantics(self):
        r = run([binary("mux-probe")])
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.strip().splitlines()
        self.assertEqual(len(lines), 1, "mux-probe must print exactly one JSON line")
        p = json.loads(lines[0])
        self.assertEqual(p["errors"], [])
        self.assertEqual(p["fd_setsize"], 1024)
        for key in (
            "select_lt_reports_again",
            "poll_lt_reports_again",
            "epoll_lt_reports_again",
            "epoll_et_reports_once",
            "epoll_et_reports_new_data",
        ):
            self.assertIs(p[key], True, key)
        self.assertEqual(p["poll_nfds_over_rlimit_errno"], "EINVAL")
        self.assertEqual(p["epoll_fd_mmap_errno"], "ENODEV")
        self.assertEqual(p["epoll_wait_readonly_buffer_errno"], "EFAULT")
        self.assertIsInstance(p["rlimit_nofile"], int)
        self.assertTrue(p["kernel"])
        if p["rlimit_nofile"] > 1024:
            self.assertIs(p["select_syscall_accepts_fd_ge_fdsetsize"], True)
            self.assertGreater(p["poll_watched_max"], 1024)
        self.assertIsInstance(p["io_uring_available"], bool)
        if not p["io_uring_available"]:
            self.assertTrue(p["io_uring_unavailable_reason"])


if __name__ == "__main__":
    unittest.main()
