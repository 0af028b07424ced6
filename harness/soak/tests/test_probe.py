"""What the soak reads from a process and from /stats, against this process and tiny servers."""

import os
import socket
import threading
import unittest

from harness.soak import probe


class ProcessTest(unittest.TestCase):
    def test_an_open_descriptor_is_counted_and_closing_it_uncounts_it(self):
        before = probe.process(os.getpid())
        r, w = os.pipe()
        try:
            self.assertEqual(probe.descriptors(os.getpid()), before["fds"] + 2)
        finally:
            os.close(r)
            os.close(w)
        self.assertEqual(probe.descriptors(os.getpid()), before["fds"])

    def test_memory_and_cpu_of_a_live_process(self):
        sample = probe.process(os.getpid())
        self.assertGreater(sample["rss_kib"], 1000)
        self.assertGreaterEqual(sample["rss_peak_kib"], sample["rss_kib"])
        self.assertGreater(sample["cpu_s"], 0)

    def test_a_process_that_is_gone_raises(self):
        with self.assertRaises(OSError):
            probe.process(2**22 + 1)  # above pid_max's ceiling: never a live process


def serve_once(answer):
    """A listener that greets one client, reads its line and sends `answer` (bytes) back."""
    listener = socket.create_server(("127.0.0.1", 0))

    def handle():
        conn, _ = listener.accept()
        with conn:
            conn.sendall(b"* welcome guest1 (room lobby; /help for commands)\n")
            conn.recv(100)
            conn.sendall(answer)
        listener.close()

    threading.Thread(target=handle, daemon=True).start()
    return listener.getsockname()[1]


class StatsTest(unittest.TestCase):
    def test_the_json_line_after_the_welcome(self):
        port = serve_once(b'{"mechanism":"poll","current":1,"accepted":7}\n')
        stats, error = probe.ask_stats("127.0.0.1", port)
        self.assertIsNone(error)
        self.assertEqual(stats["accepted"], 7)

    def test_a_server_that_closes_instead_of_answering(self):
        port = serve_once(b"! server full: no more connections\n")
        stats, error = probe.ask_stats("127.0.0.1", port)
        self.assertIsNone(stats)
        self.assertIn("closed before answering /stats: ! server full", error)

    def test_a_server_that_never_answers_times_out(self):
        port = serve_once(b"")
        listener_side = socket.create_server(("127.0.0.1", 0))
        with listener_side:
            # The kernel completes the handshake from the backlog; nobody ever writes.
            stats, error = probe.ask_stats(
                "127.0.0.1", listener_side.getsockname()[1], timeout_s=0.3
            )
        self.assertIsNone(stats)
        self.assertIn("no /stats answer within 0.3 s", error)
        probe.ask_stats("127.0.0.1", port, timeout_s=0.3)  # lets serve_once's thread finish

    def test_nothing_listening(self):
        s = socket.create_server(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        stats, error = probe.ask_stats("127.0.0.1", port)
        self.assertIsNone(stats)
        self.assertIn("/stats connection failed", error)


if __name__ == "__main__":
    unittest.main()
