"""The report's "Our loops beside the libraries and the tutorial" (issue 22, docs/peers.md).

For each of our backends and each peer over the same system call (plot/peers.py): server CPU per
message and p50 latency in ping-pong, at 0, 1000 and the run's largest idle count (those the run
measured), as ours ÷ the peer's, with the interval of rules.CostRatio over the fresh-instance
repeats (repeat r of ours and of the peer ran in the same instance, so they are paired by repeat
number). Then the project's goal, per backend: ours at most 1.0× libevent's same backend in server
CPU per message at every idle count. Then the teaching claims judged again on each group's
mechanisms, with the claims' own rules (claims_limits.select_rows, shape_rules.PerFdShape
through claims_shape's linear_verdict and flat_verdict) on each mechanism's runs.csv rows.

Which mechanisms are peers and in which group comes from the registry (`group`,
`refuses_past_fd_setsize`, read by idle_growth.read_registry). Stdlib only.
"""

import statistics
from dataclasses import dataclass, field

from plot import peers, rules, rules_words, shape_rules
from plot.claims_limits import select_rows
from plot.claims_shape import flat_verdict, linear_verdict, runs_cost_points
from plot.claims_text_shape import RUNS_UNIT, shape_figure
from plot.claims_text_limits import select_rows_lines
from plot.document import Section, Table, Text, slug
from plot.markdown import cell
from plot.numbers import fmt
from plot.run_row import COST, COST_MEASURED

TITLE = "Our loops beside the libraries and the tutorial"
PEER_GROUPS = ("libraries", "python")
GROUPS = ("ours",) + PEER_GROUPS
ABSENT = (
    "No library or Python mechanism in this run; `--mechanisms +libraries,+python` adds them"
    " (docs/peers.md)."
)
MODE = "pingpong"  # one wait call per message: the loop's own cost shows undiluted
# (metric, words, the statuses whose rows measured it)
FIGURES = [
    (COST, "server CPU per message", COST_MEASURED),
    ("p50_us", "p50 latency", ("ok",)),
]
# Where ours stands against a peer at one idle count. One edge, 1 + EQUIVALENCE_MARGIN, the
# mirror of CostRatio's "cheaper" edge: ours is "at most 1.0×" the peer when the whole interval is
# at or below it (not dearer by more than the margin the rules call "as cheap"), "above" when the
# whole interval is beyond it, "undecided" while it straddles it.
AT_MOST = "≤ 1.0×"
ABOVE = "above"
UNDECIDED = "undecided"
NOT_COMPARED = "not compared"


@dataclass
class Cell:
    """Ours against a peer at one idle count on one figure."""

    idle: int
    medians: tuple = (None, None)  # (ours, the peer's) median over the repeats
    ratio: object = None  # rules.CostRatio, None when one side has no row to compare
    outcome: str = NOT_COMPARED
    why: str = ""  # why not compared

    def figure(self):
        """'×0.91 (95% CI 0.88 … 0.94)', or why there is none."""
        r = self.ratio
        if r is None or r.ratio is None:
            return self.why
        return f"×{r.ratio:.2f} ({r.confidence:.0%} CI {r.low:.2f} … {r.high:.2f})"


@dataclass
class Pair:
    ours: str
    peer: str
    group: str
    cells: dict = field(default_factory=dict)  # metric -> [Cell] in idle order


def side_points(results, mechanism, metric, statuses, idle):
    """{(idle,): [(repeat, value)]} of a mechanism's rows in MODE's primary scenario."""
    series = results.series(MODE, mechanism, metric, statuses=statuses)
    values = [(repeat, y) for x, y, repeat in series.points if x == idle]
    return {(idle,): values} if values else {}


def missing_words(results, mechanism, idle):
    """Why a side has no value at an idle count: refused at FD_SETSIZE, failed, or not run."""
    rows = [r for r in results.scenario_runs(MODE) if r.mechanism == mechanism and r.idle == idle]
    if any(r.refused_fd_setsize for r in rows):
        return "refused (FD_SETSIZE)"
    statuses = sorted({r.status for r in rows})
    return f"no ok row ({', '.join(statuses)})" if statuses else "not measured"


