"""Offered-load curves and the capacity at a latency objective, read from runs.csv's rate rows.

A sweep with --curves (harness/sweep/curves.py) runs `loadgen --mode rate` at scheduled offered
rates: per mechanism and idle count a curve (label `curve`, repeat 1) and, in fresh instances, a
bisection for the capacity (label `capacity`, repeats 1, 2, …); once, the loadgen's own open-loop
capacity (label `loadgen-capacity`). What a rate passes and the capacity a repeat's rows give are
defined here only, so that the sweep's search and the report read the same rows the same way.

A repeat's capacity at the objective: the highest offered rate that met it (rules.py: achieved >=
OBJECTIVE_ACHIEVED_MIN of offered, p99 <= the objective, nothing lost) below the lowest rate that
did not. It is a lower bound when that lowest failing rate was bound by the loadgen (>=
LOADGEN_BUSY_PCT of a CPU) or when no measured rate failed.
"""

import math

from plot import rules
from plot import student_t
from plot.run_row import COST_MEASURED, CURVE_MODE, number
from plot.shape_rules import Estimate

MODE = CURVE_MODE
# The statuses of a run that measured the server at its offered rate. An overloaded server leaves
# questions unanswered by the end of the loadgen's drain, which the loadgen counts as `lost` and
# reports as integrity-errors: that rate failed, it was not left unmeasured.
MEASURED = COST_MEASURED + ("integrity-errors",)
CURVE = "curve"
CAPACITY = "capacity"
LOADGEN_CAPACITY = "loadgen-capacity"


class Step:
    """One rate run: offered and achieved msg/s, its latency percentiles and who was busy.
    row: a runs.csv row as a dict of strings (the sweep's rows and the report's alike)."""

    def __init__(self, row):
        self.row = row
        self.offered = number(row.get("rate"))
        self.achieved = number(row.get("throughput_msgs_s"))
        self.p50 = number(row.get("p50_us"))
        self.p99 = number(row.get("p99_us"))
        self.p999 = number(row.get("p999_us"))
        self.max = number(row.get("max_us"))
        self.lost = number(row.get("lost")) or 0
        self.loadgen_cpu = number(row.get("loadgen_cpu_pct"))
        self.server_cpu = number(row.get("server_cpu_pct"))
        self.send_lag = number(row.get("max_send_lag_us"))
        self.status = (row.get("bench_status") or row.get("status") or "").strip()
        self.repeat = int(number(row.get("repeat")) or 1)

    @property
    def measured(self):
        """The run measured the server at its offered rate (MEASURED) and gave its figures."""
        return (
            self.status in MEASURED and bool(self.offered) and None not in (self.achieved, self.p99)
        )

    @property
    def intact(self):
        """Every question answered, nothing corrupted (ok, or ok but loadgen-bound)."""
        return self.status in COST_MEASURED and self.lost == 0

    def meets(self, slo_p99_us):
        return (
            self.measured
            and self.intact
            and self.achieved >= rules.OBJECTIVE_ACHIEVED_MIN * self.offered
            and self.p99 <= slo_p99_us
        )

    @property
    def loadgen_busy(self):
        return self.loadgen_cpu is not None and self.loadgen_cpu >= rules.LOADGEN_BUSY_PCT


class RepeatCapacity:
    """The capacity one repeat's rate runs give (see the module's docstring). rate is None when
    even the lowest measured rate failed (the capacity is below it) or nothing was measured."""

    def __init__(self, steps, slo_p99_us):
        measured = sorted((s for s in steps if s.measured), key=lambda s: s.offered)
        first_pass = next((s.offered for s in measured if s.meets(slo_p99_us)), None)
        # Rates that failed below the first passing one: the tail at low load, not a queue (a
        # queue only grows with the rate). Measured on a VM whose idle vCPUs halt: at 300 msg/s
        # the p99 was 3 ms, at 80,000 msg/s 160 us, because an idle CPU wakes late. They neither
        # bound the capacity nor hide it; the report lists them.
        self.low_load_failures = [
            s.offered for s in measured if first_pass is not None and s.offered < first_pass
        ]
        failing = [
            s
            for s in measured
            if not s.meets(slo_p99_us) and (first_pass is None or s.offered > first_pass)
        ]
        self.first_failure = failing[0] if failing else None
        edge = self.first_failure.offered if failing else math.inf
        passing = [s.offered for s in measured if s.meets(slo_p99_us) and s.offered < edge]
        self.rate = max(passing) if passing else None
        self.failure = edge if failing else None
        self.measured = len(measured)
        # Even the lowest rate measured failed, and not because the loadgen was busy: the
        # capacity lies below that rate (an upper bound, which can show a capacity that fell).
        self.ceiling = (
            measured[0].offered
            if self.rate is None
            and failing
            and failing[0] is measured[0]
            and not measured[0].loadgen_busy
            else None
        )
        if not failing:
            self.lower_bound = "no offered rate failed the objective" if measured else None
        elif self.first_failure.loadgen_busy:
            self.lower_bound = (
                f"the loadgen used {self.first_failure.loadgen_cpu:.0f} % of a CPU at"
                f" {self.first_failure.offered:.0f} msg/s offered"
            )
        else:
            self.lower_bound = None


