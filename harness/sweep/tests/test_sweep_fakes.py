"""The sweep driver against fake servers and a fake loadgen: every expected row, in a valid CSV,
whatever fails."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

from harness.common.runs_csv import HOSTILE_COLUMNS
from harness.sweep.tests.sweep_test_support import (
    BENCH_COLUMNS,
    LOADGEN_COLUMNS,
    FAST,
    ROOT,
    SWEEP,
    SweepRun,
    expected_keys,
    make_fake_bin,
    run_sweep,
)


class FakeSweepTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sweep-test-")
        self.bin = make_fake_bin(
            os.path.join(self.tmp, "bin"), ("chat-select", "chat-poll", "chat-epoll", "chat-uring")
        )

    def tearDown(self):
        leftovers = [
            pid
            for pid in os.listdir("/proc")
            if pid.isdigit() and self.tmp.encode() in _cmdline(pid)
        ]
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.assertEqual(leftovers, [], "processes of the test still running")

    def test_hostile_phase_follows_each_zero_idle_pingpong(self):
        run = run_sweep(
            self.bin,
            FAST[:-2]
            + "--mechanisms select,epoll-lt --counts 0,20 --repeats 3".split()
            + ["--modes", "pingpong,flood"],
        )
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(run.env["hostile"], 12)
        measured = run.measured()
        hostile = [r for r in measured if r["hostile"] not in ("", "0")]
        # One per mechanism and repeat, at 0 idle in ping-pong only.
        self.assertEqual(
            sorted((r["mechanism"], r["repeat"]) for r in hostile),
            sorted((m, str(rep)) for m in ("select", "epoll-lt") for rep in (1, 2, 3)),
        )
        for r in hostile:
            self.assertEqual((r["idle"], r["mode"], r["hostile"]), ("0", "pingpong", "12"))
            self.assertEqual(r["bench_status"], "ok")
            # Right after the honest run it is paired with, on the same server instance.
            before = next(b for b in run.rows if int(b["run_id"]) == int(r["run_id"]) - 1)
            self.assertEqual(
                (before["mechanism"], before["idle"], before["mode"], before["repeat"]),
                (r["mechanism"], "0", "pingpong", r["repeat"]),
            )
            self.assertIn(before["hostile"], ("", "0"))
            self.assertEqual(before["server_started_utc"], r["server_started_utc"])
        # Everything else is as without the phase.
        honest = [r for r in measured if r not in hostile]
        self.assertEqual(
            sorted((r["mechanism"], int(r["idle"]), r["mode"], int(r["repeat"])) for r in honest),
            expected_keys(["select", "epoll-lt"], [0, 20], ["pingpong", "flood"], 3),
        )
        self.assertIn("= 30 runs (6 with --hostile 12 at idle 0)", run.stderr)

    def test_tiny_sweep_writes_every_expected_row(self):
        run = run_sweep(
            self.bin,
            FAST
            + (
                "--mechanisms select,epoll-lt,uring --counts 0,20,60 "
                "--repeats 2 --modes pingpong,flood"
            ).split(),
            env={"FAKE_UNAVAILABLE": "1", "FAKE_FD_SETSIZE": "40"},
        )
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assert_contract_columns(run)
        self.assertEqual(
            run.keys(),
            expected_keys(["select", "epoll-lt", "uring"], [0, 20, 60], ["pingpong", "flood"], 2),
        )
        self.assert_floors_at_start_and_end(run)
        self.assertEqual(
            sorted(int(r["run_id"]) for r in run.rows), list(range(1, len(run.rows) + 1))
        )
        by = {
            (r["mechanism"], int(r["idle"]), r["mode"], int(r["repeat"])): r for r in run.measured()
        }
        for mode in ("pingpong", "flood"):
            for count in (0, 20, 60):
                for repeat in (1, 2):
                    ok = by["epoll-lt", count, mode, repeat]
                    self.assertEqual(ok["bench_status"], "ok")
                    self.assertEqual(ok["idle_open"], str(count))
                    self.assertEqual(ok["floor_p50_us"], "12.5")
                    self.assertEqual(ok["placement"], run.env["placement"]["placement"])
                    self.assertEqual(float(ok["server_fds_per_wait"]), count + 3)
                    self.assertEqual(
                        by["uring", count, mode, repeat]["bench_status"], "unavailable"
                    )
            # select past its (fake) FD_SETSIZE: one refused run, then skipped repeats.
            self.assertEqual(by["select", 20, mode, 2]["bench_status"], "ok")
            refused = by["select", 60, mode, 1]
            self.assertEqual(refused["bench_status"], "refused:FD_SETSIZE")
            self.assertEqual(refused["idle_refused"], "20")
            self.assertEqual(refused["idle_open"], "40")
            self.assertEqual(refused["refused"], "21")
            self.assertTrue(by["select", 60, mode, 2]["bench_status"].startswith("skipped:"))
        self.assertEqual(run.env["counts"], [0, 20, 60])
        self.assertIn("rlimit_nofile", run.env["machine"])
        self.assertIn("commit", run.env["git"])

    def assert_contract_columns(self, run):
        """Contract columns first and in order, the loadgen's extra columns kept, then the
        bench's."""
        self.assertEqual(run.header[: len(LOADGEN_COLUMNS)], LOADGEN_COLUMNS)
        self.assertEqual(
            run.header[len(LOADGEN_COLUMNS) : -len(BENCH_COLUMNS)],
            ["fake_extra"]
            + HOSTILE_COLUMNS
            + ["server_cpu_pct", "bound_by", "server_capacity_msgs_s", "max_send_lag_us"],
        )
        self.assertEqual(run.header[-len(BENCH_COLUMNS) :], BENCH_COLUMNS)

    def assert_floors_at_start_and_end(self, run):
        """Three runs of each floor at the start and at the end, the kinds interleaved; the other
        placement's once."""
        floors = [r for r in run.rows if r["mechanism"] == "floor"]
        self.assertEqual([r["label"] for r in floors][:2], ["floor-start", "relay-start"])
        self.assertEqual([r["label"] for r in floors][-2:], ["floor-end", "relay-end"])
        labels = [r["label"] for r in floors]
        for label in ("floor-start", "relay-start", "floor-end", "relay-end"):
            self.assertEqual(labels.count(label), 3, labels)
        self.assertEqual(labels[:6], ["floor-start", "relay-start"] * 3)

    def test_every_active_count_is_a_point_and_skipped_rows_say_which(self):
        run = run_sweep(
            self.bin,
            FAST
            + "--mechanisms select,epoll-lt --counts 0,60 --repeats 2 --modes pingpong".split()
            + ["--active-counts", "2,8"],
            env={"FAKE_FD_SETSIZE": "40"},
        )
        self.assertEqual(run.returncode, 0, run.stderr)
        by = {
            (r["mechanism"], int(r["idle"]), r["active"], int(r["repeat"])): r["bench_status"]
            for r in run.measured()
        }
        self.assertEqual(len(by), len(run.measured()))  # one row per (point, active, repeat)
        for active in ("2", "8"):
            for count in (0, 60):
                self.assertEqual(by["epoll-lt", count, active, 2], "ok")
            self.assertEqual(by["select", 60, active, 1], "refused:FD_SETSIZE")
            self.assertTrue(by["select", 60, active, 2].startswith("skipped:"))
        self.assertEqual(run.env["active_counts"], [2, 8])

    def test_repeats_rotate_the_first_mechanism(self):
        run = run_sweep(
            self.bin,
            FAST
            + "--mechanisms select,poll,epoll-lt --counts 0 --repeats 3 --modes pingpong".split(),
        )
        self.assertEqual(run.returncode, 0, run.stderr)
        order = [
            (int(r["repeat"]), r["mechanism"])
            for r in sorted(run.measured(), key=lambda r: int(r["run_id"]))
        ]
        firsts = [m for i, (rep, m) in enumerate(order) if i % 3 == 0]
        self.assertEqual(firsts, ["select", "poll", "epoll-lt"])

    def test_crashed_server_becomes_status_rows_and_the_sweep_goes_on(self):
        # Every poll server dies at its 2nd /stats: the flood run after its pingpong run. Each
        # repeat starts a fresh server, so a crash ends its own instance only, and the pingpong
        # run of the next repeat is ok again.
        run = run_sweep(
            self.bin,
            FAST
            + "--mechanisms poll,epoll-lt --counts 0,20 --repeats 2 --modes pingpong,flood".split(),
            env={"FAKE_CRASH": "poll:2"},
        )
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(
            run.keys(), expected_keys(["poll", "epoll-lt"], [0, 20], ["pingpong", "flood"], 2)
        )
        for r in run.measured():
            if r["mechanism"] == "epoll-lt" or r["mode"] == "pingpong":
                self.assertEqual(r["bench_status"], "ok", r)
            else:
                self.assertEqual(r["bench_status"], "server-crashed", r)
        self.assertIn("crashed", run.stderr)

    def test_failing_loadgen_becomes_a_status_row(self):
        run = run_sweep(
            self.bin,
            FAST
            + (
                "--mechanisms select,epoll-lt --counts 0,20 --repeats 1 --modes pingpong,flood"
            ).split(),
            env={"FAKE_LOADGEN_FAIL": "epoll-lt:flood"},
        )
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(len(run.measured()), 8)
        for r in run.measured():
            if (r["mechanism"], r["mode"]) == ("epoll-lt", "flood"):
                self.assertTrue(r["bench_status"].startswith("error:loadgen exit 3"), r)
                self.assertIn("forced failure", r["bench_status"])
                self.assertEqual(r["p50_us"], "")
            else:
                self.assertEqual(r["bench_status"], "ok", r)

    def test_holds_that_fail_together_fall_back_to_one_server_at_a_time(self):
        run = run_sweep(
            self.bin,
            FAST
            + "--mechanisms poll,epoll-lt --counts 0,20,30 --repeats 2 --modes pingpong".split(),
            env={
                "FAKE_HOLD_EXCLUSIVE": os.path.join(self.tmp, "hold.lock"),
                "FAKE_HOLD_EXCLUSIVE_FROM": "30",
            },
        )
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(
            run.keys(), expected_keys(["poll", "epoll-lt"], [0, 20, 30], ["pingpong"], 2)
        )
        for r in run.measured():
            self.assertEqual(r["bench_status"], "ok", r)
            self.assertEqual(r["idle_open"], r["idle"], r)
        self.assertIn("one server at a time", run.stderr)
        self.assertTrue(any("one server at a time" in n for n in run.env["notes"]))

    def test_missing_programs_are_named(self):
        os.unlink(os.path.join(self.bin, "loadgen"))
        run = run_sweep(self.bin, FAST)
        self.assertEqual(run.returncode, 2)
        self.assertIn("no loadgen at", run.stderr)
        empty = os.path.join(self.tmp, "empty")
        make_fake_bin(empty, servers=())
        run = run_sweep(empty, FAST)
        self.assertEqual(run.returncode, 2)
        self.assertIn("no server binaries", run.stderr)
        make_fake_bin(self.bin)
        run = run_sweep(self.bin, FAST + ["--mechanisms", "poll,kqueue"])
        self.assertEqual(run.returncode, 2)
        self.assertIn("kqueue", run.stderr)

    def test_a_named_folder_is_never_overwritten(self):
        args = FAST + "--mechanisms poll --counts 0 --repeats 1 --modes pingpong".split()
        out = os.path.join(self.tmp, "out")
        first = run_sweep(self.bin, args, out_root=out)
        self.assertEqual(first.returncode, 0, first.stderr)
        second = run_sweep(self.bin, args, out_root=out)
        self.assertEqual(second.returncode, 2)
        self.assertIn("already holds a run", second.stderr)
        self.assertEqual(len(second.rows), len(first.rows))

    def test_dry_run_prints_the_plan_and_writes_nothing(self):
        run = run_sweep(self.bin, ["--dry-run"])
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertIn("largest idle count", run.stderr)
        self.assertIn("capped by RLIMIT_NOFILE", run.stderr)
        self.assertIn("estimated", run.stderr)
        self.assertFalse(os.path.exists(run.out_dir))

    def test_interrupt_keeps_a_valid_partial_csv(self):
        out = os.path.join(self.tmp, "out")
        env = dict(os.environ, FAKE_LOADGEN_SLEEP="0.3")
        proc = subprocess.Popen(
            self.sweep_command(
                out,
                (
                    "--mechanisms poll,epoll-lt --counts 0,20 --repeats 5 "
                    "--warmup 0.01 --duration 0.01"
                ).split(),
            ),
            stderr=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        runs = os.path.join(out, "run", "runs.csv")
        deadline = time.monotonic() + 60
        # Interrupt while idle connections are held: after a few runs at idle=20.
        while time.monotonic() < deadline:
            if _count_rows(runs, ("poll", "epoll-lt")) >= 23:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 130, err)
        run = SweepRun(subprocess.CompletedProcess([], 130, "", err), os.path.join(out, "run"))
        self.assertEqual(run.header[: len(LOADGEN_COLUMNS)], LOADGEN_COLUMNS)
        self.assertGreaterEqual(len(run.measured()), 23)
        self.assertLess(len(run.measured()), 40)
        for r in run.measured():
            self.assertEqual(r["bench_status"], "ok", r)
            self.assertEqual(r["idle_open"], r["idle"], r)
        self.assertTrue(run.env["interrupted"])

    def sweep_command(self, out, args):
        """The sweep on the fake programs into out/run, without plots and micro-benchmarks."""
        return (
            [sys.executable, *SWEEP, "--bin", self.bin, "--root", ROOT, "--out", out]
            + ["--name", "run", "--no-plots", "--no-micro"]
            + list(args)
        )

    def interrupted_sweep(self, args, env, ready):
        """Starts a sweep, sends it SIGINT once ready(runs_csv_path) is true, returns the run."""
        out = os.path.join(self.tmp, "out")
        proc = subprocess.Popen(
            self.sweep_command(out, args),
            stderr=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=dict(os.environ, **env),
            cwd=ROOT,
        )
        runs = os.path.join(out, "run", "runs.csv")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None and not ready(runs):
            time.sleep(0.05)
        self.assertIsNone(proc.poll(), "the sweep ended before it could be interrupted")
        self.assertTrue(ready(runs), "the sweep never reached the point to interrupt")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 130, err)
        return SweepRun(subprocess.CompletedProcess([], 130, "", err), os.path.join(out, "run"))

    def test_interrupt_during_a_request_keeps_the_idle_connections(self):
        # Ctrl-C while a run has its /stats reply unread: killing that run resets its connection.
        # The server drops that client and keeps the idle ones, so the runs already finished at
        # this count keep their ok and the hold's count of open idle connections.
        stalled = os.path.join(self.tmp, "stalled")
        run = self.interrupted_sweep(
            FAST
            + "--mechanisms poll,epoll-lt --counts 20 --repeats 2 --modes pingpong,flood".split(),
            {"FAKE_LOADGEN_STALL": "flood:" + stalled},
            lambda runs: os.path.exists(stalled),
        )
        self.assertEqual(run.keys(), [("poll", 20, "pingpong", 1)])
        row = run.measured()[0]
        self.assertEqual(row["bench_status"], "ok", row)
        self.assertEqual(row["idle_open"], "20", row)
        self.assertTrue(run.env["interrupted"])
        self.assertFalse([n for n in run.env["notes"] if "exited" in n], run.env["notes"])

    def test_a_server_dying_at_interrupt_does_not_make_its_runs_idle_lost(self):
        # The server dies while the sweep stops the run in flight, so its idle connections are
        # closed before the hold counts them: that says nothing about the finished runs, whose
        # idle_open becomes unknown (not idle-lost), with a note saying why.
        stalled = os.path.join(self.tmp, "stalled")
        run = self.interrupted_sweep(
            FAST + "--mechanisms poll --counts 20 --repeats 2 --modes pingpong,flood".split(),
            {"FAKE_LOADGEN_STALL": "flood:" + stalled, "FAKE_LOADGEN_TERM_KILLS_SERVER": "1"},
            lambda runs: os.path.exists(stalled),
        )
        self.assertEqual(run.keys(), [("poll", 20, "pingpong", 1)])
        row = run.measured()[0]
        self.assertEqual(row["bench_status"], "ok", row)
        self.assertEqual(row["idle_open"], "", row)
        self.assertTrue(
            any("poll at idle=20 exited" in n and "unknown" in n for n in run.env["notes"]),
            run.env["notes"],
        )

    def test_idle_connections_lost_by_a_live_server_are_reported(self):
        # epoll-lt closes every other client at its first /stats of each count: the hold finds
        # its idle connections closed while the server still runs.
        run = run_sweep(
            self.bin,
            FAST + "--mechanisms poll,epoll-lt --counts 0,20 --repeats 1 --modes pingpong".split(),
            env={"FAKE_DROP_IDLE": "epoll-lt:1"},
        )
        self.assertEqual(run.returncode, 0, run.stderr)
        by = {(r["mechanism"], int(r["idle"])): r for r in run.measured()}
        self.assertEqual(by["epoll-lt", 20]["bench_status"], "idle-lost:20")
        self.assertEqual(by["epoll-lt", 20]["idle_open"], "0")
        for key in (("epoll-lt", 0), ("poll", 0), ("poll", 20)):
            self.assertEqual(by[key]["bench_status"], "ok", by[key])
            self.assertEqual(by[key]["idle_open"], str(key[1]), by[key])

    def test_sparse_modes_run_only_at_their_counts(self):
        # The default preset runs churn at a few idle counts only (here 0 and max), when loadgen
        # offers it.
        args = (
            FAST + "--mechanisms poll,epoll-lt --counts 0,20,max --max-idle 30 --repeats 1".split()
        )
        run = run_sweep(self.bin, args, env={"FAKE_LOADGEN_HELP_MODES": "churn"})
        self.assertEqual(run.returncode, 0, run.stderr)
        mechs = ["poll", "epoll-lt"]
        self.assertEqual(
            run.keys(),
            sorted(
                expected_keys(mechs, [0, 20, 30], ["pingpong", "flood"], 1)
                + expected_keys(mechs, [0, 30], ["churn"], 1)
            ),
        )
        for r in run.measured():
            self.assertEqual(r["bench_status"], "ok", r)
        self.assertEqual(run.env["modes"], ["pingpong", "flood", "churn"])
        self.assertEqual(run.env["modes_by_count"]["20"], ["pingpong", "flood"])
        self.assertEqual(run.env["modes_by_count"]["30"], ["pingpong", "flood", "churn"])
        self.assertIn("at idle 0,30 only", run.stderr)
        # A loadgen without churn: no churn rows, and the sweep says why.
        run = run_sweep(self.bin, args)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(run.keys(), expected_keys(mechs, [0, 20, 30], ["pingpong", "flood"], 1))
        self.assertIn("mode churn skipped", run.stderr)


def _count_rows(path, mechanisms):
    try:
        with open(path) as f:
            return sum(1 for line in f if line.split(",", 1)[0] in mechanisms)
    except OSError:
        return 0


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


if __name__ == "__main__":
    unittest.main()
