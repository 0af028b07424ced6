"""The PM QoS request behind --idle-states, and what env.json records about idle states."""
import os
import struct
import tempfile
import unittest

from harness.sweep import idle_states


def value_in_force(device):
    fd = os.open(device, os.O_RDONLY)
    try:
        return struct.unpack("i", os.read(fd, 4))[0]
    finally:
        os.close(fd)


class IdleStatesTest(unittest.TestCase):
    def test_parse_keeps_order_and_rejects_unknown_words(self):
        self.assertEqual(idle_states.parse("block"), ["block"])
        self.assertEqual(idle_states.parse("allow, block,allow"), ["allow", "block"])
        for bad in ("", "halt", "block,poll"):
            with self.assertRaises(ValueError):
                idle_states.parse(bad)

    @unittest.skipUnless(
        os.access(idle_states.DEVICE, os.W_OK), "needs write access to /dev/cpu_dma_latency (root)"
    )
    def test_the_request_holds_while_blocked_and_is_gone_after_allow(self):
        request = idle_states.LatencyRequest(idle_states.DEVICE)
        before = value_in_force(idle_states.DEVICE)
        self.assertTrue(request.block(), request.why_not)
        self.assertTrue(request.held)
        self.assertEqual(value_in_force(idle_states.DEVICE), 0)
        request.allow()
        self.assertFalse(request.held)
        self.assertEqual(value_in_force(idle_states.DEVICE), before)

    def test_a_device_that_cannot_be_opened_gives_a_reason_not_an_exception(self):
        request = idle_states.LatencyRequest("/nonexistent/cpu_dma_latency")
        self.assertFalse(request.block())
        self.assertFalse(request.held)
        self.assertIn("/nonexistent/cpu_dma_latency", request.why_not)
        self.assertIn("run as root", request.why_not)
        request.allow()  # releasing nothing is not an error

    def test_describe_reads_driver_governor_and_states(self):
        root = tempfile.mkdtemp(prefix="cpuidle-")
        os.makedirs(os.path.join(root, "cpuidle"))
        for name, value in (("current_driver", "haltpoll"), ("current_governor_ro", "haltpoll")):
            with open(os.path.join(root, "cpuidle", name), "w") as f:
                f.write(value + "\n")
        for i, (name, latency) in enumerate((("POLL", 0), ("haltpoll", 1))):
            d = os.path.join(root, "cpu0", "cpuidle", f"state{i}")
            os.makedirs(d)
            for key, value in (
                ("name", name),
                ("latency", latency),
                ("residency", latency),
                ("disable", 0),
                ("desc", name),
            ):
                with open(os.path.join(d, key), "w") as f:
                    f.write(f"{value}\n")
        got = idle_states.describe(root)
        self.assertEqual(got["driver"], "haltpoll")
        self.assertEqual(got["governor"], "haltpoll")
        self.assertEqual(
            [(s["name"], s["latency_us"], s["disabled"]) for s in got["states"]],
            [("POLL", 0, False), ("haltpoll", 1, False)],
        )


def cpuidle(driver, *states, disabled=()):
    """describe()'s dict for a machine with these states (name, latency µs)."""
    return {
        "driver": driver,
        "governor": None,
        "states": [
            {
                "name": n,
                "desc": n,
                "latency_us": lat,
                "residency_us": lat,
                "disabled": n in disabled,
            }
            for n, lat in states
        ],
    }


class RequestReachTest(unittest.TestCase):
    """What env.json and the report say the request can do, from the cpuidle states seen."""

    def test_without_a_cpuidle_driver_the_request_cannot_make_cpus_poll(self):
        for driver in ("none", None):
            can_poll, words = idle_states.request_reach(cpuidle(driver))
            self.assertFalse(can_poll)
            self.assertIn("no cpuidle driver", words)
            self.assertIn("cannot make idle CPUs poll here", words)

    def test_with_haltpoll_the_request_keeps_cpus_polling(self):
        can_poll, words = idle_states.request_reach(
            cpuidle("haltpoll", ("POLL", 0), ("haltpoll", 1))
        )
        self.assertTrue(can_poll)
        self.assertIn("keeps idle CPUs polling instead of entering haltpoll", words)

    def test_nothing_deeper_than_polling_means_nothing_to_change(self):
        for machine in (
            cpuidle("haltpoll", ("POLL", 0)),
            cpuidle("haltpoll", ("POLL", 0), ("haltpoll", 1), disabled=("haltpoll",)),
        ):
            can_poll, words = idle_states.request_reach(machine)
            self.assertFalse(can_poll)
            self.assertIn("no enabled state deeper than polling", words)

    def test_without_a_polling_state_the_request_cannot_make_cpus_poll(self):
        can_poll, words = idle_states.request_reach(cpuidle("acpi_idle", ("C1", 1), ("C2", 100)))
        self.assertFalse(can_poll)
        self.assertIn("no polling state", words)


