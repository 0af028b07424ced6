"""Compare two bench results folders point by point: ./bench compare A B [--out DIR] [--threshold F]

For every point (mechanism, mode, idle count, in one scenario: placement, active connections,
message size, rate, CPU idle states) measured in both folders, the ratio of medians B / A of each
key metric (rules.COMPARE_WORSE) over the ok repeats, and an exact one-sided Mann–Whitney U test
of the repeats in the metric's "worse" direction (why that test: the `# ./bench compare` block of
rules.py). Floor rows (mechanism "floor": the blocking ping-pong and relay floors, no chat server)
are compared too, as the machine's floor. Then every claim is evaluated on both folders
(claims.findings) and the ones whose verdicts differ are listed.

Writes a markdown table to stdout and to DIR/compare.md, and DIR/compare.png and .svg (B / A per
point with the threshold band, significant regressions ringed); DIR defaults to
results/compare-<A's name>-vs-<B's name>/. Exit status: 1 when a claim's verdict differs or a
metric regressed beyond the threshold with the test significant, 0 otherwise, 2 for usage errors.

Not to be confused with compare.py, which sets one run beside published figures.
"""

import argparse
import dataclasses
import itertools
import math
import os
import re
import statistics
import sys

from plot import claims
from plot import results_folder as rf
from plot import rules
from plot import student_t
from plot.results_folder import ResultsFolder

HERE = os.path.dirname(os.path.abspath(__file__))


ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(ROOT, "results")

HIGHER, LOWER = "higher", "lower"
# A folder from before the runs.csv column idle_states: its sweep could not block idle states yet
# (blocking and the column came in the same change, 4d9111d), so its rows were measured with the
# machine's own idle behaviour and are matched with the other folder's "allow" rows. When neither
# folder recorded the column, their rows are one scenario and match each other.
UNRECORDED_IDLE_STATES_MEANS = rf.ALLOW

# Outcomes of one metric at one point.
REGRESSED = "regressed"
WORSE = "worse, within threshold"
IMPROVED = "improved"
BETTER = "better, within threshold"
SAME = "no significant change"
NOT_TESTED = "not tested"
NO_RATIO = "no ratio"


class UsageError(Exception):
    pass


# ---- the test -------------------------------------------------------------------------------


