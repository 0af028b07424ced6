"""Compare two bench results folders point by point: ./bench compare A B [--out DIR] [--threshold F]

For every point (mechanism, mode, idle count, in one scenario: placement, active connections,
message size, rate, CPU idle states) measured in both folders, the ratio of medians B / A of each
key metric (rules.COMPARE_WORSE) over the ok repeats, and an exact one-sided Mann–Whitney U test
of the repeats in the metric's "worse" direction (why that test: the `# ./bench compare` block of
rules.py). Floor rows (mechanism "floor": the blocking ping-pong and relay floors, no chat server)
are compared too, as the machine's floor. Then every claim is evaluated on both folders
(claims.evaluate) and the ones whose verdicts differ are listed.

Writes a markdown table to stdout and to DIR/compare.md, and DIR/compare.png and .svg (B / A per
point with the threshold band, significant regressions ringed); DIR defaults to
results/compare-<A's name>-vs-<B's name>/. Exit status: 1 when a claim's verdict differs or a
metric regressed beyond the threshold with the test significant, 0 otherwise, 2 for usage errors.

Not to be confused with compare.py, which sets one run beside published figures.
"""

import argparse
import itertools
import math
import os
import re
import statistics
import sys

from plot import claims
from plot import results_folder as rf
from plot import rules
from plot.markdown import cell
from plot.plot import human
from plot.results_folder import ResultsFolder, scenario_label
from plot.rules import fmt

HERE = os.path.dirname(os.path.abspath(__file__))


ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(ROOT, "results")

HIGHER, LOWER = "higher", "lower"
METRIC_WORDS = {
    "p50_us": "p50 latency (µs)",
    "p99_us": "p99 latency (µs)",
    "throughput_msgs_s": "throughput (msg/s)",
    "server_cpu_us_per_msg": "server CPU per message (µs)",
    "conns_per_s": "connections per second (churn)",
}
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

    def n_text(self):
        return f"n={len(self.a)}/{len(self.b)}"

    def markdown(self):
        if self.ratio is None:
            return (
                f"– ({self.n_text()}, median A {fmt(self.median_a)})" if self.a and self.b else "–"
            )
        r = f"{self.ratio:.2f}"
        if self.outcome == NOT_TESTED:
            return f"{r}, not tested ({self.n_text()})"
        p = (
            f"p {self.p:.3g}"
            if self.outcome in (REGRESSED, WORSE, SAME)
            else f"p {self.p_better:.3g}"
        )
        if self.outcome == REGRESSED:
            return f"**{r} regressed** ({p})"
        if self.outcome == SAME:
            return f"{r} ({p})"
        return f"{r} {self.outcome} ({p})"


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
        half = rules.t95(self.n - 1) * statistics.stdev(logs) / math.sqrt(self.n)
        self.ratio, self.low, self.high = (
            math.exp(mean),
            math.exp(mean - half),
            math.exp(mean + half),
        )
        if self.worse == HIGHER:
            self.regressed = self.low > 1 + threshold
        else:
            self.regressed = self.high < 1 - threshold

    def text(self):
        return f"{self.ratio:.2f} (95% CI {self.low:.2f} … {self.high:.2f}, {self.n} points)"


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


def scenario_name(scenario, unrecorded_sides=""):
    mode = scenario[0]
    label = scenario_label(scenario)
    if mode in rf.FLOOR_MODES:
        label = label.replace(
            mode,
            {
                rf.FLOOR: "floor (2 hops, no server)",
                rf.RELAY_FLOOR: "relay floor (4 hops, no multiplexer)",
            }[mode],
            1,
        )
    if unrecorded_sides and scenario[5]:
        label += f" ({unrecorded_sides}: idle states not recorded)"
    return label


# ---- the comparison -------------------------------------------------------------------------


