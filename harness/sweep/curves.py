"""The offered-load phase (--curves, and --full; docs/running.md#offered-load-curves---curves).

After the sweep's own instances (and its extra rounds), in the setting and path the claims
judge: first, once, the loadgen's own open-loop capacity against the cheapest server at 0 idle;
then per idle count and mechanism a curve of open-loop runs (`loadgen --mode rate`) at offered
rates log-spaced from a low rate up past the point's capacity, and the capacity at the latency
objective (--slo-p99) by bisection between measured rates, in fresh instances (one per repeat, at
least rules.CAPACITY_REPEATS). Every run is an executor point (Sweep.point): its row goes to
runs.csv like any other, mode rate, label curve, capacity or loadgen-capacity. What a rate passes
and the capacity a repeat's rows give are plot/curves.py's, which the report reads the same way.
"""

import dataclasses
import math
import statistics

from harness.sweep import plan
from harness.sweep.rows import fnum
from plot import curves, rules

# A curve stops at the first rate the server no longer carries (achieved < 90 % of offered) or
# whose p99 exceeds 100 x the curve's first, low-load p99: past either, a higher rate measures only
# a queue that grows for the length of the window (issue 21's stopping rule).
STOP_ACHIEVED = 0.90
STOP_P99_FACTOR = 100.0
# The curve's rates: from LOW_FRACTION of the point's expected capacity, STEPS_PER_DECADE to a
# decade (x1.78), at most MAX_STEPS (up to 28 x the expected capacity): the stopping rule ends a
# curve near 1-2 x its capacity when the expectation was right, and still past it when the
# expectation was 10 x too low.
LOW_FRACTION = 0.05
STEPS_PER_DECADE = 4
MAX_STEPS = 12
# The expected capacity is the point's ping-pong server_capacity_msgs_s (10^6 / server CPU us per
# message, median of the ok repeats) over 2, when the sweep measured it: ping-pong pays a wake-up
# per message, as an open loop does at low load, and one offered question is two relayed messages
# (the question and its answer). Not flood's: flood batches 16 messages per wake-up, so 5 % of its
# capacity was already past poll's knee at 5000 idle and far from low load at 0 idle (the first
# real run's curves started at 70,000 msg/s with a "low-load" p99 of 584 us). Else flood's over 2,
# else this round figure, from which the curve's steps reach from 1,000 to 560,000 msg/s.
DEFAULT_EXPECTED_CAPACITY = 20000.0
# A rate run's window holds at least P99_MIN_SAMPLES replies when that fits in MAX_RATE_WINDOW_S:
# a p99 of fewer is one of the last few values (at 261 msg/s a 0.5 s window held 144 replies, and
# its p99 was nearly its max). 2000 leave 20 above the p99.
P99_MIN_SAMPLES = 2000
MAX_RATE_WINDOW_S = 4.0
# Bisection steps between the highest rate that met the objective and the lowest that did not:
# three shrink the gap of one curve step (x1.78) to x1.07.
BISECT_STEPS = 3
# A later repeat re-measures the curve's bracket; where it no longer holds there, it moves by one
# curve step at a time, at most this many.
BRACKET_MOVES = 3
# The loadgen's own capacity: offered rates doubling from the largest expected capacity, until the
# loadgen is busy (rules.LOADGEN_BUSY_PCT) or the server stops carrying the load, at most this
# many steps.
LOADGEN_STEPS = 8
# The estimate's runs per later repeat (the bracket's two rates and the bisection, near the
# capacity) and of the loadgen's own capacity.
EXPECTED_REPEAT_RUNS = 2 + BISECT_STEPS
EXPECTED_LOADGEN_RUNS = 4
# The estimate's expected capacity of a point, before the sweep has measured it: the default, and
# for a mechanism whose cost grows with idle descriptors (the registry's cost_independent_of_idle
# false) the default over 1 + count / SCAN_HALF_COUNT. In the reference run (2026-12-07) poll's
# expected capacity at 5000 idle was 1/39 of the one at 0 (638 against 24,746 questions/s): 130.
# It sets how many of a curve's runs get long windows; before it, the estimate counted every rate
# run at the sweep's window and came out at half the measured time (94 s against 187 s there).
SCAN_HALF_COUNT = 130.0


def step_factor():
    return 10 ** (1 / STEPS_PER_DECADE)


def capacity_repeats(args):
    """Fresh instances per capacity: the sweep's repeats, at least the rule's (rules.py)."""
    return max(rules.CAPACITY_REPEATS, args.repeats)


def window_s(rate, duration_s):
    """A rate run's measuring window: P99_MIN_SAMPLES replies where that fits in
    MAX_RATE_WINDOW_S, and never shorter than the sweep's own window."""
    return min(MAX_RATE_WINDOW_S, max(duration_s, P99_MIN_SAMPLES / rate))


def planned_capacity(mech, count):
    """The estimate's expected capacity of a point (questions/s; see SCAN_HALF_COUNT)."""
    if mech.cost_independent_of_idle:
        return DEFAULT_EXPECTED_CAPACITY
    return DEFAULT_EXPECTED_CAPACITY / (1 + count / SCAN_HALF_COUNT)


