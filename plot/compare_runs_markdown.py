"""compare.md: the markdown of a Comparison (plot/compare_runs.py), which holds the figures as
plain data; the words for metrics and scenarios compare_runs_plot.py labels its panels with."""

import os

from plot import claims
from plot import rules
from plot import results_folder as rf
from plot.compare_runs import (
    NOT_TESTED,
    REGRESSED,
    SAME,
    UNRECORDED_IDLE_STATES_MEANS,
    WORSE,
    scenario_order,
)
from plot.markdown import cell
from plot.numbers import fmt
from plot.results_folder import scenario_label

METRIC_WORDS = {
    "p50_us": "p50 latency (µs)",
    "p99_us": "p99 latency (µs)",
    "throughput_msgs_s": "throughput (msg/s)",
    "server_cpu_us_per_msg": "server CPU per message (µs)",
    "conns_per_s": "connections per second (churn)",
}


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


def n_text(c):
    return f"n={len(c.a)}/{len(c.b)}"


def shift_text(shift):
    """A SeriesShift: B / A over the series with its interval."""
    return f"{shift.ratio:.2f} (95% CI {shift.low:.2f} … {shift.high:.2f}, {shift.n} points)"


def cell_text(c):
    """One metric at one point as a table cell: the ratio, its outcome and p."""
    if c.ratio is None:
        return f"– ({n_text(c)}, median A {fmt(c.median_a)})" if c.a and c.b else "–"
    r = f"{c.ratio:.2f}"
    if c.outcome == NOT_TESTED:
        return f"{r}, not tested ({n_text(c)})"
    p = f"p {c.p:.3g}" if c.outcome in (REGRESSED, WORSE, SAME) else f"p {c.p_better:.3g}"
    if c.outcome == REGRESSED:
        return f"**{r} regressed** ({p})"
    if c.outcome == SAME:
        return f"{r} ({p})"
    return f"{r} {c.outcome} ({p})"


def markdown(comp, name_a, name_b, out_dir=None):
    regs, series_regs = comp.regressions(), comp.series_regressions()
    lines = head_lines(comp, name_a, name_b, regs, series_regs)
    lines += claim_lines(comp)
    lines += interval_lines(comp)
    lines += series_lines(comp, series_regs)
    lines += flag_lines(comp, regs)
    lines += point_lines(comp)
    lines += not_compared_lines(comp)
    lines += env_lines(comp)
    if out_dir:
        lines += [f"Plot: `{os.path.join(out_dir, 'compare.png')}` (and `.svg`).", ""]
    return "\n".join(lines).rstrip() + "\n"


