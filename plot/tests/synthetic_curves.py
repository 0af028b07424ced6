"""Offered-load curves and capacities in a synthetic results folder (plot/curves.py, claim 12): rate
rows whose p99 follows a single queue up to a stated capacity, repeat by repeat."""

import csv
import json
import os

from plot.tests.synthetic import ACTIVE

# ---- offered-load curves and capacities (plot/curves.py, claim 12) ---------------------------

CURVE_LOW_P99 = 80.0  # µs: p99 = CURVE_LOW_P99 / (1 - load) below capacity, a single queue's
CURVE_SLO = 1000.0
# The bisection's last gap: a repeat's capacity lies between a passing rate and one 7 % above it.
CURVE_RESOLUTION = 1.07


def failing_steps(lowest):
    """A point whose capacity lies below every rate measured: `lowest` and two curve steps above
    it, each failing the objective (p99 3 × the objective), the loadgen idle."""
    return [
        dict(
            label="curve",
            rate=f"{rate:.1f}",
            throughput_msgs_s=f"{rate:.1f}",
            p50_us=f"{CURVE_SLO:.1f}",
            p99_us=f"{3 * CURVE_SLO:.1f}",
            lost=0,
            loadgen_cpu_pct=20.0,
        )
        for rate in (lowest, lowest * 10**0.25, lowest * 10**0.5)
    ]


def curve_steps(capacity, repeat, busy_loadgen=False):
    """The rate rows one repeat of the sweep's search would leave for a point whose true capacity
    at the objective is `capacity` msg/s: on repeat 1 the curve (rates ×1.78 from 5 % of it until
    one fails), on every repeat the pass at `capacity` and the failure just above it. A failure
    with busy_loadgen is one the loadgen bound (≥ 90 % of a CPU). capacity ("below", R): even the
    lowest rate measured, R, failed (failing_steps)."""
    if isinstance(capacity, tuple):
        return failing_steps(capacity[1])
    # The server's own capacity: at 90 % of it p99 is 800 µs, within the objective.
    server = capacity / 0.9
    rates = []
    if repeat == 1:
        rate = capacity * 0.05
        while rate <= capacity:
            rates.append(("curve", rate))
            rate *= 10**0.25
        rates.append(("curve", rate))
    rates += [("capacity", capacity), ("capacity", capacity * CURVE_RESOLUTION)]
    out = []
    for label, rate in rates:
        load = rate / server
        passes = rate <= capacity * 1.0001
        p99 = CURVE_LOW_P99 / (1 - load) if passes else CURVE_SLO * 1.5 + 1000 * (load - 0.9)
        out.append(
            dict(
                label=label,
                rate=f"{rate:.1f}",
                throughput_msgs_s=f"{min(rate, server):.1f}",
                p50_us=f"{p99 / 3:.1f}",
                p99_us=f"{p99:.1f}",
                lost=0,
                loadgen_cpu_pct=95.0 if busy_loadgen and not passes else 20.0,
            )
        )
    return out


def with_curve_rows(folder, capacities, busy_loadgen=(), slo=CURVE_SLO, loadgen=None):
    """Adds the sweep's offered-load phase to folder/runs.csv and env.json. capacities:
    {(mechanism, idle): [true capacity of repeat 1, 2, …]}; busy_loadgen: the (mechanism, idle)
    points whose failing rates the loadgen bound; loadgen: env.json's loadgen_capacity."""
    path = os.path.join(folder, "runs.csv")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        columns, rows = list(reader.fieldnames), list(reader)
    for (mech, idle), values in capacities.items():
        for repeat, capacity in enumerate(values, 1):
            for step in curve_steps(capacity, repeat, (mech, idle) in busy_loadgen):
                row = {c: "" for c in columns}
                row.update(
                    step,
                    mechanism=mech,
                    mode="rate",
                    idle=idle,
                    repeat=repeat,
                    active=ACTIVE,
                    status="ok",
                    bench_status="ok",
                    placement="split",
                )
                rows.append(row)
    for i, r in enumerate(rows, 1):
        r["run_id"] = i
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    env_path = os.path.join(folder, "env.json")
    env = {}
    if os.path.exists(env_path):
        with open(env_path) as f:
            env = json.load(f)
    env["curves"] = {"slo_p99_us": slo, "arrival": "poisson", "repeats": 3}
    if loadgen is not None:
        env["loadgen_capacity"] = loadgen
    with open(env_path, "w") as f:
        json.dump(env, f)
    return folder
