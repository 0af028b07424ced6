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


if __name__ == "__main__":
    unittest.main()