class Comparison:
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
        self.claims_a, self.claims_b, self.claim_notes = self._claims()
        self.verdict_diffs = [
            (ca, self.claims_b[n])
            for n, ca in sorted(self.claims_a.items())
            if n in self.claims_b and ca.verdict != self.claims_b[n].verdict
        ]

    def _claims(self):
        out, notes = [], []
        for side, results in (("A", self.a), ("B", self.b)):
            try:
                out.append({c.number: c for c in claims.evaluate(results)})
            except Exception as e:  # a claim that crashes must not hide the metric comparison
                out.append({})
                notes.append(
                    f"the claims could not be evaluated on {side} ({type(e).__name__}: {e}); "
                    "their verdicts are not compared"
                )
        return out[0], out[1], notes

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

    # ---- markdown ---------------------------------------------------------------------------

    def markdown(self, name_a, name_b, out_dir=None):
        regs, series_regs = self.regressions(), self.series_regressions()
        lines = self._head_lines(name_a, name_b, regs, series_regs)
        lines += self._claim_lines()
        lines += self._interval_lines()
        lines += self._series_lines(series_regs)
        lines += self._flag_lines(regs)
        lines += self._point_lines()
        lines += self._not_compared_lines()
        lines += self._env_lines()
        if out_dir:
            lines += [f"Plot: `{os.path.join(out_dir, 'compare.png')}` (and `.svg`).", ""]
        return "\n".join(lines).rstrip() + "\n"

    def _head_lines(self, name_a, name_b, regs, series_regs):
        """The two folders, the exit status and why, how to read the tables, notes."""
        t, alpha, k = self.threshold, rules.COMPARE_ALPHA, rules.COMPARE_MIN_REPEATS
        tested = self.tested()
        lines = [f"# ./bench compare: {name_a} → {name_b}", ""]
        lines += [
            f"- **A** `{self.a.path}`: {self.a.machine_caption()}",
            f"- **B** `{self.b.path}`: {self.b.machine_caption()}",
        ]
        why = []
        if series_regs:
            why.append(f"{len(series_regs)} series regressed beyond {t:.0%}")
        if self.verdict_diffs:
            why.append(f"{len(self.verdict_diffs)} claim verdict(s) differ")
        lines.append(
            f"- **Exit status {self.exit_status}**: "
            + (
                "; ".join(why)
                if why
                else f"no series regressed beyond {t:.0%}, every claim verdict the same"
                + (f" ({len(regs)} point flag(s) below, for information)" if regs else "")
            )
        )
        lines.append("")
        lines.append(
            "How to read: each cell is the ratio of medians B / A of a metric over the ok repeats"
            " of one point (rows whose status is not ok are left out). A point **regressed** when"
            f" B is worse by more than {t:.0%} — latency (p50, p99) or server CPU per message"
            " higher, throughput or connections per second lower — and the exact one-sided"
            f" Mann–Whitney U test of the repeats in that direction gives p ≤ {alpha:g}; with 3"
            " repeats a side p = 0.05 is its smallest value, reached only when every repeat of B"
            " is worse than every repeat of A. The p shown is that of the direction the cell names"
            f' (worse for "no significant change"). With fewer than {k} ok repeats on a side a'
            ' point is "not tested (n=A/B)", never a regression. Floor rows (mechanism `floor`:'
            " the 2-hop blocking ping-pong and the 4-hop relay floor, no chat server) are compared"
            " like the servers: they are the machine's floor, so a change there is the machine or"
            " its settings, not a server."
        )
        lines.append("")
        if tested:
            lines.append(
                f"{len(tested)} metric(s) tested at {len(self.points)} point(s): even with no"
                f" change at all, up to about {max(1, round(len(tested) * alpha))} (× {alpha:g})"
                f" could pass the test by chance, fewer of them also beyond {t:.0%}; read a lone"
                " regression beside its neighbours and rerun before believing it."
            )
        else:
            lines.append(
                f"No metric was tested: no point has {k} ok repeats on both sides (e.g. `./bench"
                " --quick` runs one); the ratios below are shown for information only."
            )
        if self.unrecorded:
            lines += [
                "",
                (
                    f"{self.unrecorded} did not record the CPU idle-states setting (a run from"
                    " before the `idle_states` column, when the sweep could not block idle"
                    " states): its rows are compared with the other folder's"
                    f" `{UNRECORDED_IDLE_STATES_MEANS}` rows."
                ),
            ]
        for note in self.claim_notes:
            lines += ["", f"Note: {note}."]
        return lines

    def _claim_lines(self):
        lines = []
        lines += ["", "## Claims whose verdicts differ", ""]
        if self.verdict_diffs:
            lines += [
                "| # | claim | A | B | figures in A | figures in B |",
                "|---|---|---|---|---|---|",
            ]
            for ca, cb in self.verdict_diffs:
                lines.append(
                    f"| {ca.number} | {cell(ca.text)} | {ca.verdict} | **{cb.verdict}** | "
                    f"{cell('; '.join(ca.figures))} | {cell('; '.join(cb.figures))} |"
                )
        elif self.claims_a and self.claims_b:
            lines.append(f"None: all {len(self.claims_a)} claims have the same verdict in A and B.")
        else:
            lines.append("Not compared (see the note above).")
        return lines

    def _interval_lines(self):
        """The ratio behind every comparison claim, in A and in B, and whether each run's interval
        holds the other's estimate: honest intervals at 95 % hold another run's estimate about 83 %
        of the time (the difference of two estimates has sqrt(2) times one's spread); much less
        often, and an interval is missing a source of run-to-run variance."""
        try:
            pairs = list(zip(claims.comparisons(self.a), claims.comparisons(self.b)))
        except Exception as e:  # the verdicts above say the same; the metrics still compare
            return ["", f"Comparison intervals not computed ({type(e).__name__}: {e})."]
        lines = ["", "## The intervals behind the comparison claims", ""]
        lines += [
            "| claim | ratio of | A: ratio (interval) | B: ratio (interval) |"
            " A's interval holds B's estimate | B's holds A's |",
            "|---|---|---|---|---|---|",
        ]
        for ca, cb in pairs:
            ra, rb = ca.ratio, cb.ratio

            def text(r):
                if r.ratio is None:
                    return f"– ({r.outcome})"
                return f"{r.ratio:.3f} ({r.low:.3f} … {r.high:.3f}), {r.verdict}"

            def holds(r, other):
                if r.ratio is None or other.ratio is None:
                    return "–"
                return "yes" if r.low <= other.ratio <= r.high else "**no**"

            lines.append(
                f"| {ca.claim} | {ca.what} | {text(ra)} | {text(rb)} | {holds(ra, rb)} |"
                f" {holds(rb, ra)} |"
            )
        return lines

    def _series_lines(self, series_regs):
        """The series regressions: these set the exit status."""
        t = self.threshold
        lines = []
        lines += [
            "",
            f"## Series that regressed beyond {t:.0%} (these set the exit status)",
            "",
            (
                "Per scenario, mechanism and metric, the mean over idle counts of log(B / A) with"
                f" its 95% t interval (at least {rules.COMPARE_MIN_POINTS} tested points): a series"
                f" regressed when the whole interval lies beyond {t:.0%} on the worse side."
            ),
            "",
        ]
        if series_regs:
            lines += [
                "| scenario | mechanism | metric | B / A over the series |",
                "|---|---|---|---|",
            ]
            for (scenario, mechanism, metric), shift in series_regs:
                lines.append(
                    f"| {cell(scenario_name(scenario))} | {mechanism} | {METRIC_WORDS[metric]} | "
                    f"**{shift.text()}** |"
                )
        else:
            lines.append("None.")
        return lines

    def _flag_lines(self, regs):
        """Single points worse beyond the threshold with a significant test: information."""
        t, alpha = self.threshold, rules.COMPARE_ALPHA
        lines = []
        lines += [
            "",
            f"## Point flags: single points worse beyond {t:.0%} with p ≤ {alpha:g} (information)",
            "",
        ]
        if regs:
            lines += [
                (
                    "| scenario | mechanism | idle | metric | A (median of n) | B (median of n) | B"
                    " / A | p |"
                ),
                "|---|---|---|---|---|---|---|---|",
            ]
            for p, c in regs:
                lines.append(
                    f"| {cell(scenario_name(p.scenario))} | {p.mechanism} | {p.idle} |"
                    f" {METRIC_WORDS[c.metric]} | {fmt(c.median_a)} ({len(c.a)}) |"
                    f" {fmt(c.median_b)} ({len(c.b)}) | **{c.ratio:.2f}** | {c.p:.3g} |"
                )
        else:
            lines.append("None.")
        return lines

    def _point_lines(self):
        """One table per scenario: every point measured in both, every metric's cell."""
        lines = []
        lines += ["", "## Every point measured in both", ""]
        if not self.points:
            lines.append(
                "No point was measured (with ok rows) in both folders: nothing to compare."
            )
        for scenario in sorted({p.scenario for p in self.points}, key=scenario_order):
            pts = [p for p in self.points if p.scenario == scenario]
            metrics = [m for m in rules.COMPARE_WORSE if any(m in p.cells for p in pts)]
            lines += [f"### {scenario_name(scenario, self.unrecorded)}", ""]
            lines.append(
                "| mechanism | idle | ok repeats A/B | "
                + " | ".join(f"{METRIC_WORDS[m]} B/A" for m in metrics)
                + " |"
            )
            lines.append("|---|---|---|" + "---|" * len(metrics))
            for p in pts:
                lines.append(
                    f"| {p.mechanism} | {p.idle} | {p.n_a}/{p.n_b} | "
                    + " | ".join(
                        cell(p.cells[m].markdown()) if m in p.cells else "–" for m in metrics
                    )
                    + " |"
                )
            lines.append("")
        return lines

    def _not_compared_lines(self):
        lines = []
        not_compared = []
        for title, keys in (
            ("ok in A, not in B (failed there)", self.lost),
            ("ok in B, not in A (failed there)", self.gained),
            ("only in A (not measured in B)", self.only_a),
            ("only in B (not measured in A)", self.only_b),
        ):
            if keys:
                not_compared.append(f"- {title}: " + "; ".join(self._key_text(k) for k in keys))
        if not_compared:
            lines += ["## Points not compared", ""] + not_compared + [""]
        return lines

    def _env_lines(self):
        lines = []
        env = self.env_differences()
        if env:
            lines += [
                "## What differs between the two runs' settings",
                "",
                "| setting | A | B |",
                "|---|---|---|",
            ]
            lines += [f"| {key} | {cell(va)} | {cell(vb)} |" for key, va, vb in env] + [""]
        return lines

    def _key_text(self, key):
        scenario, mechanism, idle = key
        text = f"{mechanism} {scenario_name(scenario)} at {idle} idle"
        if key in self.lost_status:
            text += f" ({', '.join(self.lost_status[key])})"
        return text

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

    # ---- the plot ---------------------------------------------------------------------------

    def plot(self, out_dir, name_a, name_b):
        """compare.png and .svg; returns the paths, or a reason when matplotlib is missing."""
        try:
            import matplotlib

            matplotlib.use("Agg")
            matplotlib.rcParams["svg.hashsalt"] = "muxbench"
            import matplotlib.pyplot as plt
        except ImportError:
            return (
                None,
                (
                    f"{sys.executable} has no matplotlib: the plot was not drawn (install "
                    "python3-matplotlib and run with /usr/bin/python3)"
                ),
            )
        metrics = [
            m
            for m in rules.COMPARE_WORSE
            if any(m in p.cells and p.cells[m].ratio for p in self.points)
        ]
        servers = sorted({p.scenario for p in self.points if not p.is_floor}, key=scenario_order)
        floors = sorted({p.scenario for p in self.points if p.is_floor}, key=scenario_order)
        columns = [(s, False) for s in servers] + ([(None, True)] if floors else [])
        if not metrics or not columns:
            fig, ax = plt.subplots(figsize=(6, 2))
            ax.axis("off")
            ax.text(0.5, 0.5, "no point measured in both folders", ha="center", va="center")
            return self._save(fig, plt, out_dir), None
        fig, axes = plt.subplots(
            len(metrics),
            len(columns),
            figsize=(3.6 * len(columns) + 0.6, 2.7 * len(metrics) + 1.4),
            squeeze=False,
        )
        idles = sorted({p.idle for p in self.points if not p.is_floor})
        zero_at = min([i for i in idles if i > 0] or [1]) / 4.0
        for row, metric in enumerate(metrics):
            for col, (scenario, is_floor) in enumerate(columns):
                self._draw_panel(
                    axes[row][col],
                    metric,
                    scenario if not is_floor else None,
                    floors if is_floor else None,
                    idles,
                    zero_at,
                    first_row=row == 0,
                    last_row=row == len(metrics) - 1,
                )
        handles = self._legend_handles()
        height = fig.get_figheight()
        fig.suptitle(
            f"B / A per point — A: {name_a}, B: {name_b} (medians of the ok repeats)",
            fontsize=11,
            y=1 - 0.1 / height,
            va="top",
        )
        fig.legend(
            handles=handles,
            loc="upper center",
            bbox_to_anchor=(0.5, 1 - 0.45 / height),
            ncol=min(5, len(handles)),
            fontsize=8,
            frameon=False,
        )
        fig.tight_layout(rect=(0, 0, 1, 1 - 1.25 / height))
        return self._save(fig, plt, out_dir), None

    def _legend_handles(self):
        """One line per mechanism, then the markers and bands the panels use."""
        from matplotlib.lines import Line2D

        t = self.threshold
        handles = [
            Line2D([], [], color=style(m)[0], marker=style(m)[1], linestyle="-", label=m)
            for m in mechanisms_of(self.points)
        ]
        handles += [
            Line2D(
                [],
                [],
                color="0.3",
                marker="o",
                markerfacecolor="white",
                linestyle="none",
                label=f"hollow: not tested (< {rules.COMPARE_MIN_REPEATS} ok repeats a side)",
            ),
            Line2D(
                [],
                [],
                color="#d62728",
                marker="o",
                markerfacecolor="none",
                markersize=12,
                markeredgewidth=1.8,
                linestyle="none",
                label=f"significant regression (> {t:.0%} worse, p ≤ {rules.COMPARE_ALPHA:g})",
            ),
            Line2D([], [], color="0.75", linewidth=6, label=f"within ±{t:.0%}"),
            Line2D([], [], color="#d62728", linestyle="--", label="regression threshold"),
        ]
        return handles

    def _draw_panel(self, ax, metric, scenario, floors, idles, zero_at, first_row, last_row):
        """One metric's B / A in one scenario (or, with floors, the floors): the threshold band,
        the points, the axes."""
        from matplotlib.ticker import FuncFormatter, NullFormatter

        t = self.threshold
        worse = rules.COMPARE_WORSE[metric]
        is_floor = floors is not None
        pts = [
            p
            for p in self.points
            if (p.is_floor if is_floor else p.scenario == scenario)
            and metric in p.cells
            and p.cells[metric].ratio
        ]
        if first_row:
            title = "floors (the machine)" if is_floor else scenario_name(scenario, self.unrecorded)
            ax.set_title(wrap(title, 40), fontsize=9)
        if not pts:
            ax.set_axis_off()
            ax.text(
                0.5,
                0.5,
                f"{METRIC_WORDS[metric]}:\nnot measured in both",
                transform=ax.transAxes,
                ha="center",
                va="center",
                fontsize=8,
                color="0.4",
            )
            return
        ax.axhspan(1 - t, 1 + t, color="0.88", zorder=0)
        ax.axhline(1, color="0.45", linewidth=0.8, zorder=1)
        ax.axhline(
            1 + t if worse == HIGHER else 1 - t,
            color="#d62728",
            linestyle="--",
            linewidth=0.9,
            zorder=1,
        )
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ratios = [p.cells[metric].ratio for p in pts]
        low = min(ratios + [1 - 1.5 * t])
        high = max(ratios + [1 + 1.5 * t])
        ax.set_ylim(low / 1.08, high * 1.08)
        ax.set_yticks(
            spaced_ticks(
                [1.0, 1 - t, 1 + t, round(low, 2), round(high, 2)], low / 1.08, high * 1.08
            )
        )
        ax.set_ylabel(f"{METRIC_WORDS[metric]}\nB / A ({worse} is worse)", fontsize=8)
        if is_floor:
            self._draw_floors(ax, pts, metric, floors)
        else:
            self._draw_servers(ax, pts, metric, zero_at)
            ax.set_xscale("log")
            ax.set_xlim(zero_at / 1.6, max(idles + [10]) * 1.6)
            ticks = [zero_at] + [
                10.0**e
                for e in range(0, 8)
                if zero_at * 1.5 < 10.0**e <= max(idles + [10]) * 1.6
            ]
            ax.set_xticks(ticks)
            ax.set_xticklabels(["0"] + [human(v) for v in ticks[1:]], fontsize=7)
            ax.xaxis.set_minor_formatter(NullFormatter())
            if last_row:
                ax.set_xlabel("idle connections (log; 0 at the left)", fontsize=8)
        ax.tick_params(axis="y", labelsize=7)

    def _draw_servers(self, ax, pts, metric, zero_at):
        for mech in mechanisms_of(pts):
            mine = sorted((p for p in pts if p.mechanism == mech), key=lambda p: p.idle)
            colour, marker, dash = style(mech)
            xs = [zero_at if p.idle == 0 else p.idle for p in mine]
            ys = [p.cells[metric].ratio for p in mine]
            ax.plot(xs, ys, color=colour, linestyle=dash, linewidth=1.1, zorder=2)
            self._marks(ax, xs, [p.cells[metric] for p in mine], colour, marker)

    def _draw_floors(self, ax, pts, metric, floors):
        order = {s: i for i, s in enumerate(floors)}
        xs = [order[p.scenario] for p in pts]
        self._marks(ax, xs, [p.cells[metric] for p in pts], "black", "o")
        ax.set_xlim(-0.6, len(floors) - 0.4)
        ax.set_xticks(range(len(floors)))
        ax.set_xticklabels([floor_tick(s) for s in floors], fontsize=7)

    @staticmethod
    def _marks(ax, xs, cells, colour, marker):
        for x, c in zip(xs, cells):
            ax.plot(
                [x],
                [c.ratio],
                marker=marker,
                markersize=5,
                linestyle="none",
                color=colour,
                zorder=3,
                markerfacecolor=colour if c.tested else "white",
                markeredgecolor=colour,
            )
            if c.regressed:
                ax.plot(
                    [x],
                    [c.ratio],
                    marker="o",
                    markersize=12,
                    markerfacecolor="none",
                    markeredgecolor="#d62728",
                    markeredgewidth=1.8,
                    linestyle="none",
                    zorder=4,
                )

    @staticmethod
    def _save(fig, plt, out_dir):
        paths = []
        for ext in ("png", "svg"):
            path = os.path.join(out_dir, f"compare.{ext}")
            fig.savefig(
                path,
                dpi=110 if ext == "png" else None,
                metadata={"Date": None} if ext == "svg" else None,
            )
            paths.append(path)
        plt.close(fig)
        return paths


