"""Costs that grow with idle connections, in our own servers.

A mechanism whose model says its cost does not depend on idle descriptors (the registry's
`cost_independent_of_idle`: epoll, io_uring) is measured at the run's largest idle count against 0
idle, in every mode of the run: the mode's headline figure (run_row.HEADLINE) and the
server CPU per message (per connection under churn). Each comparison is a rules.CostRatio of the
cost at the largest count over the cost at 0 (a rate is turned into a cost, 1 / rate), classified
by rules.idle_growth_class. A cost that grows there is a scaling bug of ours (an O(idle) close, a
scan of every connection), not a property of the mechanism.

Structured results only; report.py writes the prose. Stdlib only.
"""

import json
import os
import statistics
import subprocess
from dataclasses import dataclass, field

from harness.common import mechanisms
from plot import rules
from plot.run_row import COST, HEADLINE, scenario_label

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REGISTRY_FIELD = "cost_independent_of_idle"


@dataclass
class Registry:
    """The mechanisms whose model predicts a cost independent of idle descriptors, as a server
    binary's --list-mechanisms says; source names the binary, problem why none could be read.
    groups and refuses_fd_setsize carry the same listing's `group` (name -> "ours", "libraries",
    "python") and `refuses_past_fd_setsize` (names) for the peers section (plot/peers_section.py).
    """

    flat: list = field(default_factory=list)
    source: str = ""
    problem: str = ""
    groups: dict = field(default_factory=dict)
    refuses_fd_setsize: list = field(default_factory=list)


