"""The soak's pass/fail rules on synthetic samples, and the mix's bounds (no server, no loadgen)."""

import unittest

from harness.soak import mix
from harness.soak import verdict


def sample(phase, round_no, fds=6, rss=4000, stats_ok=1, alive=1, error="", peak=None):
    s = {"phase": phase, "round": round_no, "fds": fds, "rss_kib": rss}
    s["rss_peak_kib"] = rss if peak is None else peak
    return s | {"stats_ok": stats_ok, "alive": alive, "stats_error": error}


def healthy_samples(end_fds=6, end_rss=5500, end_peak=9300):
    # RSS the way glibc makes it move: a peak of 9000 KiB in round 1 (the full queues), a quiet
    # RSS that keeps a varying part of it.
    return [
        sample("baseline", 0, fds=6, rss=3000),
        sample("load", 1, fds=430, rss=8000, peak=8000),
        sample("round", 1, fds=7, rss=4700, peak=9000),
        sample("load", 2, fds=431, rss=6100, peak=9100),
        sample("round", 2, fds=6, rss=5200, peak=9200),
        sample("end", 2, fds=end_fds, rss=end_rss, peak=end_peak),
    ]


def row(status="ok", lost=0, duplicated=0, reordered=0, corrupted=0, msgs=100):
    return {"status": status, "lost": str(lost), "duplicated": str(duplicated)} | {
        "reordered": str(reordered),
        "corrupted": str(corrupted),
        "msgs": str(msgs),
    }


def run(kind="flood", round_no=1, error="", r=None):
    return {"round": round_no, "kind": kind, "error": error, "row": r, "seconds": 1.0}


def healthy_runs():
    return [
        run("flood", r=row()),
        run("churn", r=row()),
        run("idle-hold"),
        run("broadcast", r=row()),
    ]


def by_check(checks):
    return {c.check: c for c in checks}


class VerdictTest(unittest.TestCase):
    def test_a_healthy_server_passes_every_check(self):
        checks = verdict.judge("epoll-lt", healthy_samples(), healthy_runs())
        self.assertEqual([c.check for c in checks], list(verdict.CHECKS))
        self.assertTrue(all(c.passed for c in checks), verdict.failure_lines(checks))
        self.assertEqual(verdict.failure_lines(checks), [])

    def test_one_descriptor_left_over_fails_and_says_both_counts(self):
        c = by_check(verdict.judge("poll", healthy_samples(end_fds=7), healthy_runs()))
        self.assertFalse(c["descriptors"].passed)
        self.assertIn("baseline 6, end 7", c["descriptors"].figures)
        self.assertEqual(
            verdict.failure_lines([c["descriptors"]]), ["FAIL poll descriptors: baseline 6, end 7"]
        )

    def test_fewer_descriptors_than_the_baseline_fail_too(self):
        # A server that lost its listener or the mechanism's descriptor is not back to normal.
        c = by_check(verdict.judge("poll", healthy_samples(end_fds=5), healthy_runs()))
        self.assertFalse(c["descriptors"].passed)

    def test_rss_growth_is_measured_from_the_peak_reached_in_the_first_round(self):
        # 4700 KiB at the end of round 1, 5500 at the end: +17 % between two quiet samples, which
        # is glibc keeping more of the freed queues, not a leak; against round 1's peak it is
        # -38.9 %.
        c = by_check(verdict.judge("select", healthy_samples(), healthy_runs()))
        self.assertTrue(c["rss"].passed, c["rss"].figures)
        self.assertIn(
            "end 5,500 KiB against the peak by the end of round 1 9,000 KiB", c["rss"].figures
        )
        self.assertIn("(-38.9 %, bound +10 %)", c["rss"].figures)
        self.assertIn("RSS at the end of round 1 4,700 KiB (+17.0 % to the end)", c["rss"].figures)
        self.assertIn("peak at the end 9,300 KiB (+3.3 %)", c["rss"].figures)

    def test_rss_above_the_first_rounds_peak_by_more_than_ten_percent_fails(self):
        c = by_check(
            verdict.judge("select", healthy_samples(end_rss=9900, end_peak=9900), healthy_runs())
        )
        self.assertTrue(c["rss"].passed, c["rss"].figures)  # exactly +10 %
        c = by_check(
            verdict.judge("select", healthy_samples(end_rss=9901, end_peak=9950), healthy_runs())
        )
        self.assertFalse(c["rss"].passed)
        self.assertIn("(+10.0 %, bound +10 %)", c["rss"].figures)

    def test_missing_samples_fail_instead_of_passing_vacuously(self):
        samples = [s for s in healthy_samples() if s["phase"] not in ("end",)]
        c = by_check(verdict.judge("uring", samples, healthy_runs()))
        self.assertFalse(c["descriptors"].passed)
        self.assertFalse(c["rss"].passed)
        self.assertFalse(c["stats"].passed)
        c = by_check(verdict.judge("uring", healthy_samples(), []))
        self.assertFalse(c["integrity"].passed)

    def test_any_integrity_counter_fails_the_run_whatever_its_status(self):
        for column in verdict.INTEGRITY_COLUMNS:
            runs = healthy_runs() + [run("pingpong", round_no=2, r=row(**{column: 1}))]
            c = by_check(verdict.judge("epoll-et", healthy_samples(), runs))["integrity"]
            self.assertFalse(c.passed, column)
            self.assertIn("1 integrity errors", c.figures)
            self.assertIn(f"{column} 1", c.figures)
            self.assertIn("round 2 pingpong: status ok (lost", c.figures)

    def test_statuses_fail_except_ok_and_loadgen_bound(self):
        for status, passes in [
            ("ok", True),
            ("loadgen-bound", True),
            ("integrity-errors", False),
            ("server-died", False),
            ("error:dropped-by-server", False),
            ("refused:FD_SETSIZE", False),
        ]:
            runs = healthy_runs() + [run("broadcast", r=row(status=status))]
            c = by_check(verdict.judge("select", healthy_samples(), runs))["integrity"]
            self.assertEqual(c.passed, passes, status)

    def test_a_run_without_a_row_and_a_lossy_hold_fail(self):
        for bad in [
            run("churn", error="loadgen exit 1: connect refused"),
            run("idle-hold", error="hold of 400: released {'open': 399} (idle connections lost)"),
            run("hostile", error="timeout: no result within 40 s"),
        ]:
            c = by_check(verdict.judge("poll", healthy_samples(), healthy_runs() + [bad]))
            self.assertFalse(c["integrity"].passed)
            self.assertIn(bad["error"], c["integrity"].figures)

    def test_stats_must_answer_at_the_end(self):
        samples = healthy_samples()
        samples[-1] = sample("end", 2, stats_ok=0, error="no /stats answer within 5 s")
        c = by_check(verdict.judge("uring-completion", samples, healthy_runs()))["stats"]
        self.assertFalse(c.passed)
        self.assertIn("answered 5 of 6 samples; at the end: no /stats answer within 5 s", c.figures)

    def test_a_dead_server_fails_stats(self):
        samples = healthy_samples()
        samples[-1] = sample("end", 2, fds=None, rss=None, stats_ok=0, alive=0)
        c = by_check(verdict.judge("poll", samples, healthy_runs()))
        self.assertFalse(c["stats"].passed)
        self.assertIn("process gone", c["stats"].figures)
        self.assertFalse(c["descriptors"].passed)
        self.assertFalse(c["rss"].passed)