def mid_ranks(values):
    """Ranks 1..N of values, ties sharing the mean of their ranks."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def u_of(a, b):
    """Mann–Whitney U of b against a: pairs (x in a, y in b) with y > x, ties counting one half."""
    return sum(1.0 if y > x else 0.5 if y == x else 0.0 for x in a for y in b)


def p_b_greater(a, b, max_splits=None):
    """One-sided p of "b tends to be larger than a": the chance, were the pooled values assigned to
    the two sides at random (no difference), of a U of b at least as large as the one observed.

    Exact while the splits of the pooled values number at most max_splits (every split enumerated,
    ties by mid-ranks, so exact with ties too); beyond, the normal approximation of U with tie
    and continuity corrections. With 3 values a side the smallest p is 1/20 = 0.05."""
    max_splits = rules.COMPARE_EXACT_MAX_SPLITS if max_splits is None else max_splits
    n, m = len(a), len(b)
    if n == 0 or m == 0:
        return 1.0
    pooled = list(a) + list(b)
    ranks = mid_ranks(pooled)
    offset = m * (m + 1) / 2
    observed = sum(ranks[n:]) - offset
    total = math.comb(n + m, m)
    if total <= max_splits:
        hits = sum(
            1
            for chosen in itertools.combinations(ranks, m)
            if sum(chosen) - offset >= observed - 1e-9
        )
        return hits / total
    N = n + m
    ties = {}
    for v in pooled:
        ties[v] = ties.get(v, 0) + 1
    correction = sum(t**3 - t for t in ties.values()) / (N * (N - 1))
    var = n * m / 12 * ((N + 1) - correction)
    if var <= 0:
        return 1.0
    z = (observed - n * m / 2 - 0.5) / math.sqrt(var)
    return 0.5 * math.erfc(z / math.sqrt(2))


def p_worse(a, b, worse):
    """One-sided p of "B is worse than A" for a metric whose worse direction is `worse`."""
    return p_b_greater(a, b) if worse == HIGHER else p_b_greater(b, a)


class Cell:
    """One metric at one point: A's and B's ok values, the ratio of medians B / A, the outcome."""

    def __init__(self, metric, a, b, threshold):
        self.metric, self.a, self.b = metric, a, b
        self.worse = rules.COMPARE_WORSE[metric]
        self.median_a = statistics.median(a) if a else None
        self.median_b = statistics.median(b) if b else None
        self.ratio = self.p = self.p_better = None
        if self.median_a and self.median_b is not None and self.median_a > 0:
            self.ratio = self.median_b / self.median_a
        self.tested = min(len(a), len(b)) >= rules.COMPARE_MIN_REPEATS
        if self.ratio is None:
            self.outcome = NO_RATIO
            return
        if not self.tested:
            self.outcome = NOT_TESTED
            return
        self.p = p_worse(a, b, self.worse)
        self.p_better = p_worse(b, a, self.worse)
        # Worse / better by the ratio, in the metric's direction.
        beyond_worse = (
            self.ratio > 1 + threshold if self.worse == HIGHER else self.ratio < 1 - threshold
        )
        beyond_better = (
            self.ratio < 1 - threshold if self.worse == HIGHER else self.ratio > 1 + threshold
        )
        if self.p <= rules.COMPARE_ALPHA:
            self.outcome = REGRESSED if beyond_worse else WORSE
        elif self.p_better <= rules.COMPARE_ALPHA:
            self.outcome = IMPROVED if beyond_better else BETTER
        else:
            self.outcome = SAME

    @property
    def regressed(self):
        return self.outcome == REGRESSED


# ---- points ---------------------------------------------------------------------------------


def scenario_key(run, unrecorded_means):
    """Run.scenario with a missing idle_states read as `unrecorded_means` (see
    UNRECORDED_IDLE_STATES_MEANS)."""
    s = run.scenario
    # The path goes last: rows measured over lo and over veth are never paired.
    return s[:5] + (s[5] or unrecorded_means, run.net)


def collect(results, unrecorded_means):
    """{(scenario, mechanism, idle): {"ok": [Run], "failed": [status]}} over every row."""
    points = {}
    for r in results.all_runs:
        mechanism = rf.FLOOR if r.is_floor else r.mechanism
        key = (scenario_key(r, unrecorded_means), mechanism, r.idle)
        entry = points.setdefault(key, {"ok": [], "failed": []})
        if r.ok:
            entry["ok"].append(r)
        else:
            entry["failed"].append(r.status)
    return points


class SeriesShift:
    """One metric of one mechanism over every idle count tested on both sides: the mean of the
    per-point log(B/A), with its 95 % t interval over the points (rules.COMPARE_MIN_POINTS)."""

    def __init__(self, cells, threshold):
        self.worse = cells[0].worse
        self.n = len(cells)
        logs = [math.log(c.ratio) for c in cells]
        self.ratio = self.low = self.high = None
        self.regressed = False
        if self.n < rules.COMPARE_MIN_POINTS:
            return
        mean = statistics.fmean(logs)
        half = student_t.t95(self.n - 1) * statistics.stdev(logs) / math.sqrt(self.n)
        self.ratio, self.low, self.high = (
            math.exp(mean),
            math.exp(mean - half),
            math.exp(mean + half),
        )
        if self.worse == HIGHER:
            self.regressed = self.low > 1 + threshold
        else:
            self.regressed = self.high < 1 - threshold


class Point:
    def __init__(self, key, rows_a, rows_b, threshold):
        self.key = key
        self.scenario, self.mechanism, self.idle = key
        self.n_a, self.n_b = len(rows_a), len(rows_b)
        self.cells = {}
        for metric in rules.COMPARE_WORSE:
            a = [v for v in (r.metric(metric) for r in rows_a) if v is not None]
            b = [v for v in (r.metric(metric) for r in rows_b) if v is not None]
            if a and b:
                self.cells[metric] = Cell(metric, a, b, threshold)

    @property
    def is_floor(self):
        return self.mechanism == rf.FLOOR


def scenario_order(scenario):
    mode = scenario[0]
    floor = mode in rf.FLOOR_MODES
    modes = list(rf.FLOOR_MODES) + rf.KNOWN_MODES
    states = rf.KNOWN_IDLE_STATES
    return (
        0 if floor else 1,
        modes.index(mode) if mode in modes else len(modes),
        mode,
        states.index(scenario[5]) if scenario[5] in states else len(states),
        scenario,
    )


def mechanism_order(mechanism):
    known = [rf.FLOOR] + rf.KNOWN_MECHANISMS
    return (known.index(mechanism) if mechanism in known else len(known), mechanism)


def point_order(key):
    scenario, mechanism, idle = key
    return (scenario_order(scenario), mechanism_order(mechanism), idle)


# ---- the comparison -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class NotEvaluated:
    """A step that raised on one side (a claim's evaluation on a folder it did not foresee): the
    metric comparison goes on without what it would have given."""

    side: str  # "A", "B", or "" for a step over both
    error: str  # the exception's type name
    message: str

    @classmethod
    def of(cls, side, e):
        return cls(side, type(e).__name__, str(e))


@dataclasses.dataclass(frozen=True)
class IntervalPair:
    """One comparison claim (claims.comparisons) in A and in B: each side's ratio (a rules.CostRatio
    or claims.FlatRatio) and whether each side's interval holds the other's estimate (None when
    either side has no ratio)."""

    claim: int
    what: str
    a: object
    b: object
    a_holds_b: object  # True, False, or None (a side without a ratio)
    b_holds_a: object


def holds(ratio, other):
    if ratio.ratio is None or other.ratio is None:
        return None
    return ratio.low <= other.ratio <= ratio.high


def interval_pairs(a, b):
    """Every comparison claim's IntervalPair, and a NotEvaluated when the comparisons raised."""
    try:
        pairs = list(zip(claims.comparisons(a), claims.comparisons(b)))
    except Exception as e:  # the verdicts say the same; the metrics still compare
        return [], NotEvaluated.of("", e)
    found = [
        IntervalPair(
            ca.claim,
            ca.what,
            ca.ratio,
            cb.ratio,
            holds(ca.ratio, cb.ratio),
            holds(cb.ratio, ca.ratio),
        )
        for ca, cb in pairs
    ]
    return found, None


