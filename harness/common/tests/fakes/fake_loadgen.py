#!/usr/bin/env python3
"""A stand-in loadgen for the sweep's tests: --hold with real idle connections, and runs that
ask the server's /stats for its mechanism and print one contract CSV row.

Environment knobs:
  FAKE_LOADGEN_FAIL=MECH:MODE  runs of MODE against MECH exit 3 with a message (a fatal error)
  FAKE_LOADGEN_SLEEP=S         each run sleeps S seconds (to interrupt a sweep mid-run)
  FAKE_LOADGEN_STALL=MODE:PATH runs of MODE, once the /stats reply has arrived, create PATH and
                               wait to be killed with the reply unread (a run in flight at
                               Ctrl-C): the kernel then resets the connection
  FAKE_LOADGEN_TERM_KILLS_SERVER=1  a run that gets SIGTERM first SIGKILLs --server-pid and waits
                               for it to exit (a server that dies while the sweep stops a run)
  FAKE_LOADGEN_HELP_MODES=LIST extra modes that --help lists (e.g. churn)
  FAKE_LOADGEN_NOISY=MECH      runs against MECH report a server CPU per message drawn at random
                               (±50 %), so that a comparison with it stays undecided
  FAKE_LOADGEN_COST=MECH=F      runs against MECH report F x the others' server CPU per message
  FAKE_LOADGEN_RATE_CAPACITY=N  the open-loop (--mode rate) messages/s this loadgen can send
                               (default 250000); past it, it falls behind its schedule
  FAKE_FLOOR_SEQUENCE=FILE  floor runs take their p50s one by one from FILE (comma-separated);
                            the idle-states effect runs (labels idle-effect-*) are left out
  FAKE_FLOOR_BY_REQUEST=P50:P99,P50:P99  floor runs give the first figures while the sweep (our
                            parent) does not hold MUXBENCH_CPU_DMA_LATENCY open, the second
                            while it does (a machine where the request matters)
"""
import argparse
import csv
import json
import os
import random
import select
import signal
import socket
import sys
import time

COLUMNS = (
    "mechanism,mode,idle,idle_open,refused,active,size,rate,warmup_s,duration_s,msgs,"
    "throughput_msgs_s,p50_us,p90_us,p99_us,p999_us,max_us,mean_us,lost,duplicated,"
    "reordered,corrupted,server_cpu_us_per_msg,loadgen_cpu_pct,status,server_wait_calls,"
    "server_events,server_fds_passed,server_ctl_calls,server_cpu_us,label,fake_extra,hostile,"
    "hostile_kinds,hostile_connects,hostile_refused,hostile_dropped,hostile_errors,"
    "server_cpu_pct,bound_by,server_capacity_msgs_s,max_send_lag_us"
).split(",")


def cost_factor(mechanism):
    """FAKE_LOADGEN_COST=MECH=F: F for MECH, 1 for every other mechanism."""
    name, _, factor = os.environ.get("FAKE_LOADGEN_COST", "").partition("=")
    return float(factor) if name == mechanism and factor else 1.0


p = argparse.ArgumentParser()
p.add_argument("--host", default="127.0.0.1")
p.add_argument("--port", type=int, default=8002)
p.add_argument("--mode", default="pingpong")
p.add_argument("--hold", action="store_true")
p.add_argument("--idle", type=int, default=0)
p.add_argument("--idle-held", type=int, default=0)
p.add_argument("--active", type=int, default=1)
p.add_argument("--size", type=int, default=64)
p.add_argument("--window", default="16")
p.add_argument("--rate", type=float, default=1000)
p.add_argument("--arrival", choices=["fixed", "poisson"], default="fixed")
p.add_argument("--warmup", type=float, default=0.1)
p.add_argument("--duration", type=float, default=0.1)
p.add_argument("--server-pid", type=int)
p.add_argument("--cpu", type=int)
p.add_argument("--peer-cpu", type=int)
p.add_argument("--csv-header", action="store_true")
p.add_argument("--label", default="")
p.add_argument("--histogram-out")
p.add_argument("--hostile", type=int, default=0)
p.add_argument("--version", action="store_true")
if "--help" in sys.argv:
    extra = [m for m in os.environ.get("FAKE_LOADGEN_HELP_MODES", "").split(",") if m]
    modes = "|".join(["pingpong", "broadcast", "flood", "floor", "relay-floor", "rate"] + extra)
    print(
        f"usage: loadgen --mode {modes} ... [--rate R] [--arrival fixed|poisson]"
        " [--histogram-out FILE] [--hostile K] | --hold --idle N"
    )
    sys.exit(0)
a = p.parse_args()
if a.version:
    print("loadgen fake 0")
    sys.exit(0)


def read_line(s):
    """Bytes up to and including the next newline, or what came before the peer's EOF."""
    line = b""
    while not line.endswith(b"\n"):
        chunk = s.recv(4096)
        if not chunk:
            break
        line += chunk
    return line