class Capacity:
    """The capacity of one (mechanism, idle count) over its repeats: mean and 95 % interval
    (shape_rules.Estimate, a Student t on the repeats), and why it is a lower bound, if it is."""

    def __init__(self, repeats):
        self.repeats = repeats  # {repeat: RepeatCapacity}
        values = [c.rate for c in repeats.values() if c.rate is not None]
        self.estimate = Estimate(values)
        # A repeat's capacity is known to lie between its highest passing rate and its lowest
        # failing one: the bisection's resolution. Repeats that stop on the same measured rate
        # would otherwise give an interval of zero width; the resolution's own variance (uniform
        # over the gap) is added to the mean's.
        gaps = [(c.failure - c.rate) ** 2 / 12 for c in repeats.values() if c.rate and c.failure]
        if gaps and self.estimate.n:
            self.estimate.var += sum(gaps) / len(gaps) / self.estimate.n
        self.lower_bounds = [
            f"repeat {r}: {c.lower_bound}" for r, c in sorted(repeats.items()) if c.lower_bound
        ]
        self.below_lowest = [r for r, c in sorted(repeats.items()) if c.rate is None and c.measured]
        self.low_load_failures = {
            r: c.low_load_failures for r, c in sorted(repeats.items()) if c.low_load_failures
        }
        # Every repeat failed at its lowest rate: the capacity is below the highest of those.
        ceilings = [c.ceiling for c in repeats.values()]
        self.ceiling = max(ceilings) if ceilings and None not in ceilings else None

    @property
    def mean(self):
        return self.estimate.mean

    def interval(self):
        """(low, high) at rules.CONFIDENCE, or None with fewer than 2 repeats."""
        e = self.estimate
        if e.n < 2:
            return None
        half = student_t.t_quantile(rules.CONFIDENCE, e.df) * math.sqrt(e.var)
        return max(e.mean - half, 0.0), e.mean + half


class Curves:
    """The rate rows of a results folder (ResultsFolder.curve_runs), grouped: curves, capacities,
    the objective and the loadgen's own capacity from env.json's `curves` and `loadgen_capacity`."""

    def __init__(self, results):
        self.results = results
        env = results.raw_env
        record = env.get("curves") if isinstance(env.get("curves"), dict) else {}
        self.slo_p99_us = number(record.get("slo_p99_us")) or rules.DEFAULT_SLO_P99_US
        lg = env.get("loadgen_capacity") if isinstance(env.get("loadgen_capacity"), dict) else {}
        self.loadgen_capacity = number(lg.get("msgs_s"))
        self.loadgen_limit = lg.get("limit") or ""
        self.loadgen_words = lg.get("words") or ""
        self.steps = {}
        for run in results.curve_runs:
            if run.text("label") in (CURVE, CAPACITY):
                self.steps.setdefault((run.mechanism, run.idle), []).append(Step(run.row))

    def __bool__(self):
        return bool(self.steps)

    def mechanisms(self):
        return [m for m in self.results.mechanisms(self.results.curve_runs) if self.idles(m)]

    def idles(self, mechanism=None):
        return sorted({i for m, i in self.steps if mechanism in (None, m)})

    def curve(self, mechanism, idle):
        """The curve's steps (label curve) in offered order, measured or not."""
        steps = [s for s in self.steps.get((mechanism, idle), []) if s.row.get("label") == CURVE]
        return sorted(steps, key=lambda s: s.offered or 0)

    def low_load_p99(self, mechanism, idle):
        measured = [s for s in self.curve(mechanism, idle) if s.measured]
        return measured[0].p99 if measured else None

    def capacity(self, mechanism, idle):
        by_repeat = {}
        for s in self.steps.get((mechanism, idle), []):
            by_repeat.setdefault(s.repeat, []).append(s)
        return Capacity(
            {r: RepeatCapacity(steps, self.slo_p99_us) for r, steps in sorted(by_repeat.items())}
        )

    def beyond_loadgen(self, step):
        """Offered beyond what the loadgen itself was measured to sustain (only when that
        measurement reached the loadgen's limit)."""
        return (
            self.loadgen_limit == "loadgen"
            and self.loadgen_capacity is not None
            and step.offered is not None
            and step.offered > self.loadgen_capacity
        )