def how_to_read(t, alpha, k):
    """The paragraph under the head: what a cell, a regression and p mean; t the threshold, alpha
    the test's level, k the fewest repeats a side for a test."""
    return (
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


def head_lines(comp, name_a, name_b, regs, series_regs):
    """The two folders, the exit status and why, how to read the tables, notes."""
    t, alpha, k = comp.threshold, rules.COMPARE_ALPHA, rules.COMPARE_MIN_REPEATS
    tested = comp.tested()
    lines = [f"# ./bench compare: {name_a} → {name_b}", ""]
    lines += [
        f"- **A** `{comp.a.path}`: {comp.a.machine_caption()}",
        f"- **B** `{comp.b.path}`: {comp.b.machine_caption()}",
    ]
    why = []
    if series_regs:
        why.append(f"{len(series_regs)} series regressed beyond {t:.0%}")
    if comp.verdict_diffs:
        why.append(f"{len(comp.verdict_diffs)} claim verdict(s) differ")
    lines.append(
        f"- **Exit status {comp.exit_status}**: "
        + (
            "; ".join(why)
            if why
            else f"no series regressed beyond {t:.0%}, every claim verdict the same"
            + (f" ({len(regs)} point flag(s) below, for information)" if regs else "")
        )
    )
    lines.append("")
    lines.append(how_to_read(t, alpha, k))
    lines.append("")
    if tested:
        lines.append(
            f"{len(tested)} metric(s) tested at {len(comp.points)} point(s): even with no"
            f" change at all, up to about {max(1, round(len(tested) * alpha))} (× {alpha:g})"
            f" could pass the test by chance, fewer of them also beyond {t:.0%}; read a lone"
            " regression beside its neighbours and rerun before believing it."
        )
    else:
        lines.append(
            f"No metric was tested: no point has {k} ok repeats on both sides (e.g. `./bench"
            " --quick` runs one); the ratios below are shown for information only."
        )
    if comp.unrecorded:
        lines += [
            "",
            (
                f"{comp.unrecorded} did not record the CPU idle-states setting (a run from"
                " before the `idle_states` column, when the sweep could not block idle"
                " states): its rows are compared with the other folder's"
                f" `{UNRECORDED_IDLE_STATES_MEANS}` rows."
            ),
        ]
    for failed in comp.claims_not_evaluated:
        lines += [
            "",
            f"Note: the claims could not be evaluated on {failed.side} ({failed.error}:"
            f" {failed.message}); their verdicts are not compared.",
        ]
    return lines


def claim_lines(comp):
    lines = []
    lines += ["", "## Claims whose verdicts differ", ""]
    if comp.verdict_diffs:
        lines += [
            "| # | claim | A | B | figures in A | figures in B |",
            "|---|---|---|---|---|---|",
        ]
        for fa, fb in comp.verdict_diffs:
            lines.append(
                f"| {fa.number} | {cell(fa.text)} | {fa.verdict} | **{fb.verdict}** | "
                f"{cell(figures_text(fa))} | {cell(figures_text(fb))} |"
            )
    elif comp.claims_a and comp.claims_b:
        lines.append(f"None: all {len(comp.claims_a)} claims have the same verdict in A and B.")
    else:
        lines.append("Not compared (see the note above).")
    return lines


def figures_text(finding):
    """A claim's figures, from its Finding (a renderer that raises is said, not fatal)."""
    try:
        return "; ".join(claims.render(finding).figures)
    except Exception as e:  # the verdicts beside it were evaluated; only the words are missing
        return f"figures not written ({type(e).__name__}: {e})"


def interval_lines(comp):
    """The ratio behind every comparison claim, in A and in B, and whether each run's interval
    holds the other's estimate: honest intervals at 95 % hold another run's estimate about 83 %
    of the time (the difference of two estimates has sqrt(2) times one's spread); much less
    often, and an interval is missing a source of run-to-run variance."""
    failed = comp.intervals_not_evaluated
    if failed:
        return ["", f"Comparison intervals not computed ({failed.error}: {failed.message})."]
    lines = ["", "## The intervals behind the comparison claims", ""]
    lines += [
        "| claim | ratio of | A: ratio (interval) | B: ratio (interval) |"
        " A's interval holds B's estimate | B's holds A's |",
        "|---|---|---|---|---|---|",
    ]
    for pair in comp.intervals:
        lines.append(
            f"| {pair.claim} | {pair.what} | {ratio_text(pair.a)} | {ratio_text(pair.b)} |"
            f" {holds_text(pair.a_holds_b)} | {holds_text(pair.b_holds_a)} |"
        )
    return lines


def ratio_text(r):
    if r.ratio is None:
        return f"– ({r.outcome})"
    return f"{r.ratio:.3f} ({r.low:.3f} … {r.high:.3f}), {r.verdict}"


def holds_text(held):
    return "–" if held is None else "yes" if held else "**no**"


def series_lines(comp, series_regs):
    """The series regressions: these set the exit status."""
    t = comp.threshold
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
                f"**{shift_text(shift)}** |"
            )
    else:
        lines.append("None.")
    return lines


def flag_lines(comp, regs):
    """Single points worse beyond the threshold with a significant test: information."""
    t, alpha = comp.threshold, rules.COMPARE_ALPHA
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


def point_lines(comp):
    """One table per scenario: every point measured in both, every metric's cell."""
    lines = []
    lines += ["", "## Every point measured in both", ""]
    if not comp.points:
        lines.append("No point was measured (with ok rows) in both folders: nothing to compare.")
    for scenario in sorted({p.scenario for p in comp.points}, key=scenario_order):
        pts = [p for p in comp.points if p.scenario == scenario]
        metrics = [m for m in rules.COMPARE_WORSE if any(m in p.cells for p in pts)]
        lines += [f"### {scenario_name(scenario, comp.unrecorded)}", ""]
        lines.append(
            "| mechanism | idle | ok repeats A/B | "
            + " | ".join(f"{METRIC_WORDS[m]} B/A" for m in metrics)
            + " |"
        )
        lines.append("|---|---|---|" + "---|" * len(metrics))
        for p in pts:
            lines.append(
                f"| {p.mechanism} | {p.idle} | {p.n_a}/{p.n_b} | "
                + " | ".join(cell(cell_text(p.cells[m])) if m in p.cells else "–" for m in metrics)
                + " |"
            )
        lines.append("")
    return lines


def not_compared_lines(comp):
    lines = []
    not_compared = []
    for title, keys in (
        ("ok in A, not in B (failed there)", comp.lost),
        ("ok in B, not in A (failed there)", comp.gained),
        ("only in A (not measured in B)", comp.only_a),
        ("only in B (not measured in A)", comp.only_b),
    ):
        if keys:
            not_compared.append(f"- {title}: " + "; ".join(key_text(comp, k) for k in keys))
    if not_compared:
        lines += ["## Points not compared", ""] + not_compared + [""]
    return lines


def env_lines(comp):
    lines = []
    env = comp.env_differences()
    if env:
        lines += [
            "## What differs between the two runs' settings",
            "",
            "| setting | A | B |",
            "|---|---|---|",
        ]
        lines += [f"| {key} | {cell(va)} | {cell(vb)} |" for key, va, vb in env] + [""]
    return lines


def key_text(comp, key):
    scenario, mechanism, idle = key
    text = f"{mechanism} {scenario_name(scenario)} at {idle} idle"
    if key in comp.lost_status:
        text += f" ({', '.join(comp.lost_status[key])})"
    return text