class MixTest(unittest.TestCase):
    def test_rounds_are_minutes_with_at_least_three(self):
        self.assertEqual(mix.rounds_for(600), (10, 60.0))
        self.assertEqual(mix.rounds_for(60), (3, 20.0))
        with self.assertRaises(ValueError):
            mix.rounds_for(mix.MIN_SOAK_S - 1)

    def test_every_kind_of_load_in_every_round(self):
        for hostile in (False, True):
            plan = mix.round_plan(20.0, hostile)
            expected = {"idle-hold", "flood", "broadcast", "churn", "pingpong"}
            expected |= {"hostile"} if hostile else set()
            self.assertEqual(set(mix.kinds(plan)), expected)
        hostile = mix.round_plan(20.0, True).beside[0]
        self.assertIn("--hostile", hostile.args)

    def test_idle_connections_come_and_go_inside_the_measured_part(self):
        for round_s in (10.0, 20.0, 60.0):
            plan = mix.round_plan(round_s, True)
            self.assertGreaterEqual(len(plan.holds), 2)
            measured = round_s * mix.MEASURED_FRACTION
            for earlier, later in zip(plan.holds, plan.holds[1:]):
                self.assertLess(earlier.stop_s, later.start_s)
            self.assertLessEqual(plan.holds[-1].stop_s, measured)

    def test_runs_fit_the_round_and_are_bounded(self):
        for round_s in (20.0, 60.0):
            plan = mix.round_plan(round_s, True)
            sequence_s = sum(
                r.duration_s + mix.WARMUP_S + mix.RUN_OVERHEAD_S for r in plan.sequence
            )
            self.assertLessEqual(sequence_s, round_s * mix.MEASURED_FRACTION + 1e-9)
            for r in plan.sequence + plan.beside:
                self.assertIn("--duration", r.args)
                self.assertLess(r.timeout_s, 120)
            self.assertLessEqual(
                mix.round_plan(600.0, True).sequence[2].duration_s, mix.CHURN_MAX_S
            )

    def test_select_stays_below_fd_setsize(self):
        # With the server's own descriptors (listener, stdio, mechanism) on top, select's
        # highest descriptor stays hundreds below 1024, whatever the round's length.
        for round_s in (10.0, 20.0, 60.0):
            for hostile in (False, True):
                peak = mix.peak_connections(mix.round_plan(round_s, hostile))
                self.assertLess(peak, mix.FD_SETSIZE - 400)
        self.assertGreater(
            mix.peak_connections(mix.round_plan(60.0, True)), mix.IDLE + mix.STORM_BURST
        )


if __name__ == "__main__":
    unittest.main()