def point_estimate(expected, repeats, args):
    """Expected seconds of one point's runs: a whole curve (every step: on our VM the stopping rule
    did not end one early), its bisection, and each later repeat near the capacity."""

    def run(rate):
        return plan.run_cost(args.warmup, window_s(rate, args.duration))

    curve = sum(run(expected * LOW_FRACTION * step_factor() ** i) for i in range(MAX_STEPS))
    near = run(expected)
    return curve + BISECT_STEPS * near + (repeats - 1) * EXPECTED_REPEAT_RUNS * near


def estimate(mechs, counts, args):
    """Expected seconds of the phase (plan.py's cost model); mechs: mechanisms.Mechanism."""
    repeats = capacity_repeats(args)
    run = plan.run_cost(args.warmup, args.duration)
    total = EXPECTED_LOADGEN_RUNS * run + plan.setup_cost(0)
    for count in counts:
        measured = [m for m in mechs if not plan.predicts_refusal(m.name, count)]
        total += repeats * len(mechs) * plan.setup_cost(count)
        total += sum(point_estimate(planned_capacity(m, count), repeats, args) for m in measured)
    return total


class CurvePhase:
    """The phase on one sweep (executor.Sweep): run() measures it and records in env.json's
    `curves` and `loadgen_capacity` what it did."""

    def __init__(self, sweep):
        self.sweep = sweep
        self.args = sweep.args
        self.slo = self.args.slo_p99
        self.repeats = capacity_repeats(self.args)
        self.record = sweep.env["curves"] = {
            "slo_p99_us": self.slo,
            "arrival": self.args.arrival,
            "repeats": self.repeats,
            "rule": (
                f"rates x{step_factor():.2f} from {LOW_FRACTION:g} x the expected capacity;"
                f" a curve stops when achieved < {STOP_ACHIEVED:.0%} of offered or p99 >"
                f" {STOP_P99_FACTOR:g} x its first p99; capacity: the highest rate with achieved"
                f" >= {rules.OBJECTIVE_ACHIEVED_MIN:.0%} of offered and p99 <= {self.slo:g} us,"
                f" {BISECT_STEPS} bisection steps, {self.repeats} fresh instances"
            ),
            "mechanisms": [m.name for m in sweep.curve_mechs],
            "counts": list(sweep.curve_counts),
            "points": [],
        }

    def run(self):
        self.sweep.use_primary_setting()
        self.sweep.env["loadgen_capacity"] = self.loadgen_capacity()
        for count in self.sweep.curve_counts:
            self.at_count(count)

    def measure(self, count, t, repeat, rate, tag):
        self.sweep.points_total += 1
        window = window_s(rate, self.args.duration)
        variant = dataclasses.replace(
            self.args.variants[0], rate=int(round(rate)), tag=tag, duration_s=round(window, 3)
        )
        return curves.Step(self.sweep.point(count, t, repeat, curves.MODE, variant))

    def expected_capacity(self, mechanism, count):
        """(questions/s, where it comes from): the point's ping-pong capacity over 2, else its
        flood capacity over 2, else the default."""
        sweep = self.sweep
        for mode in ("pingpong", "flood"):
            values = [
                fnum(r.get("server_capacity_msgs_s"))
                for r in sweep.csv.rows
                if r.get("mechanism") == mechanism
                and str(r.get("idle")) == str(count)
                and r.get("mode") == mode
                and r.get("bench_status") == "ok"
                and r.get("net") == sweep.nets[0]
                and str(r.get("hostile") or 0) == "0"
            ]
            values = [v for v in values if v]
            if values:
                return (
                    statistics.median(values) / 2,
                    f"{mode} server_capacity_msgs_s / 2 ({len(values)} runs)",
                )
        return DEFAULT_EXPECTED_CAPACITY, "default (no ping-pong or flood capacity measured)"

    def loadgen_capacity(self):
        """The loadgen's own open-loop capacity against the cheapest server at 0 idle."""
        sweep = self.sweep
        mechs = [m for m in sweep.mechs if m.name not in sweep.unavailable]
        if not mechs:
            return {"msgs_s": None, "limit": "", "words": "not measured: no server to run"}
        mech = max(mechs, key=lambda m: self.expected_capacity(m.name, 0)[0])
        rate = max(self.expected_capacity(m.name, 0)[0] for m in mechs)
        targets = sweep.fresh_instance(0, [mech], 1, "loadgen capacity")
        steps, limit = [], "steps"
        for _ in range(LOADGEN_STEPS):
            if targets[0].blocked is not None:
                break
            step = self.measure(0, targets[0], 1, rate, curves.LOADGEN_CAPACITY)
            steps.append(step)
            if not step.measured:
                limit = f"status {step.status}"
                break
            if step.loadgen_busy:
                limit = "loadgen"
                break
            if step.achieved < STOP_ACHIEVED * step.offered:
                limit = "server"
                break
            rate *= 2
        sweep.finish(0, targets)
        measured = [s for s in steps if s.measured]
        best = max((s.achieved for s in measured), default=None)
        words = {
            "loadgen": f"the loadgen reached {rules.LOADGEN_BUSY_PCT:g} % of a CPU",
            "server": f"a lower bound: {mech.name} stopped carrying the load first",
            "steps": f"a lower bound: {LOADGEN_STEPS} doublings did not reach the loadgen's limit",
        }.get(limit, f"not measured ({limit})")
        record = {
            "msgs_s": best,
            "limit": limit,
            "mechanism": mech.name,
            "idle": 0,
            "arrival": self.args.arrival,
            "words": words,
            "steps": [
                {
                    "offered": s.offered,
                    "achieved": s.achieved,
                    "loadgen_cpu_pct": s.loadgen_cpu,
                    "max_send_lag_us": s.send_lag,
                    "run_id": s.row.get("run_id"),
                }
                for s in steps
            ],
        }
        sweep.note(
            f"loadgen open-loop capacity: {best or 0:.0f} msg/s against {mech.name} at 0 idle"
            f" ({words})"
        )
        return record

    def refused_at(self, name, count):
        return any(k[0] == name and k[1] == count for k in self.sweep.refused)

    def at_count(self, count):
        sweep = self.sweep
        mechs = [m for m in sweep.curve_mechs if not self.refused_at(m.name, count)]
        points = {}
        for m in sweep.curve_mechs:
            if m not in mechs:
                self.record["points"].append(
                    {"mechanism": m.name, "idle": count, "skipped": "refused at this count"}
                )
        if not mechs:
            return
        for repeat in range(1, self.repeats + 1):
            targets = sweep.fresh_instance(
                count, mechs, repeat, f"curves repeat {repeat}/{self.repeats}"
            )
            for t in sweep.in_turn(targets, repeat):
                if t.blocked is not None:
                    points.setdefault(t.mech.name, {"skipped": t.blocked})
                    continue
                if repeat == 1:
                    points[t.mech.name] = self.curve(count, t)
                else:
                    self.repeat_search(count, t, repeat, points.get(t.mech.name))
            sweep.finish(count, targets)
        for name, point in points.items():
            self.record["points"].append(dict(mechanism=name, idle=count, **point))

    def curve(self, count, t):
        """The curve of one point (repeat 1), then the bisection on the same instance."""
        expected, source = self.expected_capacity(t.mech.name, count)
        steps, first_p99 = [], None
        stopped = f"{MAX_STEPS} steps without reaching the stopping rule"
        for i in range(MAX_STEPS):
            step = self.measure(count, t, 1, expected * LOW_FRACTION * step_factor() ** i, "curve")
            steps.append(step)
            why = self.stop_reason(step, first_p99)
            if first_p99 is None and step.measured:
                first_p99 = step.p99
            if why:
                stopped = why
                break
        curve_steps = len(steps)
        self.bisect(count, t, 1, steps)
        found = curves.RepeatCapacity(steps, self.slo)
        return {
            "expected_msgs_s": round(expected, 1),
            "expected_from": source,
            "curve_steps": curve_steps,
            "curve_stopped": stopped,
            "bracket": [found.rate, found.failure],
        }

    @staticmethod
    def stop_reason(step, first_p99):
        if not step.measured:
            return f"status {step.status}"
        if not step.intact:
            return f"{step.lost:.0f} lost (status {step.status})"
        if step.achieved < STOP_ACHIEVED * step.offered:
            return (
                f"achieved {step.achieved:.0f} < {STOP_ACHIEVED:.0%} of {step.offered:.0f} msg/s"
                " offered"
            )
        if first_p99 and step.p99 > STOP_P99_FACTOR * first_p99:
            return f"p99 {step.p99:.0f} us > {STOP_P99_FACTOR:g} x the low-load p99 {first_p99:g}"
        return None

    def repeat_search(self, count, t, repeat, point):
        """A later repeat: the curve's bracket measured again (moved where it no longer holds),
        then bisected."""
        lo, hi = (point or {}).get("bracket") or (None, None)
        steps = []
        for rate in (r for r in (lo, hi) if r):
            steps.append(self.measure(count, t, repeat, rate, curves.CAPACITY))
            if not steps[-1].measured:
                return
        for _ in range(BRACKET_MOVES):
            found = curves.RepeatCapacity(steps, self.slo)
            if found.rate is None and found.measured:
                rate = min(s.offered for s in steps) / step_factor()
            elif found.failure is None and found.measured:
                rate = max(s.offered for s in steps) * step_factor()
            else:
                break
            steps.append(self.measure(count, t, repeat, rate, curves.CAPACITY))
            if not steps[-1].measured:
                return
        self.bisect(count, t, repeat, steps)

    def bisect(self, count, t, repeat, steps):
        """BISECT_STEPS halvings (in log) of the gap between this repeat's highest passing rate
        and its lowest failing one; `steps` grows with the runs made."""
        for _ in range(BISECT_STEPS):
            found = curves.RepeatCapacity(steps, self.slo)
            if found.rate is None or found.failure is None or found.failure <= found.rate * 1.01:
                return
            steps.append(
                self.measure(
                    count, t, repeat, math.sqrt(found.rate * found.failure), curves.CAPACITY
                )
            )
            if not steps[-1].measured:
                return
