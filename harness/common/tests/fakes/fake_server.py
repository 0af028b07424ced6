#!/usr/bin/env python3
"""A stand-in chat server for the sweep's tests: the listening line, /stats, counters at SIGTERM.

Environment knobs (each test sets its own):
  FAKE_FD_SETSIZE=N  the select server refuses clients past N (as select does past 1024)
  FAKE_CRASH=MECH:K  server MECH dies of SIGKILL on its K-th /stats request
  FAKE_UNAVAILABLE=1 chat-uring exits 69, the servers' status for a refused mechanism (its
                     text avoids the words a sweep could match instead of the status)
  FAKE_DROP_IDLE=MECH:K  server MECH closes every other client at its K-th /stats (idle
                     connections lost while the server lives on)
  FAKE_LEAK_FDS=MECH:N  server MECH keeps a duplicate of the first N client descriptors it
                     closes (a descriptor leak, for the soak's tests)

A client that resets its connection (a loadgen killed with the /stats reply unread, as the sweep
does to the run in flight at Ctrl-C) is dropped like any disconnect, as servers/ChatServer.cpp
does. (An unhandled ECONNRESET here once killed the server during the sweep's Ctrl-C, before
its hold counted the idle connections.)
"""
import json
import os
import select
import signal
import socket
import sys

binary, args = sys.argv[1], sys.argv[2:]
# The registry of the fakes: no select-dynamic, since the fake chat-select has no --fdset.
REGISTRY = [
    ("select", "chat-select", [], False, False),
    ("poll", "chat-poll", [], False, False),
    ("epoll-lt", "chat-epoll", [], False, False),
    ("epoll-et", "chat-epoll", ["--edge"], True, False),
    ("uring", "chat-uring", [], True, True),
]
if "--list-mechanisms" in args:
    refused = bool(os.environ.get("FAKE_UNAVAILABLE"))
    print(
        json.dumps(
            [
                {
                    "name": n,
                    "binary": b,
                    "args": a,
                    "edge_triggered": et,
                    "optional": opt,
                    "available": not (opt and refused),
                    "unavailable_reason": "refused (fake)" if opt and refused else None,
                }
                for n, b, a, et, opt in REGISTRY
            ],
            indent=0,
        )
    )
    sys.exit(0)
if "--help" in args:
    print(
        f"usage: {binary} [--port N] [--quiet] [--cpu"
        f" N]{' [--edge]' if binary == 'chat-epoll' else ''}"
    )
    sys.exit(0)
if "--version" in args:
    print(binary + " fake 0")
    sys.exit(0)
if binary == "chat-uring" and os.environ.get("FAKE_UNAVAILABLE"):
    print("chat-uring: setup refused: Operation not permitted", file=sys.stderr)
    sys.exit(69)

mechanism = {
    "chat-select": "select",
    "chat-poll": "poll",
    "chat-uring": "uring",
    "chat-epoll": "epoll-et" if "--edge" in args else "epoll-lt",
}[binary]
port = int(args[args.index("--port") + 1]) if "--port" in args else 8002
fd_setsize = int(os.environ.get("FAKE_FD_SETSIZE", "40"))
crash = os.environ.get("FAKE_CRASH", "")
crash_at = int(crash.split(":")[1]) if crash.split(":")[0] == mechanism else 0
drop = os.environ.get("FAKE_DROP_IDLE", "")
drop_at = int(drop.split(":")[1]) if drop.split(":")[0] == mechanism else 0
leak = os.environ.get("FAKE_LEAK_FDS", "")
leak_count = int(leak.split(":")[1]) if leak.split(":")[0] == mechanism else 0
leaked = []

counters = {
    "mechanism": mechanism,
    "accepted": 0,
    "refused": 0,
    "current": 0,
    "peak": 0,
    "msgs_in": 0,
    "msgs_out": 0,
    "bytes_in": 0,
    "bytes_out": 0,
    "wait_calls": 0,
    "events": 0,
    "fds_passed": 0,
    "ctl_calls": 0,
    "slow_dropped": 0,
    "overlong_dropped": 0,
    "cpu_user_us": 0,
    "cpu_sys_us": 0,
    "fd_limit": 20000,
}
stats_requests = 0


def finish(signum, frame):
    print(json.dumps(counters), flush=True)
    sys.exit(0)


signal.signal(signal.SIGTERM, finish)
signal.signal(signal.SIGINT, finish)

listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", port))
listener.listen(1024)
print(
    f"listening 127.0.0.1:{listener.getsockname()[1]} mechanism={mechanism} fd_limit=20000",
    flush=True,
)

clients = {}


def drop_client(s):
    del clients[s]
    if len(leaked) < leak_count:
        leaked.append(os.dup(s.fileno()))
    s.close()
    counters["current"] = len(clients)


def send(s, data):
    """False when the client is gone (and dropped)."""
    try:
        s.sendall(data)
        return True
    except (BrokenPipeError, ConnectionResetError):
        drop_client(s)
        return False


while True:
    ready, _, _ = select.select([listener] + list(clients), [], [])
    counters["wait_calls"] += 1
    counters["events"] += len(ready)
    counters["fds_passed"] += 1 + len(clients)
    for s in ready:
        if s is listener:
            conn, _ = listener.accept()
            if mechanism == "select" and len(clients) >= fd_setsize:
                try:
                    conn.sendall(
                        b"! server full: select() cannot watch descriptor 1024 "
                        b"(FD_SETSIZE is 1024)\n"
                    )
                except (BrokenPipeError, ConnectionResetError):
                    pass
                conn.close()
                counters["refused"] += 1
                continue
            counters["accepted"] += 1
            clients[conn] = b""
            counters["current"] = len(clients)
            counters["peak"] = max(counters["peak"], len(clients))
            welcome = f"* welcome guest{counters['accepted']} (room lobby; /help for commands)\n"
            send(conn, welcome.encode())
            continue
        if s not in clients:
            continue  # dropped earlier in this round
        try:
            data = s.recv(4096)
        except ConnectionResetError:
            data = b""
        if not data:
            drop_client(s)
            continue
        clients[s] += data
        while b"\n" in clients[s]:
            line, clients[s] = clients[s].split(b"\n", 1)
            counters["msgs_in"] += 1
            if line.strip() == b"/stats":
                stats_requests += 1
                if crash_at and stats_requests >= crash_at:
                    os.kill(os.getpid(), signal.SIGKILL)
                if drop_at and stats_requests == drop_at:
                    for other in [c for c in clients if c is not s]:
                        drop_client(other)
                if not send(s, (json.dumps(counters) + "\n").encode()):
                    break
