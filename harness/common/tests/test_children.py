"""harness.common.children: a stopped child's whole process group is gone when kill_group
returns, and a zombie does not count as running."""

import signal
import subprocess
import sys
import time
import unittest

from harness.common import children

# A parent whose child puts itself in a group of its own and exits at once, unreaped: that group
# holds only a zombie while the parent sleeps. Prints the child's pid.
ZOMBIE_GROUP = """
import os, sys, time
pid = os.fork()
if pid == 0:
    os.setpgid(0, 0)
    os._exit(0)
print(pid, flush=True)
time.sleep(30)
"""


class KillGroupTest(unittest.TestCase):
    def test_a_helper_that_ignores_sigterm_is_gone_when_kill_group_returns(self):
        # The shell and its background sleep ignore SIGTERM (an ignored signal stays ignored
        # across fork and exec): only the SIGKILL to the group ends them.
        proc = children.spawn(["sh", "-c", "trap '' TERM; sleep 30 & wait"])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(children.group_members(proc.pid)) < 2:
            time.sleep(0.01)
        self.assertGreaterEqual(
            len(children.group_members(proc.pid)), 2, "the shell's sleep never started"
        )
        self.assertTrue(children.group_running(proc.pid))
        children.kill_group(proc, grace_s=0.5)
        self.assertFalse(children.group_running(proc.pid))
        self.assertEqual(children.group_members(proc.pid), [])

    def test_a_group_left_with_only_a_zombie_is_not_running(self):
        parent = subprocess.Popen(
            [sys.executable, "-c", ZOMBIE_GROUP],
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            child = int(parent.stdout.readline())
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.state(child) != "Z":
                time.sleep(0.01)
            self.assertEqual(self.state(child), "Z")
            self.assertFalse(children.group_running(child))
            self.assertTrue(children.group_running(parent.pid))
        finally:
            parent.send_signal(signal.SIGKILL)
            parent.wait()

    @staticmethod
    def state(pid):
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            return None
        return stat[stat.rfind(")") + 2 :].split()[0]


if __name__ == "__main__":
    unittest.main()
