"""Rows and columns a synthetic results folder gets for one report section each: the kernel
memory and hold-time columns (scale), hostile clients beside the active ones, and a leaky close
that costs more with idle connections (plot/idle_growth.py)."""

import csv
import os
import random

from harness.common import runs_csv
from plot.tests.synthetic import number_or_none, write_renumbered

# ---- the scale columns of issue 11: kernel bytes per idle connection and idle_open_s
# ------------------

SCALE_COLUMNS = [
    "idle_open_s",
    "series_file",
    "kernel_bytes_per_idle_server",
    "kernel_bytes_per_idle_holders",
    "kernel_bytes_per_idle_both",
    "kernel_bytes_method",
]


def with_scale_columns(folder, server=None, holders=None, both=7000.0, open_per_conn_s=5e-5):
    """Adds the kernel-memory columns (the same bytes at every idle count; server/holders None:
    a machine that cannot tell the sides apart) and idle_open_s (open_per_conn_s per connection)
    to every measured row of folder/runs.csv with idle > 0."""
    path = os.path.join(folder, "runs.csv")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        columns = list(reader.fieldnames) + [c for c in SCALE_COLUMNS if c not in reader.fieldnames]
        rows = list(reader)
    sides = server is not None and holders is not None
    for r in rows:
        idle = int(float(r.get("idle") or 0))
        if r.get("mechanism") == "floor" or idle == 0:
            continue
        r["idle_open_s"] = idle * open_per_conn_s
        r["kernel_bytes_per_idle_server"] = server if sides else ""
        r["kernel_bytes_per_idle_holders"] = holders if sides else ""
        r["kernel_bytes_per_idle_both"] = both
        r["kernel_bytes_method"] = "cgroup" if sides else "global: synthetic, no cgroup v2"
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return folder


HOSTILE_COLUMNS = runs_csv.HOSTILE_COLUMNS


def with_hostile_rows(
    folder, p50_factor=1.2, p99_factor=1.5, cpu_factor=1.3, lost=None, cut=None, k=12
):
    """Adds the sweep's hostile phase to folder/runs.csv: after every ok 0-idle pingpong row, the
    same point again with k hostile clients, p50, p99 and server CPU per message multiplied by the
    factors; the counters
    are 10 k connections, 1 refused, k dropped, 0 errors. lost: mechanism -> honest messages lost
    in its repeat 1; cut: a mechanism whose repeat 2 the server cut off
    (error:dropped-by-server)."""
    path = os.path.join(folder, "runs.csv")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        columns = list(reader.fieldnames) + [
            c for c in HOSTILE_COLUMNS if c not in reader.fieldnames
        ]
        rows = list(reader)
    out = []
    for r in rows:
        out.append(r)
        if not (r["mode"] == "pingpong" and r["idle"] == "0" and r["mechanism"] != "floor"):
            continue
        if r["status"] != "ok":
            continue
        h = dict(r)
        h.update(
            hostile=k,
            hostile_kinds="slowloris+never-read+reset-mid-line+vanish+overlong+storm",
            hostile_connects=10 * k,
            hostile_refused=1,
            hostile_dropped=k,
            hostile_errors=0,
            p50_us=f"{float(r['p50_us']) * p50_factor:.3f}",
            p99_us=f"{float(r['p99_us']) * p99_factor:.3f}",
            server_cpu_us_per_msg=f"{float(r['server_cpu_us_per_msg']) * cpu_factor:.3f}",
            lost=(lost or {}).get(r["mechanism"], 0) if r["repeat"] == "1" else 0,
        )
        if cut == r["mechanism"] and r["repeat"] == "2":
            h.update(status="error:dropped-by-server", bench_status="error:dropped-by-server")
        out.append(h)
    write_renumbered(path, columns, out)
    return folder


# ---- costs that grow with idle connections (plot/idle_growth.py) -----------------------------

# Idle connections at which a leaky close has doubled a connection's cost.
LEAKY_CLOSE_IDLE = 1500.0


def with_regimes_and_leaky_close(
    folder, actives=(2, 4, 8, 16), leaky="uring-completion", noise=0.03, seed=11
):
    """Rewrites folder/runs.csv (written by write(churn=True)): every measured row once per active
    count in actives (the regimes CostRatio takes as its points), each copy's figures jittered by
    ±noise, the failed row of write() failed in the first regime only; and a mechanism `leaky`, a
    copy of epoll-lt whose churn pays a close that grows in proportion to the idle connections
    (connections per second ÷ (1 + idle / LEAKY_CLOSE_IDLE), server CPU per connection × the same
    factor); its other modes stay flat."""
    path = os.path.join(folder, "runs.csv")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        columns = list(reader.fieldnames)
        rows = list(reader)
    rng = random.Random(seed)
    out = [r for r in rows if r["mechanism"] == "floor"]
    measured = [r for r in rows if r["mechanism"] != "floor"]
    measured += [leaky_copy(r, leaky) for r in measured if r["mechanism"] == "epoll-lt"]
    for i, active in enumerate(actives):
        for r in measured:
            if i and r["status"] == "server-died":
                r = dict(same_point(measured, r, repeat="2"), repeat=r["repeat"])
            copy = dict(r, active=active)
            for key in ("p50_us", "throughput_msgs_s", "conns_per_s", "server_cpu_us_per_msg"):
                if i and number_or_none(copy.get(key)) is not None:
                    copy[key] = f"{float(copy[key]) * (1 + rng.uniform(-noise, noise)):.3f}"
            out.append(copy)
    write_renumbered(path, columns, out)
    return folder


def same_point(rows, row, repeat):
    keys = ("mechanism", "mode", "idle")
    return next(r for r in rows if all(r[k] == row[k] for k in keys) and r["repeat"] == repeat)


def leaky_copy(row, name):
    r = dict(row, mechanism=name)
    if r["mode"] != "churn" or r["status"] != "ok":
        return r
    factor = 1.0 + int(r["idle"]) / LEAKY_CLOSE_IDLE
    r["conns_per_s"] = f"{float(r['conns_per_s']) / factor:.1f}"
    r["server_cpu_us_per_msg"] = f"{float(r['server_cpu_us_per_msg']) * factor:.3f}"
    return r