def outcome(ratio):
    if ratio.ratio is None:
        return NOT_COMPARED
    edge = 1 + rules.EQUIVALENCE_MARGIN
    if ratio.high <= edge:
        return AT_MOST
    if ratio.low > edge:
        return ABOVE
    return UNDECIDED


def median(values):
    return statistics.median(v for _, v in values) if values else None


def compare(results, ours, peer, metric, statuses, idle):
    c = Cell(idle)
    a = side_points(results, ours, metric, statuses, idle)
    b = side_points(results, peer, metric, statuses, idle)
    c.medians = (median(a.get((idle,), [])), median(b.get((idle,), [])))
    if not a or not b:
        words = {
            who: missing_words(results, m, idle)
            for who, m, side in (("ours", ours, a), ("theirs", peer, b))
            if not side
        }
        if len(set(words.values())) == 1 and len(words) == 2:
            c.why = f"both {words['ours']}"
        else:
            c.why = "; ".join(f"{who} {why}" for who, why in words.items())
        return c
    c.ratio = rules.CostRatio(a, b, confidence=rules.CONFIDENCE)
    c.outcome = outcome(c.ratio)
    if c.outcome == NOT_COMPARED:
        c.why = rules_words.needs_repeats(c.ratio.run_repeats)
    return c


def idle_counts(results):
    """0, 1000 and the largest idle count of MODE, those the run measured, in order."""
    measured = {r.idle for r in results.scenario_runs(MODE)}
    wanted = {0, 1000, max(measured)} if measured else set()
    return sorted(wanted & measured)


def evaluate(results, registry):
    """Every (our backend, peer) pair the run measured both sides of, with its cells."""
    in_run = set(results.mechanisms())
    counts = idle_counts(results)
    out = []
    for ours, peer in peers.pairs():
        if ours not in in_run or peer not in in_run:
            continue
        pair = Pair(ours, peer, registry.groups.get(peer, "?"))
        for metric, _, statuses in FIGURES:
            pair.cells[metric] = [compare(results, ours, peer, metric, statuses, i) for i in counts]
        out.append(pair)
    return out


def peers_in_run(results, registry):
    return [m for m in results.mechanisms() if registry.groups.get(m) in PEER_GROUPS]


# ---- the section ------------------------------------------------------------------------------


def value_cell(c):
    return " · ".join(fmt(v) for v in c.medians)


def ratios_table(pairs):
    header = ["our backend", "peer (group)", "idle"]
    for _, words, _ in FIGURES:
        header += [f"{words} (µs), ours · theirs", "ours ÷ theirs"]
    rows = []
    for p in pairs:
        for i, idle in enumerate(c.idle for c in p.cells[COST]):
            row = [p.ours, f"{p.peer} ({p.group})", fmt(idle)]
            for metric, _, _ in FIGURES:
                c = p.cells[metric][i]
                row += [value_cell(c), cell(c.figure())]
            rows.append(row)
    return Table(header, rows)


def counts_words(cells):
    return ", ".join(fmt(c.idle) for c in cells)


def reading(cells, peer):
    """One figure's reading over the idle counts: '≤ 1.0× at every idle count (0, 1,000)', or
    where not, with the figure."""
    compared = [c for c in cells if c.outcome != NOT_COMPARED]
    if not compared:
        return "not compared at any idle count"
    if all(c.outcome == AT_MOST for c in compared):
        text = f"ours ≤ 1.0× {peer} at every idle count ({counts_words(compared)})"
    else:
        parts = []
        for label, kind in (("above", ABOVE), ("undecided", UNDECIDED)):
            found = [c for c in compared if c.outcome == kind]
            if found:
                parts.append(
                    f"{label} at "
                    + ", ".join(
                        f"{fmt(c.idle)} idle: {c.figure()}, ours {fmt(c.medians[0])} µs against"
                        f" {fmt(c.medians[1])}"
                        for c in found
                    )
                )
        met = [c for c in compared if c.outcome == AT_MOST]
        if met:
            parts.append(f"≤ 1.0× at {counts_words(met)}")
        text = f"ours against {peer}: " + "; ".join(parts)
    left = [c for c in cells if c.outcome == NOT_COMPARED]
    if left:
        text += "; not compared at " + ", ".join(f"{fmt(c.idle)} ({c.why})" for c in left)
    return text