class Comparison:
    """Two results folders compared: the points (Point, Cell), the series (SeriesShift), the
    claims' Findings on each side and the ones whose verdicts differ, the comparison claims'
    intervals, the settings that differ. Plain data: compare_runs_markdown.py writes it in words,
    compare_runs_plot.py draws it."""

    def __init__(self, path_a, path_b, threshold=None):
        self.threshold = rules.COMPARE_THRESHOLD if threshold is None else threshold
        self.a, self.b = ResultsFolder(path_a), ResultsFolder(path_b)
        recorded_a, recorded_b = bool(self.a.idle_states_values()), bool(
            self.b.idle_states_values()
        )
        means = UNRECORDED_IDLE_STATES_MEANS if recorded_a != recorded_b else ""
        self.unrecorded = (
            "A" if recorded_b and not recorded_a else "B" if recorded_a and not recorded_b else ""
        )
        pa, pb = collect(self.a, means), collect(self.b, means)
        self.points = [
            Point(k, pa[k]["ok"], pb[k]["ok"], self.threshold)
            for k in sorted(set(pa) & set(pb), key=point_order)
            if pa[k]["ok"] and pb[k]["ok"]
        ]
        self.points = [p for p in self.points if p.cells]
        self.only_a = sorted((k for k in pa if k not in pb and pa[k]["ok"]), key=point_order)
        self.only_b = sorted((k for k in pb if k not in pa and pb[k]["ok"]), key=point_order)
        # Measured on both sides, ok on one only: a point that stopped (or started) working.
        self.lost = sorted(
            (k for k in pa if k in pb and pa[k]["ok"] and not pb[k]["ok"]), key=point_order
        )
        self.gained = sorted(
            (k for k in pa if k in pb and pb[k]["ok"] and not pa[k]["ok"]), key=point_order
        )
        self.lost_status = {k: sorted(set(pb[k]["failed"])) for k in self.lost}
        self.claims_a, self.claims_b, self.claims_not_evaluated = self._claims()
        # (Finding in A, Finding in B) of every claim whose verdict differs, in claim order.
        self.verdict_diffs = [
            (fa, self.claims_b[n])
            for n, fa in sorted(self.claims_a.items())
            if n in self.claims_b and fa.verdict != self.claims_b[n].verdict
        ]
        self.intervals, self.intervals_not_evaluated = interval_pairs(self.a, self.b)

    def _claims(self):
        """{number: claims.Finding} of A and of B, and a NotEvaluated per side that raised."""
        out, failed = [], []
        for side, results in (("A", self.a), ("B", self.b)):
            try:
                out.append({f.number: f for f in claims.findings(results)})
            except Exception as e:  # a claim that crashes must not hide the metric comparison
                out.append({})
                failed.append(NotEvaluated.of(side, e))
        return out[0], out[1], failed

    def cells(self):
        return [(p, c) for p in self.points for c in p.cells.values()]

    def regressions(self):
        """Point flags: cells whose own test says regressed (informational; see
        series_regressions)."""
        return [(p, c) for p, c in self.cells() if c.regressed]

    def series(self):
        """(scenario, mechanism, metric) -> SeriesShift over the points tested on both sides."""
        groups = {}
        for p, c in self.tested():
            if c.ratio > 0:
                groups.setdefault((p.scenario, p.mechanism, c.metric), []).append(c)
        return {k: SeriesShift(cells, self.threshold) for k, cells in groups.items()}

    def series_regressions(self):
        return sorted(
            ((k, s) for k, s in self.series().items() if s.regressed),
            key=lambda ks: (scenario_order(ks[0][0]), mechanism_order(ks[0][1]), ks[0][2]),
        )

    def tested(self):
        return [(p, c) for p, c in self.cells() if c.tested and c.ratio is not None]

    @property
    def exit_status(self):
        return 1 if self.series_regressions() or self.verdict_diffs else 0

    def env_differences(self):
        keys = [
            "hostname",
            "cpu_model",
            "cores",
            "kernel",
            "virtualization",
            "cpu_governor",
            "compiler",
            "flags",
            "build_type",
            "git_commit",
            "placement",
            "server_cpu",
            "loadgen_cpu",
            "rlimit_nofile",
        ]
        out = []
        for key in keys:
            va, vb = self.a.env.get(key), self.b.env.get(key)
            if va != vb and (va not in (None, "") or vb not in (None, "")):
                out.append((key, "–" if va in (None, "") else va, "–" if vb in (None, "") else vb))
        held_a, held_b = idle_states_held(self.a), idle_states_held(self.b)
        if held_a != held_b:
            out.append(("idle states blocked (held)", held_a, held_b))
        return out

    # ---- rendering: compare_runs_markdown.py and compare_runs_plot.py ---------------------

    def markdown(self, name_a, name_b, out_dir=None):
        from plot import compare_runs_markdown

        return compare_runs_markdown.markdown(self, name_a, name_b, out_dir)

    def plot(self, out_dir, name_a, name_b):
        """compare.png and .svg; returns the paths, or a reason when matplotlib is missing."""
        from plot import compare_runs_plot

        return compare_runs_plot.plot(self, out_dir, name_a, name_b)


