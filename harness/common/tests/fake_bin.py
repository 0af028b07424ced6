"""A bin directory of fake programs (fakes/): chat-* servers and a loadgen that speak the real
ones' command lines and outputs, for the sweep's and the soak's tests to run end to end in
seconds."""

import os
import sys

FAKES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fakes")


def make_fake_bin(directory, servers=("chat-select", "chat-poll", "chat-epoll")):
    os.makedirs(directory, exist_ok=True)
    for name in servers:
        _wrapper(
            os.path.join(directory, name),
            [sys.executable, os.path.join(FAKES, "fake_server.py"), name],
        )
    _wrapper(
        os.path.join(directory, "loadgen"), [sys.executable, os.path.join(FAKES, "fake_loadgen.py")]
    )
    return directory


def _wrapper(path, argv):
    with open(path, "w") as f:
        quoted = " ".join(f"'{a}'" for a in argv)
        f.write(f'#!/bin/sh\nexec {quoted} "$@"\n')
    os.chmod(path, 0o755)