def readings(pairs):
    lines = []
    for p in pairs:
        each = "; ".join(f"{words}: {reading(p.cells[m], p.peer)}" for m, words, _ in FIGURES)
        lines.append(f"- **{p.ours} ÷ {p.peer}**: {cell(each)}.")
    return lines + [""]


def goal_held(results, pairs, ours):
    """Whether ours was at most 1.0× libevent's same backend in server CPU per message at every
    idle count, in words."""
    libevent = peers.LIBEVENT[ours]
    pair = next((p for p in pairs if (p.ours, p.peer) == (ours, libevent)), None)
    if pair is None:
        missing = [m for m in (ours, libevent) if m not in results.mechanisms()]
        return f"not measured ({', '.join(missing)} not in this run)"
    cells = pair.cells[COST]
    compared = [c for c in cells if c.outcome != NOT_COMPARED]
    left = [c for c in cells if c.outcome == NOT_COMPARED]

    def at(kind):
        return ", ".join(f"{fmt(c.idle)} idle: {c.figure()}" for c in compared if c.outcome == kind)

    met = [c for c in compared if c.outcome == AT_MOST]
    parts = []
    if at(ABOVE):
        parts.append("**no**: above at " + at(ABOVE))
    if at(UNDECIDED):
        edge = f"{1 + rules.EQUIVALENCE_MARGIN:.2f}"
        lead = "undecided" if parts else "**undecided**: the interval reaches past " + edge
        parts.append(f"{lead} at {at(UNDECIDED)}")
    if not compared:
        parts.append("**undecided**: no idle count compared")
    elif not parts:
        parts.append(f"**yes**, at {counts_words(met)} idle")
    elif met:
        parts.append(f"≤ 1.0× at {counts_words(met)}")
    text = "; ".join(parts)
    if left:
        text += "; not compared at " + ", ".join(f"{fmt(c.idle)} ({c.why})" for c in left)
    return text


def goal_table(results, pairs):
    rows = [
        [ours, peers.LIBEVENT[ours], cell(goal_held(results, pairs, ours))]
        for ours in peers.LIBEVENT
        if ours in results.mechanisms() or peers.LIBEVENT[ours] in results.mechanisms()
    ]
    return Table(["our backend", "libevent's", "ours ≤ 1.0× at every idle count?"], rows)


# ---- the teaching claims per group -------------------------------------------------------------


@dataclass
class Judged:
    mechanism: str
    verdict: str
    brief: str  # the figure in a few words, for the table
    figure: str  # the full figure line, for the list below it


def shape_judgement(results, mechanism, verdict_of, per_fd):
    mode, points = runs_cost_points(results, mechanism)
    if not points:
        return Judged(mechanism, rules.INCONCLUSIVE, "no ok row", f"{mechanism}: no ok row")
    shape = shape_rules.PerFdShape(points)
    verdict = verdict_of(shape)
    brief = "too few counts"
    if shape.cost_ratio is not None:
        brief = f"cost ×{fmt(shape.cost_ratio[0])} at {fmt(shape.xs[-1])} idle"
    source = f"runs.csv ({mode}), {mechanism} server CPU per message vs idle connections"
    return Judged(mechanism, verdict, brief, shape_figure(source, shape, RUNS_UNIT, 1000.0, per_fd))


def refusal_judgement(results, mechanism):
    rows = select_rows(results, mechanism)
    figures, verdicts = select_rows_lines(rows), [rows.verdict]
    refused = [r for r in results.runs if r.mechanism == mechanism and r.refused_fd_setsize]
    brief = f"refused from {fmt(min(r.idle for r in refused))} idle" if refused else "no refusal"
    return Judged(mechanism, rules.combine(verdicts), brief, f"{mechanism}: " + "; ".join(figures))


