"""harness/peer/wakeup_ratio.py on synthetic rows: a chat server at sockperf's cost meets the goal,
one 20 % dearer does not, one with a run-to-run spread wider than the goal is undecided, and the
pairing is by repeat (a drift shared by both sides of a repeat cancels)."""

import unittest

from harness.peer import wakeup_ratio


def rows(server, state, values):
    return [
        {"server": server, "idle_states": state, "repeat": str(r), "server_cpu_us_per_wakeup": v}
        for r, v in enumerate(values, start=1)
    ]


# A machine whose state drifts between repeats: 11 to 21 us for the same server, as measured.
DRIFT = [15.0, 21.0, 11.0, 18.0, 13.0, 16.0]


class WakeupRatio(unittest.TestCase):
    def verdict(self, chat_values, peer_values, chat="chat-epoll", peer="sockperf-epoll"):
        found = wakeup_ratio.costs(
            rows(chat, "block", chat_values) + rows(peer, "block", peer_values)
        )
        ((server, state, named_peer, ratio, words),) = wakeup_ratio.ratios(found)
        self.assertEqual((server, state, named_peer), (chat, "block", peer))
        return ratio, words

    def test_a_drift_both_sides_share_cancels_and_the_goal_is_met(self):
        # 0.97: the interval still holds the sitting's part (rules.SITTING_LOG_SD), ±5 % at 95 %.
        ratio, words = self.verdict([d * 0.97 for d in DRIFT], DRIFT)
        self.assertAlmostEqual(ratio.ratio, 0.97, places=6)
        self.assertIn("met (the whole interval)", words)

    def test_at_the_peers_cost_one_sitting_cannot_say_the_goal_is_met(self):
        ratio, words = self.verdict([d * 1.01 for d in DRIFT], DRIFT)
        self.assertIn("undecided (the interval straddles it)", words)
        self.assertGreater(ratio.high, wakeup_ratio.GOAL)

    def test_a_server_dearer_beyond_the_goal_is_not_met(self):
        noise = [1.0, 1.02, 0.99, 1.01, 0.98, 1.0]
        ratio, words = self.verdict([d * 1.2 * n for d, n in zip(DRIFT, noise)], DRIFT)
        self.assertIn("not met", words)
        self.assertGreater(ratio.low, wakeup_ratio.GOAL)

    def test_unpaired_noise_wider_than_the_goal_is_undecided_not_judged_by_medians(self):
        # Equal medians (15.5) but each repeat's state hit one side only: no verdict.
        ratio, words = self.verdict(DRIFT, list(reversed(DRIFT)))
        self.assertIn("undecided (the interval straddles it)", words)
        self.assertLess(ratio.low, 1.0)
        self.assertGreater(ratio.high, wakeup_ratio.GOAL)

    def test_two_repeats_decide_nothing(self):
        _, words = self.verdict([15.0, 15.1], [15.0, 15.0])
        self.assertIn("fewer than 3 paired repeats", words)

    def test_poll_is_judged_against_sockperfs_poll_and_edge_triggered_against_its_epoll(self):
        self.assertEqual(wakeup_ratio.peer_of("chat-poll"), "sockperf-poll")
        self.assertEqual(wakeup_ratio.peer_of("A:chat-epoll-et"), "sockperf-epoll")
        self.assertIsNone(wakeup_ratio.peer_of("sockperf-poll"))

    def test_summary_prints_medians_then_ratios(self):
        lines = wakeup_ratio.summary(
            rows("chat-poll", "allow", DRIFT) + rows("sockperf-poll", "allow", DRIFT)
        )
        self.assertTrue(lines[0].startswith("# chat-poll"))
        self.assertIn("ratio chat-poll/sockperf-poll idle_states=allow: 1.000x (95% CI", lines[-1])


if __name__ == "__main__":
    unittest.main()