def connect():
    """A connection and its first line (the welcome, or select's refusal)."""
    s = socket.create_connection((a.host, a.port), timeout=5)
    return s, read_line(s).decode()


if a.hold:
    # FAKE_HOLD_EXCLUSIVE=PATH: only one hold at a time can run (as when several servers' idle
    # connections together exhaust a resource), so the sweep must fall back to one at a time.
    exclusive = os.environ.get("FAKE_HOLD_EXCLUSIVE")
    if exclusive and a.idle >= int(os.environ.get("FAKE_HOLD_EXCLUSIVE_FROM", "0")):
        try:
            os.close(os.open(exclusive, os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            print("loadgen: connect: Cannot assign requested address (simulated)", file=sys.stderr)
            sys.exit(1)
    else:
        exclusive = None
    held, refused = [], 0
    for _ in range(a.idle):
        s, first = connect()
        if first.startswith("! server full"):
            refused += 1
            s.close()
        else:
            held.append(s)
    print(
        f"holding idle={a.idle} open={len(held)} refused={refused} sources=1 destinations=1",
        flush=True,
    )
    signal.signal(signal.SIGTERM, lambda *_: None)
    sys.stdin.read()
    still = 0
    for s in held:
        try:
            s.setblocking(False)
            still += s.recv(1, socket.MSG_PEEK) != b""
        except BlockingIOError:
            still += 1
        except OSError:
            pass
    if exclusive:
        os.unlink(exclusive)
    print(f"released idle={a.idle} open={still} refused={refused}", flush=True)
    sys.exit(0)


def server_gone(pid):
    """True once pid has exited (a zombie: its parent, the sweep, reaps it; its sockets are
    closed by then)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return True


def term_kills_server(signum, frame):
    os.kill(a.server_pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while not server_gone(a.server_pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    sys.exit(1)


if os.environ.get("FAKE_LOADGEN_TERM_KILLS_SERVER") and a.server_pid:
    signal.signal(signal.SIGTERM, term_kills_server)


def stall(sock):
    stall_mode, _, marker = os.environ.get("FAKE_LOADGEN_STALL", "").partition(":")
    if stall_mode != a.mode:
        return
    select.select([sock], [], [], 10)
    open(marker, "w").close()
    time.sleep(60)
    print("loadgen: stalled 60 s without being killed", file=sys.stderr)
    sys.exit(1)


def server_capacity(mechanism, idle):
    """Messages/s the fake server carries at 100 % of a CPU: 20 us a message, plus 0.2 us per idle
    connection for the mechanisms that scan them; +-2 % from one run to the next, seeded by the run
    (its histogram file names the run id) so that a sweep of the fakes gives the same figures every
    time."""
    per_msg_us = 20.0 + (0.2 * idle if mechanism in ("select", "poll") else 0.0)
    run = os.path.basename(a.histogram_out or "")
    noise = random.Random(f"{mechanism}|{idle}|{a.mode}|{run}").uniform(-0.02, 0.02)
    return 1e6 / per_msg_us * (1 + noise)


def open_loop(capacity):
    """An open-loop run's figures at a.rate offered: what a single queue served at `capacity` shows
    (p99 = 80 us / (1 - load) below it; past it, the backlog of the window), and a loadgen that
    costs 4 us a message of its own CPU up to FAKE_LOADGEN_RATE_CAPACITY."""
    sender = float(os.environ.get("FAKE_LOADGEN_RATE_CAPACITY", "250000"))
    sent = min(a.rate, sender)
    achieved = min(sent, capacity)
    load = sent / capacity
    p99 = 80.0 / (1 - load) if load < 1 else (1 - 1 / load) * a.duration * 1e6 + 8000.0
    lag = 50.0 if a.rate <= sender else (a.rate / sender - 1) * a.duration * 1e6
    p99 += 0.0 if a.rate <= sender else lag
    server_pct = 100.0 * achieved / capacity
    loadgen_pct = 100.0 * sent / sender
    bound = "server" if server_pct >= 90 else "loadgen" if loadgen_pct >= 90 else "latency"
    # Far past capacity the backlog outlasts the drain: its questions are lost, as the real
    # loadgen counts them, and the run says integrity-errors.
    lost = int((sent - capacity) * a.duration * 0.1) if load > 1.3 else 0
    return dict(
        rate=a.rate,
        msgs=int(achieved * a.duration),
        throughput_msgs_s=round(achieved, 1),
        p50_us=round(p99 / 3, 1),
        p90_us=round(p99 / 1.5, 1),
        p99_us=round(p99, 1),
        p999_us=round(p99 * 1.5, 1),
        max_us=round(p99 * 2, 1),
        lost=lost,
        server_cpu_us_per_msg=round(1e6 / capacity, 3),
        server_cpu_pct=round(server_pct, 1),
        loadgen_cpu_pct=round(loadgen_pct, 1),
        bound_by=bound,
        server_capacity_msgs_s=round(capacity, 1),
        max_send_lag_us=round(lag, 1),
        status="integrity-errors" if lost else "loadgen-bound" if bound == "loadgen" else "ok",
    )


def request_held():
    """True while our parent, the sweep, holds the stand-in for /dev/cpu_dma_latency open."""
    device = os.path.realpath(os.environ["MUXBENCH_CPU_DMA_LATENCY"])
    fds = f"/proc/{os.getppid()}/fd"
    for fd in os.listdir(fds):
        try:
            if os.readlink(os.path.join(fds, fd)) == device:
                return True
        except OSError:
            pass  # closed since the listing
    return False


row = {c: "" for c in COLUMNS}
row.update(
    mode=a.mode,
    idle=a.idle_held or a.idle,
    idle_open=-1,
    refused=0,
    active=a.active,
    size=32,
    rate=0,
    warmup_s=a.warmup,
    duration_s=a.duration,
    label=a.label,
    fake_extra="x",
    hostile=a.hostile,
)
if a.hostile:
    # Hostile clients cost the honest ones a little; the fake's figures say so, the counters are
    # a real loadgen's shape.
    row.update(
        hostile_kinds="slowloris+never-read+reset-mid-line+vanish+overlong+storm",
        hostile_connects=10 * a.hostile,
        hostile_refused=0,
        hostile_dropped=a.hostile,
        hostile_errors=0,
    )
time.sleep(float(os.environ.get("FAKE_LOADGEN_SLEEP", "0")))
if a.mode == "floor":
    p50, p99 = 12.5, 20
    sequence = os.environ.get("FAKE_FLOOR_SEQUENCE")
    by_request = os.environ.get("FAKE_FLOOR_BY_REQUEST")
    if by_request:
        without, held = by_request.split(",")
        p50, p99 = map(float, (held if request_held() else without).split(":"))
    elif sequence and not a.label.startswith("idle-effect-"):
        # Each floor run takes the next p50 from this file (the sweep's median is tested).
        with open(sequence) as f:
            values = f.read().split(",")
        p50 = float(values[0])
        with open(sequence, "w") as f:
            f.write(",".join(values[1:] or values))
    row.update(mechanism="floor", idle=0, msgs=1000, p50_us=p50, p99_us=p99, status="ok")
elif a.mode == "relay-floor":
    row.update(mechanism="floor", idle=0, msgs=500, p50_us=25, p99_us=40, status="ok")
else:
    try:
        s, first = connect()
        if first.startswith("! server full"):
            row.update(status="refused:FD_SETSIZE", refused=1)
        else:
            s.sendall(b"/stats\n")
            stall(s)
            reply = read_line(s)
            if not reply:
                row.update(status="server-died")
            else:
                stats = json.loads(reply)
                row["mechanism"] = stats["mechanism"]
                if os.environ.get("FAKE_LOADGEN_FAIL") == f"{stats['mechanism']}:{a.mode}":
                    print("loadgen: forced failure for the test", file=sys.stderr)
                    sys.exit(3)
                row.update(
                    msgs=1000,
                    throughput_msgs_s=5000,
                    p50_us=60 if a.hostile else 50,
                    p99_us=150 if a.hostile else 90,
                    server_cpu_us_per_msg=(
                        # Seeded by the run (its histogram file names the run id): a test
                        # that uses the noise gets the same draws every time.
                        3.5
                        * random.Random(
                            f"{stats['mechanism']}|{a.mode}|{a.idle_held}|"
                            + os.path.basename(a.histogram_out or "")
                        ).uniform(0.5, 1.5)
                        if os.environ.get("FAKE_LOADGEN_NOISY") == stats["mechanism"]
                        else 3.5 * cost_factor(stats["mechanism"])
                    ),
                    status="ok",
                    server_wait_calls=200,
                    server_events=220,
                    server_fds_passed=200 * (a.idle_held + 3),
                    server_ctl_calls=0,
                    server_cpu_us=3500,
                )
                capacity = server_capacity(stats["mechanism"], a.idle_held)
                if a.mode == "flood":
                    row["server_capacity_msgs_s"] = round(capacity, 1)
                if a.mode == "pingpong":
                    # Two relayed messages per question of the rate mode's (the question and
                    # its answer): the sweep's curves start from half of this.
                    row["server_capacity_msgs_s"] = round(2 * capacity, 1)
                if a.mode == "rate":
                    row.update(open_loop(capacity))
    except OSError:
        row.update(status="server-died")
w = csv.DictWriter(sys.stdout, fieldnames=COLUMNS)
if a.csv_header:
    w.writeheader()
w.writerow(row)
if a.histogram_out:
    with open(a.histogram_out, "w") as f:
        json.dump(
            {
                "format": "muxbench-histogram",
                "version": 1,
                "unit": "ns",
                "mechanism": row["mechanism"],
                "mode": a.mode,
                "total_count": 0,
                "buckets": [],
            },
            f,
        )