def idle_states_held(results):
    value = results.raw_env.get("idle_states")
    return value.get("held") if isinstance(value, dict) else None


# ---- the command ----------------------------------------------------------------------------


def resolve(path):
    """A results folder: the path as given, else results/<path> of this checkout."""
    if (
        not os.path.exists(path)
        and os.path.sep not in path
        and os.path.isdir(os.path.join(RESULTS, path))
    ):
        path = os.path.join(RESULTS, path)
    if not os.path.isdir(path):
        raise UsageError(
            f"{path}: no such results folder; give two folders written by ./bench "
            "(e.g. results/reference)"
        )
    runs = os.path.join(path, "runs.csv")
    if not os.path.isfile(runs):
        raise UsageError(
            f"{runs}: missing; point at a results/<run>/ folder that holds runs.csv (./bench writes"
            " one)"
        )
    return path


def folder_name(path):
    name = os.path.basename(os.path.normpath(os.path.abspath(path)))
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name) or "run"


def default_out_dir(path_a, path_b, root=RESULTS):
    """results/compare-<A>-vs-<B>/ (reused when it is an earlier comparison of the same names;
    a folder holding a run gets a numbered sibling instead)."""
    base = os.path.join(root, f"compare-{folder_name(path_a)}-vs-{folder_name(path_b)}")
    out, k = base, 1
    while os.path.exists(os.path.join(out, "runs.csv")) or (
        os.path.exists(out) and not os.path.isdir(out)
    ):
        k += 1
        out = f"{base}-{k}"
    return out


