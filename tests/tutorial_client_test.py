#!/usr/bin/env python3
"""Runs tutorial_client.py against one chat server binary: it chats with a raw socket peer in
both directions and sees /quit close the connection.
Usage: tutorial_client_test.py SERVER_BINARY [SERVER_ARGS...]
Exits 77 (skipped) when the server exits 69, its status for a mechanism this machine refuses."""
import os
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEADLINE_S = 15
EXIT_UNAVAILABLE = 69  # mux::kExitUnavailable (servers/MechanismRegistry.h)
EXIT_SKIPPED = 77  # ctest's SKIP_RETURN_CODE for these tests


def read_until(stream_readline, wanted, what):
    end = time.monotonic() + DEADLINE_S
    seen = []
    while time.monotonic() < end:
        line = stream_readline()
        if not line:
            break
        seen.append(line.rstrip("\n"))
        if wanted in line:
            return line
    sys.exit(f"FAIL: {what}: never saw {wanted!r}; saw {seen!r}")


def main():
    server_cmd = sys.argv[1:] + ["--port", "0"]
    server = subprocess.Popen(server_cmd, stdout=subprocess.PIPE, text=True)
    try:
        listening = server.stdout.readline().split()
        if not listening and server.wait(timeout=DEADLINE_S) == EXIT_UNAVAILABLE:
            print(f"SKIP: {server_cmd[0]} is unavailable on this machine (see its stderr)")
            sys.exit(EXIT_SKIPPED)
        if not listening or listening[0] != "listening":
            sys.exit(f"FAIL: {server_cmd[0]} printed {listening!r} instead of its listening line")
        host, port = listening[1].rsplit(":", 1)

        tutorial = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "tutorial_client.py"), host, port],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        read_until(tutorial.stdout.readline, "* welcome", "tutorial client welcome")

        peer = socket.create_connection((host, int(port)), timeout=DEADLINE_S)
        peer_file = peer.makefile("r", encoding="utf-8", newline="\n")
        read_until(peer_file.readline, "* welcome", "peer welcome")

        tutorial.stdin.write("/nick teacher\n")
        tutorial.stdin.flush()
        read_until(tutorial.stdout.readline, "* you are now teacher", "rename")
        tutorial.stdin.write("hello from the tutorial client\n")
        tutorial.stdin.flush()
        read_until(peer_file.readline, "<teacher> hello from the tutorial client", "peer receives")

        peer.sendall(b"hello back\n")
        line = read_until(tutorial.stdout.readline, "hello back", "tutorial client receives")
        if not line.startswith("<guest"):
            sys.exit(f"FAIL: expected '<guestN> hello back', got {line!r}")

        tutorial.stdin.write("/quit\n")
        tutorial.stdin.flush()
        read_until(tutorial.stdout.readline, "disconnected from server", "quit closes")
        tutorial.wait(timeout=DEADLINE_S)
        peer.close()
        print(f"ok: tutorial client chats through {listening[2]}")
    finally:
        server.terminate()
        server.wait(timeout=DEADLINE_S)


if __name__ == "__main__":
    main()