def claim_rows(registry):
    """(claim words, our backend, which of its mechanisms, how to judge one)."""
    return [
        (
            "1: select refuses a descriptor ≥ 1024 (witnesses: `refuses_past_fd_setsize` in the"
            " registry)",
            "select",
            lambda m: m == "select" or m in registry.refuses_fd_setsize,
            refusal_judgement,
        ),
        (
            "2: select's cost grows at least linearly with idle connections",
            "select",
            lambda m: True,
            lambda results, m: shape_judgement(results, m, linear_verdict, True),
        ),
        (
            "4: poll's cost grows at least linearly with idle connections",
            "poll",
            lambda m: True,
            lambda results, m: shape_judgement(results, m, linear_verdict, True),
        ),
        (
            "8 (watched half): epoll's cost does not depend on idle connections",
            "epoll-lt",
            lambda m: True,
            lambda results, m: shape_judgement(results, m, flat_verdict, False),
        ),
    ]


def claims_by_group(results, registry):
    """[(claim words, {group: [Judged]})] over the mechanisms of the run."""
    in_run = set(results.mechanisms())
    out = []
    for words, ours, wanted, judge in claim_rows(registry):
        by_group = {}
        for m in [ours] + peers.peers_of(ours):
            if m in in_run and wanted(m):
                group = "ours" if m == ours else registry.groups.get(m, "?")
                by_group.setdefault(group, []).append(judge(results, m))
        if by_group:
            out.append((words, by_group))
    return out


def claims_table(judged):
    rows = []
    for words, by_group in judged:
        row = [cell(words)]
        for g in GROUPS:
            found = by_group.get(g, [])
            row.append(
                "; ".join(f"{j.mechanism} **{j.verdict}** ({cell(j.brief)})" for j in found) or "–"
            )
        rows.append(row)
    return Table(["claim"] + list(GROUPS), rows)


def claims_figures(judged):
    lines = ["The figures behind each cell (the claims' rules, on runs.csv alone):", ""]
    for words, by_group in judged:
        for g in GROUPS:
            lines += [f"- claim {words.split(':')[0]}, {j.figure}" for j in by_group.get(g, [])]
    return lines + [""]


def section(results, registry):
    """The Section, or the one line that says how to measure it."""
    if registry.problem and any(m in results.mechanisms() for _, m in peers.pairs()):
        return Section(
            TITLE,
            [
                Text(
                    [
                        "Not shown: the mechanism registry could not be read"
                        f" ({cell(registry.problem)}), so this report does not know which"
                        " mechanisms are peers.",
                        "",
                    ]
                )
            ],
        )
    if not peers_in_run(results, registry):
        return Section(TITLE, [Text([ABSENT, ""])])
    pairs = evaluate(results, registry)
    if not idle_counts(results):
        pairs_blocks = [Text([f"The run measured no {MODE}: no figure to set side by side.", ""])]
    else:
        pairs_blocks = [ratios_table(pairs), Text(readings(pairs))]
    blocks = [
        Text(
            [
                f"Our backends beside the peers over the same system call ({MODE}; medians and"
                " ratios of its plotted scenario). Each figure is ours ÷ the peer's: below 1 ours"
                " is cheaper or faster. Its interval is that of the claims' `rules.CostRatio` at"
                f" {rules.CONFIDENCE:.0%}: the log of ours ÷ theirs within each repeat (the two"
                " ran back to back on the same fresh instance), a Student t over the repeats;"
                f" it needs ≥ {rules.MIN_REPEATS_COMPARE} repeats. ≤ 1.0× means the whole"
                f" interval is at or below {1 + rules.EQUIVALENCE_MARGIN:.2f} (ours not dearer"
                f" by more than the {rules.EQUIVALENCE_MARGIN:.0%} the rules call as cheap);"
                f" above, the whole interval beyond it; undecided, in between. Idle counts: 0,"
                " 1,000 and the run's largest, those it measured.",
                "",
            ]
        ),
        *pairs_blocks,
        Text(
            [
                "**The goal for our side**: each of our backends at most 1.0× libevent's same"
                " backend in server CPU per message, at every idle count. In this run:",
                "",
            ]
        ),
        goal_table(results, pairs),
        Text(
            [
                "**The teaching claims, judged again on each group** (the claims' own rules on"
                " each mechanism's runs.csv rows; micro.csv times our system calls only, so the"
                f" [claims](#{slug('The claims')}) above may rest on more):",
                "",
            ]
        ),
    ]
    judged = claims_by_group(results, registry)
    blocks += [claims_table(judged), Text(claims_figures(judged))]
    return Section(TITLE, blocks)