def parse(argv):
    ap = argparse.ArgumentParser(
        prog="bench compare",
        description=(
            "Compare two results folders: per point, B / A of the key metrics with an exact"
            " one-sided Mann-Whitney U test; the claims whose verdicts differ. Exit 1 on a"
            " significant regression beyond the threshold or a differing verdict, 0 otherwise, 2 on"
            " usage errors."
        ),
    )
    ap.add_argument("a", metavar="A", help="the baseline results folder (e.g. results/reference)")
    ap.add_argument("b", metavar="B", help="the results folder to judge against A")
    ap.add_argument(
        "--out",
        metavar="DIR",
        help=(
            "where to write compare.md, compare.png, compare.svg "
            "(default: results/compare-<A>-vs-<B>/)"
        ),
    )
    ap.add_argument(
        "--threshold",
        type=float,
        default=rules.COMPARE_THRESHOLD,
        metavar="F",
        help=(
            "relative change beyond which a significant change is a regression "
            f"(default {rules.COMPARE_THRESHOLD:g}, i.e. {rules.COMPARE_THRESHOLD * 100:g} %%)"
        ),
    )
    args = ap.parse_args(argv)
    if not 0 < args.threshold < 1:
        ap.error(
            f"--threshold {args.threshold:g}: give a fraction between 0 and 1, e.g. 0.1 for 10 %"
        )
    return args


def main(argv=None):
    args = parse(sys.argv[1:] if argv is None else argv)
    try:
        path_a, path_b = resolve(args.a), resolve(args.b)
        out_dir = os.path.abspath(args.out) if args.out else default_out_dir(path_a, path_b)
        if os.path.exists(out_dir) and not os.path.isdir(out_dir):
            raise UsageError(
                f"{out_dir}: exists and is not a folder; give --out a folder to write into"
            )
        try:
            os.makedirs(out_dir, exist_ok=True)
        except OSError as e:
            raise UsageError(
                f"{out_dir}: cannot create it ({e.strerror}); give --out a writable folder"
            )
        comparison = Comparison(path_a, path_b, args.threshold)
    except UsageError as e:
        print(f"bench compare: {e}", file=sys.stderr)
        return 2
    name_a, name_b = folder_name(path_a), folder_name(path_b)
    text = comparison.markdown(name_a, name_b, out_dir)
    sys.stdout.write(text)
    with open(os.path.join(out_dir, "compare.md"), "w") as f:
        f.write(text)
    paths, why_not = comparison.plot(out_dir, name_a, name_b)
    print(
        f"bench compare: wrote {os.path.join(out_dir, 'compare.md')}"
        + (f", {', '.join(paths)}" if paths else "")
        + f"; exit status {comparison.exit_status}",
        file=sys.stderr,
    )
    if why_not:
        print(f"bench compare: {why_not}", file=sys.stderr)
    return comparison.exit_status


if __name__ == "__main__":
    sys.exit(main())