class FakeRequest:
    """LatencyRequest's interface; refuses to hold when told to, and logs its switches."""

    def __init__(self, can_hold=True, held=False):
        self.can_hold, self.held, self.why_not = can_hold, held, None

    def block(self):
        self.held = self.can_hold
        self.why_not = None if self.can_hold else "cannot open /dev/cpu_dma_latency (test)"
        return self.held

    def allow(self):
        self.held = False


class MeasureEffectTest(unittest.TestCase):
    MACHINE = cpuidle("none")

    def floor_by_request(self, request, figures):
        """A floor whose figures depend on whether the request is held when it runs."""
        seen = []

        def run_floor(label):
            seen.append((label, request.held))
            p50, p99 = figures[request.held].pop(0)
            return {"p50_us": p50, "p99_us": p99, "status": "ok"}

        return run_floor, seen

    def test_interleaves_without_and_with_and_gives_ratios_of_medians(self):
        request = FakeRequest(held=True)
        run_floor, seen = self.floor_by_request(
            request,
            {
                False: [(32.9, 131), (32.1, 2900), (33.0, 122)],
                True: [(32.6, 68), (31.7, 74), (31.0, 70)],
            },
        )
        effect = idle_states.measure_effect(request, run_floor, self.MACHINE, rounds=3)
        self.assertEqual(
            seen,
            [
                ("idle-effect-without-1", False),
                ("idle-effect-with-1", True),
                ("idle-effect-without-2", False),
                ("idle-effect-with-2", True),
                ("idle-effect-without-3", False),
                ("idle-effect-with-3", True),
            ],
        )
        self.assertTrue(effect["measured"])
        self.assertEqual((effect["p50_without_us"], effect["p50_with_us"]), (32.9, 31.7))
        self.assertEqual((effect["p99_without_us"], effect["p99_with_us"]), (131, 70))
        self.assertEqual(effect["p50_ratio"], round(31.7 / 32.9, 3))
        self.assertEqual(effect["p99_ratio"], round(70 / 131, 3))
        self.assertEqual([r["request"] for r in effect["runs"]], ["without", "with"] * 3)
        self.assertEqual(effect["runs"][0]["p99_us"], 131)
        self.assertEqual(effect["cpuidle_driver"], "none")
        self.assertFalse(effect["request_can_poll"])
        self.assertTrue(request.held, "the request is left held, as it was found")
        # The console's words (the report's, from the same harness.common.idle_effect, are
        # test_report's): µs with one decimal below 100, no mark on the ratio.
        self.assertEqual(
            idle_states.effect_sentence(effect),
            "holding the request changed the floor's p50 by ×0.96 (32.9 → 31.7 µs) and its p99 by"
            " ×0.53 (131 → 70.0 µs) on this machine (median of 3 interleaved runs each)",
        )

    def test_a_request_not_held_before_is_released_after(self):
        request = FakeRequest(held=False)
        run_floor, _ = self.floor_by_request(request, {False: [(40, 90)] * 2, True: [(10, 20)] * 2})
        effect = idle_states.measure_effect(request, run_floor, self.MACHINE, rounds=2)
        self.assertEqual((effect["p50_ratio"], effect["p99_ratio"]), (0.25, round(20 / 90, 3)))
        self.assertFalse(request.held)

    def test_failed_runs_are_left_out_of_the_medians(self):
        request = FakeRequest()
        figures = iter(
            [(40, 90, "ok"), (10, 20, "ok"), (None, None, "error:loadgen exit 1"), (30, 60, "ok")]
        )

        def run_floor(label):
            p50, p99, status = next(figures)
            return {"p50_us": p50, "p99_us": p99, "status": status}

        effect = idle_states.measure_effect(request, run_floor, self.MACHINE, rounds=2)
        self.assertEqual(effect["p50_without_us"], 40)
        self.assertEqual(effect["p50_with_us"], 20)
        self.assertEqual(effect["p50_ratio"], 0.5)
        self.assertEqual(len(effect["runs"]), 4)

    def test_a_request_that_cannot_be_held_is_not_measured_and_says_why(self):
        request = FakeRequest(can_hold=False)
        calls = []
        effect = idle_states.measure_effect(request, calls.append, self.MACHINE)
        self.assertEqual(calls, [], "no floor runs without something to compare")
        self.assertFalse(effect["measured"])
        self.assertIn("cannot open", effect["why_not"])
        self.assertIn("cannot open", idle_states.effect_sentence(effect))
        self.assertIn("cannot make idle CPUs poll", idle_states.effect_summary(effect))


if __name__ == "__main__":
    unittest.main()