def idle_states_held(results):
    value = results.raw_env.get("idle_states")
    return value.get("held") if isinstance(value, dict) else None


def mechanisms_of(points):
    return sorted({p.mechanism for p in points if not p.is_floor}, key=mechanism_order)


STYLE = {}


def style(mechanism):
    """plot.py's colour, marker and dash of a mechanism, so the comparison reads like the run's
    plots."""
    if not STYLE:
        try:
            from plot import plot as plotmod

            STYLE.update({m: plotmod.style(m) for m in rf.KNOWN_MECHANISMS})
            STYLE["_style"] = plotmod.style
        except Exception:  # plot.py changed shape: fall back to matplotlib's cycle
            STYLE["_style"] = None
    if mechanism not in STYLE:
        fn = STYLE.get("_style")
        spare = [
            "#1f77b4",
            "#ff7f0e",
            "#2ca02c",
            "#d62728",
            "#9467bd",
            "#8c564b",
            "#e377c2",
            "#7f7f7f",
        ]
        STYLE[mechanism] = fn(mechanism) if fn else (spare[(len(STYLE) - 1) % len(spare)], "o", "-")
    return STYLE[mechanism]


def spaced_ticks(candidates, bottom, top, gap=0.07):
    """The candidates (first ones first) that lie at least `gap` of the log axis from every tick
    kept."""
    span = math.log(top / bottom)
    kept = []
    for v in candidates:
        if v > 0 and bottom <= v <= top and all(abs(math.log(v / k)) >= gap * span for k in kept):
            kept.append(v)
    return sorted(kept)


def floor_tick(scenario):
    mode, placement = scenario[0], scenario[1]
    parts = ["relay" if mode == rf.RELAY_FLOOR else "floor"]
    if placement:
        parts.append(placement)
    if scenario[5]:
        parts.append(scenario[5])
    return "\n".join(parts)


def wrap(text, width):
    import textwrap

    return "\n".join(textwrap.wrap(text, width)) or text


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
