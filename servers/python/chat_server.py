#!/usr/bin/python3
"""muxbench's chat server the way the tutorial writes one: Python's standard library, one loop,
a list of sockets. Installed three times, as py-select, py-poll and py-epoll (the name it runs
under picks select.select, select.poll or select.epoll), it speaks the protocol of
docs/protocol.md and takes the command line of the C++ servers, so that the loadgen and the
sweep drive it like them (docs/peers.md).

The tutorial's structure is kept on purpose: the loop asks the mechanism which sockets are
ready, reads one chunk from each, and writes what it queued once per pass. No event library, no
threads, no tuning beyond what a reader of the tutorial would write.

This script is the command line (options, signals, the listening line, the counters at the end);
the package pychat/ beside it, installed with it, holds the protocol (protocol.py), the sockets
(server.py) and the three loops (loops.py)."""

import argparse
import os
import re
import resource
import signal
import sys

from pychat.loops import LOOPS
from pychat.protocol import MAX_ROOMS
from pychat.server import Server

VERSION = "0.1.0"
FD_MARGIN = 16  # descriptors the C++ servers keep for themselves (ServerMain.cpp's kFdMargin)


def on_signal(signum, frame):
    """SIGINT or SIGTERM: nothing here. The interpreter's own C handler has already written the
    signal's number into the wake-up pipe (signal.set_wakeup_fd) that every loop watches; the
    loop then returns and main prints the counters. Raising from here instead (as the first
    version did) loses the signal whenever it lands in a finalizer, such as a refused socket's:
    Python prints "Exception ignored" there and the loop blocks on (the fifteen-hundred-connection
    test caught py-select ignoring SIGTERM one time in three)."""


def size_value(text):
    """--max-outbuf 4M: suffixes K, M, G are powers of 1024, as CLI11's AsSizeValue reads them."""
    units = {"": 1, "k": 1 << 10, "kb": 1 << 10, "m": 1 << 20, "mb": 1 << 20, "g": 1 << 30}
    m = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", text)
    if not m or m.group(2).lower() not in units:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (a number, suffix K, M or G)")
    return int(m.group(1)) * units[m.group(2).lower()]


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft


def parse_args(mechanism, argv, fd_limit):
    p = argparse.ArgumentParser(
        prog=mechanism,
        description=f"{mechanism}: muxbench chat server in standard-library Python "
        f"(Python's select.{mechanism[3:]}); speaks docs/protocol.md, and on "
        "SIGINT/SIGTERM prints its counters as one JSON line and exits 0.",
    )
    p.add_argument("--bind", default="127.0.0.1", help="numeric address to listen on")
    p.add_argument("--port", type=int, default=8002, help="TCP port (0 = any free port)")
    p.add_argument("--quiet", action="store_true", help="no join/leave/rename notices")
    p.add_argument("--max-line", type=int, default=4096, help="longest accepted line in bytes")
    p.add_argument("--max-outbuf", type=size_value, default=1 << 20, help="bytes queued per client")
    pages, page = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGESIZE")
    p.add_argument(
        "--max-queued-total",
        type=size_value,
        default=pages * page // 8 if pages > 0 and page > 0 else 0,
        help="bytes queued for all clients together; default an eighth of memory; 0: no budget",
    )
    p.add_argument("--max-conns", type=int, default=None, help="connections served at once")
    p.add_argument("--max-rooms", type=int, default=MAX_ROOMS, help="rooms at once, lobby included")
    p.add_argument("--cpu", type=int, default=-1, help="pin the server to this CPU")
    p.add_argument("--uring-buffers", type=int, help=argparse.SUPPRESS)  # the C++ servers' option
    p.add_argument("--version", action="version", version=f"{mechanism} (muxbench {VERSION})")
    opt = p.parse_args(argv)
    allowed = max(fd_limit - FD_MARGIN, 0)
    if opt.max_conns is None:
        opt.max_conns = allowed
    elif opt.max_conns > allowed:
        p.exit(
            2,
            f"{mechanism}: --max-conns {opt.max_conns}: the open-file limit is {fd_limit}, which "
            f"allows {allowed} connections beside the server's own {FD_MARGIN} descriptors; raise"
            f" it (ulimit -n {opt.max_conns + FD_MARGIN}), or give --max-conns {allowed}\n",
        )
    return opt  # --max-conns 0: no cap but the open-file limit's


def main():
    mechanism = os.path.basename(sys.argv[0])
    if mechanism not in LOOPS:
        sys.exit(f"{mechanism}: run me as one of {', '.join(LOOPS)} (the name picks the mechanism)")
    fd_limit = raise_fd_limit()
    opt = parse_args(mechanism, sys.argv[1:], fd_limit)
    if opt.cpu >= 0:
        try:
            os.sched_setaffinity(0, {opt.cpu})
        except OSError as e:
            sys.exit(f"{mechanism}: --cpu {opt.cpu}: {e}")
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    try:
        server = Server(opt, mechanism, fd_limit)
    except OSError as e:
        sys.exit(f"{mechanism}: listen {opt.bind}:{opt.port}: {e}")
    signal.set_wakeup_fd(server.wake_write, warn_on_full_buffer=False)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print(server.listening_line(), flush=True)
    LOOPS[mechanism](server)
    print(server.chat.stats_json(), flush=True)


if __name__ == "__main__":
    main()