def _listing(path):
    """(table, problem) of one binary's --list-mechanisms."""
    try:
        done = subprocess.run(
            [path, "--list-mechanisms"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, str(e)
    if done.returncode != 0:
        return None, f"exit {done.returncode}: {done.stderr.strip()[:200]}"
    try:
        table = json.loads(done.stdout)
    except ValueError as e:
        return None, f"unreadable --list-mechanisms output ({e})"
    if not isinstance(table, list) or not all(isinstance(e, dict) for e in table):
        return None, "--list-mechanisms is not a JSON array of objects"
    if not any(REGISTRY_FIELD in e for e in table):
        return None, f"its registry has no {REGISTRY_FIELD} (built before it; ./bench build)"
    return table, ""


def server_binaries(bin_dirs):
    """Every chat-* executable of the given directories, in their order."""
    return [os.path.join(d, n) for d in bin_dirs for n in mechanisms.server_binaries(d)]


def bin_dirs(results, bin_dir=None):
    """Where to look for a server that lists the registry: the given directory (report --bin, or
    MUXBENCH_BIN), this checkout's build/bin, then the binaries the run itself used (env.json)."""
    dirs = [bin_dir or os.environ.get("MUXBENCH_BIN"), os.path.join(ROOT, "build", "bin")]
    for m in results.raw_env.get("mechanisms") or []:
        command = m.get("command") if isinstance(m, dict) else None
        if isinstance(command, list) and command and isinstance(command[0], str):
            dirs.append(os.path.dirname(command[0]))
    return [d for d in dict.fromkeys(dirs) if d]


def shown(path):
    """A path as the report shows it: relative to the checkout when inside it."""
    inside = os.path.commonpath([ROOT, os.path.abspath(path)]) == ROOT
    return os.path.relpath(path, ROOT) if inside else path


def read_registry(dirs):
    """The first listing of dirs' servers that carries REGISTRY_FIELD."""
    problems = {}  # what went wrong -> the servers it went wrong with
    for path in server_binaries(dirs):
        table, problem = _listing(path)
        if table is not None:
            named = [e for e in table if e.get("name")]
            return Registry(
                flat=[e["name"] for e in named if e.get(REGISTRY_FIELD)],
                source=shown(path),
                groups={e["name"]: e.get("group", mechanisms.DEFAULT_GROUP) for e in named},
                refuses_fd_setsize=[e["name"] for e in named if e.get("refuses_past_fd_setsize")],
            )
        problems.setdefault(problem, []).append(path)
    if not problems:
        return Registry(problem=f"no chat-* server in {', '.join(dirs) or 'any bin directory'}")
    return Registry(problem="; ".join(f"{', '.join(p)}: {why}" for why, p in problems.items()))


@dataclass
class Comparison:
    """One mechanism × mode × figure: cost at `largest` idle against 0 idle."""

    mechanism: str
    mode: str
    metric: str
    higher_is_better: bool
    largest: int
    cost: object = None  # the rules.CostRatio, None when not computed
    outcome: str = rules.IDLE_GROWTH_NOT_COMPARED
    reason: str = ""  # why not compared
    # point label -> (median at 0, median at largest) of the figure itself (not the cost)
    medians: dict = field(default_factory=dict)
    repeats: tuple = (0, 0)  # fewest ok repeats of a point at 0 and at largest

    @property
    def listed(self):
        return self.outcome in (rules.IDLE_GROWTH_FINDING, rules.IDLE_GROWTH_POSSIBLE)


@dataclass
class IdleGrowth:
    registry: Registry
    comparisons: list = field(default_factory=list)
    skipped_modes: list = field(default_factory=list)  # (mode, why) where nothing was compared

    def of(self, outcome):
        return [c for c in self.comparisons if c.outcome == outcome]


def figures(mode):
    """The figures compared in a mode: (metric, higher_is_better); the headline only when the mode
    names one and rules.COMPARE_WORSE knows its direction."""
    out = []
    headline = HEADLINE.get(mode)
    if headline in rules.COMPARE_WORSE:
        out.append((headline, rules.COMPARE_WORSE[headline] == "lower"))
    out.append((COST, False))
    return out


def as_cost(value, higher_is_better):
    if value is None or value <= 0:
        return None
    return 1.0 / value if higher_is_better else value


def point_of(run):
    """A point of the comparison: the regime of a row without its idle count (placement, active
    connections, size, rate, idle states), so that every regime measured at both counts counts."""
    return run.scenario


def rows_at(results, mechanism, mode, idle):
    return [
        r
        for r in results.runs
        if not r.is_floor and r.mechanism == mechanism and r.mode == mode and r.idle == idle
    ]


def side(rows, metric, higher_is_better):
    """{point: [(repeat, cost)]} and {point: [figure]} of the ok rows."""
    costs, values = {}, {}
    for r in rows:
        value = r.metric(metric) if r.ok else None
        cost = as_cost(value, higher_is_better)
        if cost is None:
            continue
        costs.setdefault(point_of(r), []).append((r.repeat, cost))
        values.setdefault(point_of(r), []).append(value)
    return costs, values


def compare(results, mechanism, mode, metric, higher_is_better, largest):
    c = Comparison(mechanism, mode, metric, higher_is_better, largest)
    zero_rows = rows_at(results, mechanism, mode, 0)
    big_rows = rows_at(results, mechanism, mode, largest)
    b, values_zero = side(zero_rows, metric, higher_is_better)
    a, values_big = side(big_rows, metric, higher_is_better)
    c.repeats = (
        min((len(v) for v in b.values()), default=0),
        min((len(v) for v in a.values()), default=0),
    )
    for point in [p for p in a if p in b]:
        c.medians[scenario_label(point)] = (
            statistics.median(values_zero[point]),
            statistics.median(values_big[point]),
        )
    if not b or not a:
        missing = [
            f"{n} idle" for n, s, rows in ((0, b, zero_rows), (largest, a, big_rows)) if not s
        ]
        statuses = sorted({r.status for r in zero_rows + big_rows if not r.ok})
        c.reason = f"no ok row with {metric} at {' and '.join(missing)}" + (
            f" (status {', '.join(statuses)})" if statuses else ""
        )
        return c
    if not c.medians:
        c.reason = "no regime measured at both counts"
        return c
    # One mechanism against itself at two idle counts: no sitting term. Claim 8's ratio of the
    # same kind (largest idle / lowest, one epoll) moved between nine sweeps no more than its
    # within-sweep error said (rules.SITTING_LOG_SD's note).
    c.cost = rules.CostRatio(a, b, sitting_sd=0.0)
    c.outcome = rules.idle_growth_class(c.cost)
    if c.outcome == rules.IDLE_GROWTH_NOT_COMPARED:
        c.reason = not_compared_reason(c)
    return c


def not_compared_reason(c):
    """Why CostRatio gave no interval: its outcome, beside what this module counted itself."""
    return (
        f"{len(c.medians)} regime(s) measured at both counts, fewest ok repeats {min(c.repeats)}:"
        f" CostRatio gave no interval ({c.cost.outcome})"
    )


def largest_idle(results, mode):
    counts = {r.idle for r in results.runs if not r.is_floor and r.mode == mode}
    return max(counts) if counts else 0


def evaluate(results, registry):
    """Every mechanism of the registry's flat list that the run measured × every mode of the run ×
    figures(mode)."""
    out = IdleGrowth(registry=registry)
    mechanisms = [m for m in results.mechanisms() if m in registry.flat]
    for mode in results.modes():
        largest = largest_idle(results, mode)
        if largest == 0:
            out.skipped_modes.append((mode, "measured at 0 idle only"))
            continue
        for mechanism in mechanisms:
            for metric, higher in figures(mode):
                out.comparisons.append(compare(results, mechanism, mode, metric, higher, largest))
        if mode not in HEADLINE:
            out.skipped_modes.append(
                (mode, "no headline figure named for it (run_row.HEADLINE): CPU only")
            )
    return out


def evaluate_folder(results, bin_dir=None):
    return evaluate(results, read_registry(bin_dirs(results, bin_dir)))
