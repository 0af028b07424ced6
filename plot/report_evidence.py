"""The report's evidence sections: how to read it, the claims with their figures, where io_uring's
completion model wins, costs that grow with idle connections, the plots, the published figures and
the rules."""

import os


from plot import claims
from plot import compare
from plot import rules
from plot import rules_text
from plot.figure_list import FIGURES
from plot.markdown import cell
from plot import run_row
from plot.run_row import scenario_label

# The figure a point is read by, per mode, besides server CPU per message (every mode).
from plot.run_row import COST
from plot.numbers import fmt
from plot.document import Figure, Section, Table, Text


def how_to_read(results=None):
    extra = []
    if results is not None and results.has_bound_by():
        extra.append(
            "- A hollow marker is a point bound by latency (a closed loop waiting on round trips)"
            " or by the loadgen, a filled one a server-bound point; only server-bound throughput is"
            " a capacity. The dotted lines on the throughput plot are each server's capacity, 10⁶ ÷"
            " its CPU µs per message."
        )
    if results is not None and len(results.idle_states_values()) > 1:
        extra.append(
            "- Idle states blocked and allowed are never joined in one curve: the plots give each"
            " setting a row of panels (blocked first), and the claims use the blocked points."
        )
    if results is not None and results.floor_rows(run_row.RELAY_FLOOR):
        extra.append(
            "- The dash-dot line on pingpong latency panels is the *relay floor*: the same 4 hops"
            " and CPUs as a chat ping-pong, relayed by a blocking process instead of a multiplexer."
        )
    return (
        [
            "## How to read this",
            "",
            (
                "- Each *idle connection* is a real TCP connection the server must watch but that"
                " never sends. select and poll hand the kernel the whole watched set on every call;"
                " epoll registers each descriptor once (`epoll_ctl`) and asks only for the ready"
                " ones. So the x axis of the plots is the number of descriptors that select/poll"
                " must pass on every call and epoll need not; what they cost is what the claims"
                " below measure."
            ),
            (
                "- Lines are medians over repeats, shaded bands the min–max of the repeats: where"
                " bands overlap the difference is not established. A red × at the top of a plot is"
                " a point select refused (descriptor ≥ FD_SETSIZE); a hollow circle at the bottom"
                " is a point that failed for another reason (see *Failed points*)."
            ),
            (
                "- The dashed horizontal line on latency plots is the *floor*: two processes doing"
                " blocking send/recv over loopback, no chat server, no multiplexer (explanation,"
                " not measured: a chat ping-pong adds the server's hops to it, so no mechanism is"
                " expected below it)."
            ),
            (
                "- Each claim gets a verdict by a rule fixed in code before the run (see *How"
                " verdicts are decided*). *Inconclusive* is an honest outcome: the data did not"
                " decide, and the figures say why."
            ),
            (
                "- Micro-benchmarks (micro.csv) time one system call in isolation; the chat runs"
                " (runs.csv) show what that cost does to a real server. A claim about a system call"
                " is judged on both."
            ),
        ]
        + extra
        + [""]
    )


def regime_label(point):
    mode, active, size, idle = point
    return f"{mode} active={active or '–'} size={size or '–'} idle={idle}"


def completion_section(results):
    """Claim 11's regimes: where io_uring's completion model and epoll each win."""
    rows = claims.completion_regimes(results)
    if not rows:
        return []
    a, b = claims.COMPLETION, claims.COMPLETION_BASELINE
    out = [
        "## Where each I/O model wins (claim 11)",
        "",
        f"Medians over the repeats of each regime, {a} against {b}: system calls the server made"
        " per message delivered (`server_syscalls_per_msg`: every wait, recv, send, accept,"
        " epoll_ctl and io_uring_enter counted where it is made) beside the server CPU per"
        " message. A model *wins* a regime when its CPU per message is lower by more than"
        f" {rules.EQUIVALENCE_MARGIN:.0%}; ≈ within that. For information: the verdict is the"
        " pooled rule of claim 11.",
        "",
        f"| regime | syscalls/msg {a} | syscalls/msg {b} | CPU µs/msg {a} | CPU µs/msg {b} |"
        " CPU ratio | cheaper | repeats |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ratio = "–" if r["cpu_ratio"] is None else f"{r['cpu_ratio']:.2f}"
        out.append(
            f"| {regime_label(r['point'])} | {fmt(r['calls_completion'])} |"
            f" {fmt(r['calls_epoll'])} | {fmt(r['cpu_completion'])} | {fmt(r['cpu_epoll'])} |"
            f" {ratio} | {r['winner']} | {r['repeats']} |"
        )
    return out + [""]


# The words of the figures idle_growth compares (churn counts connections, not messages).
FIGURE_WORDS = {
    "p50_us": "p50 latency (µs)",
    "throughput_msgs_s": "throughput (msg/s)",
    "conns_per_s": "connections opened and closed per s",
    COST: "server CPU per message (µs)",
}


def figure_words(c):
    if c.metric == COST and c.mode == "churn":
        return "server CPU per connection (µs)"
    return FIGURE_WORDS.get(c.metric, f"`{c.metric}`")


def medians_text(c, which):
    """The median of one count; over several regimes, the range of their medians."""
    values = [pair[which] for pair in c.medians.values()]
    if len(values) == 1:
        return fmt(values[0])
    return f"{fmt(min(values))} … {fmt(max(values))} ({len(values)} regimes)"


def idle_growth_table(comparisons):
    out = [
        "| mechanism | mode | figure | median at 0 idle | median at the largest count |"
        " cost ratio (95% CI) | fewest ok repeats (0 / largest) |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in comparisons:
        r = c.cost
        out.append(
            f"| {c.mechanism} | {c.mode} | {figure_words(c)} | {medians_text(c, 0)} |"
            f" {fmt(c.largest)} idle: {medians_text(c, 1)} | {r.ratio:.2f}"
            f" ({r.low:.2f} … {r.high:.2f}) | {c.repeats[0]} / {c.repeats[1]} |"
        )
    return out + [""]


def absent_words(growth):
    measured = {c.mechanism for c in growth.comparisons}
    absent = [m for m in growth.registry.flat if m not in measured]
    return f" (not in this run: {', '.join(absent)})" if absent else ""


def idle_growth_section(growth):
    """Costs that grow with idle connections in mechanisms whose model predicts none."""
    m = rules.IDLE_GROWTH_MARGIN
    out = ["## Costs that grow with idle connections", ""]
    reg = growth.registry
    if reg.problem:
        return out + [
            f"Not checked: the mechanism registry could not be read ({cell(reg.problem)}), so this"
            " report does not know which mechanisms' models predict a cost independent of idle"
            " connections.",
            "",
        ]
    out += [
        "The mechanisms whose model predicts a cost that does not depend on idle descriptors"
        " (`cost_independent_of_idle` in the registry, read from"
        f" `{reg.source} --list-mechanisms`): {', '.join(reg.flat) or 'none'}"
        f"{absent_words(growth)}."
        " Each one this run measured is compared, in every mode, at the run's largest idle count"
        " against 0 idle, on the mode's headline figure and on the"
        " server CPU per message (per connection under churn). The figure is the cost ratio, cost"
        " at the largest count ÷ cost at 0 (for a rate, cost = 1 ÷ rate: a ratio of 2 is half the"
        f" rate), with the {rules.CONFIDENCE:.0%} interval of the claims' rule (`rules.CostRatio`;"
        " repeats paired by repeat number, regimes as its points).",
        "",
        f"Rule (margin {m:.0%}, `rules.IDLE_GROWTH_MARGIN`): a **finding** when the whole interval"
        f" lies above {1 + m:.2f}; **possible, not established** when the estimate is above"
        f" {1 + m:.2f} but the interval reaches below it; otherwise within the margin. The model"
        " predicts no growth, so a finding points at our server's code (some step that costs in"
        " proportion to the idle connections); that is an explanation, the run measures only the"
        " growth.",
        "",
    ]
    findings = growth.of(rules.IDLE_GROWTH_FINDING)
    possible = growth.of(rules.IDLE_GROWTH_POSSIBLE)
    within = growth.of(rules.IDLE_GROWTH_WITHIN)
    compared = len(findings) + len(possible) + len(within)
    # "None" only means something when something was compared: a run whose pairs were all left
    # out can neither show such a cost nor rule it out, and says so instead.
    empty = (
        f"None, among {compared} comparison(s)."
        if compared
        else "Undecided: no pair could be compared (see below), so this run neither shows nor rules"
        " out such a cost."
    )
    out += ["**Findings** (whole interval above the margin):", ""]
    out += idle_growth_table(findings) if findings else [empty, ""]
    out += ["**Possible, not established** (estimate above the margin, interval not):", ""]
    out += idle_growth_table(possible) if possible else [empty, ""]
    if within:
        out += ["Within the margin:", ""] + idle_growth_table(within)
    out += idle_growth_not_compared(growth)
    return out


def idle_growth_not_compared(growth):
    rows = growth.of(rules.IDLE_GROWTH_NOT_COMPARED)
    out = ["**Not compared:**" + (" none." if not rows and not growth.skipped_modes else ""), ""]
    for c in rows:
        medians = (
            f" For information (never a finding): median {medians_text(c, 0)} at 0 idle,"
            f" {medians_text(c, 1)} at {fmt(c.largest)}."
            if c.medians
            else ""
        )
        out.append(f"- {c.mechanism}, {c.mode}, {figure_words(c)}: {cell(c.reason)}.{medians}")
    for mode, why in growth.skipped_modes:
        out.append(f"- mode {mode}: {why}.")
    return out + ([""] if rows or growth.skipped_modes else [])


def claim_anchor(number):
    """The anchor of a claim's row in the claims table: the verdict table links to it."""
    return f"claim-{number}"


def verdict_counts(evaluated):
    counts = {
        v: sum(1 for c in evaluated if c.verdict == v)
        for v in (rules.CONFIRMED, rules.REFUTED, rules.INCONCLUSIVE)
    }
    return "Summary: " + ", ".join(f"{n} {v}" for v, n in counts.items()) + "."


def claims_section(evaluated):
    """The evidence of every claim: its figures and why; each row is a verdict's link target."""
    table = Table(
        ["#", "claim", "verdict", "figures behind it", "why"],
        [
            [
                str(c.number),
                cell(c.text),
                f"**{c.verdict}**",
                "<br>".join(cell(f) for f in c.figures) or "–",
                cell(c.explanation),
            ]
            for c in evaluated
        ],
        row_ids=[claim_anchor(c.number) for c in evaluated],
    )
    return Section("The claims", [table, Text(claims_notes(evaluated))])


def claims_notes(evaluated):
    out = []
    out += [verdict_counts(evaluated), ""]
    c9 = next(c for c in evaluated if c.number == 9)
    out += [
        (
            "Claim 9 cannot be seen by timing: an mmap'ed ring and a copy both take time per"
            " event. The evidence used is (a) `mux-probe`: it tries to mmap an epoll descriptor (a"
            " shared ring would need one) and calls epoll_wait with a read-only events buffer (a"
            " copy to user memory then faults with EFAULT); (b) the micro-benchmark of epoll_wait"
            " with a fixed watched set and a growing number of ready descriptors — a fixed cost"
            " per ready event is what a copy per event predicts; and (c) the kernel source, cited,"
            f" not measured: {c9.evidence}"
        ),
        "",
    ]
    out += [
        (
            "Claims 5 and 6 are behaviours, not timings: their evidence is `probe.json`, written by"
            " `mux-probe`, which makes a descriptor ready, does not service it, and waits again"
            " (and, for edge-triggered epoll, waits a second time without new data, then with new"
            " data)."
        ),
        "",
    ]
    return out


def throughput_bound_note(results):
    """Under the throughput plot: which of its points are capacities (server-bound), when
    recorded."""
    modes = [
        m
        for m in results.modes()
        if m != "churn" and results.has_bound_by(results.scenario_runs(m))
    ]
    if not modes:
        return []
    rows = [r for m in modes for r in results.scenario_runs(m) if r.ok and r.bound_by]
    server = sum(1 for r in rows if r.bound_by == run_row.BOUND_SERVER)
    if server == 0:
        return [
            (
                "No point of this plot was server-bound (bound_by): every throughput here is a"
                " round-trip rate, not the server's capacity; read the dotted capacity lines (10⁶ ÷"
                " server CPU per message) for that."
            ),
            "",
        ]
    return [
        (
            f"{server} of {len(rows)} plotted rows were server-bound (filled markers): only those"
            " are capacities; hollow markers are round-trip rates (latency-bound) or the loadgen's"
            " limit."
        ),
        "",
    ]


def figure_blocks(results, stems=None):
    """A Figure (and its notes) for each plot drawn in the folder, in FIGURES' order; only stems,
    when given. Returns (blocks, stems drawn)."""
    blocks, drawn = [], []
    for stem, title, text in FIGURES:
        if stems is not None and stem not in stems:
            continue
        if os.path.isfile(os.path.join(results.path, f"{stem}.png")):
            drawn.append(stem)
            blocks.append(Figure(stem, title, text))
            if stem == "throughput":
                notes = throughput_bound_note(results)
                blocks += [Text(notes)] if notes else []
    return blocks, drawn


def no_plot_text(results):
    return Text(
        [
            (
                f"No plot found in this folder: run `/usr/bin/python3 -m plot.plot {results.path}` "
                "from the muxbench root (needs python3-matplotlib) and then this script again."
            ),
            "",
        ]
    )


def plots_section(results, shown_above=()):
    """Every plot but those shown_above (the story's, at the top of the report)."""
    stems = [stem for stem, _, _ in FIGURES if stem not in shown_above]
    blocks, drawn = figure_blocks(results, stems)
    if shown_above:
        blocks.insert(
            0,
            Text(
                [
                    "The plots the answers are read on (latency and server CPU per message) are at"
                    " the top, under *The story in two plots*; the others follow.",
                    "",
                ]
            ),
        )
    if not drawn and not shown_above:
        blocks.append(no_plot_text(results))
    others = results.other_scenarios()
    if others:
        blocks.append(
            Text(
                [
                    "Scenarios in runs.csv not plotted (each mode's most measured scenario is"
                    " plotted and judged): " + "; ".join(scenario_label(s) for s in others) + ".",
                    "",
                ]
            )
        )
    return Section("Plots", blocks)


def anchors_section(results, anchors):
    out = [
        "## Our figures beside the published ones",
        "",
        (
            "Different decades, machines and workloads: what should agree is the *shape* (which"
            " mechanism grows with N, which stays flat) and, loosely, the order of magnitude. The"
            " rules are in the next section."
        ),
        "",
        "### Wait-call cost against watched descriptors",
        "",
    ]
    out += compare.kerrisk(results, anchors) + [""]
    out += ["### Throughput lost to idle connections", ""] + compare.gammo(results, anchors) + [""]
    out += (
        ["### Gap to epoll in an event-passing benchmark", ""]
        + compare.coroio(results, anchors)
        + [""]
    )
    g = anchors["gammo2004"]
    out += [
        f"For claim 10: profiling their server at {g['profile_rate_req_s']:,} req/s, Gammo et al."
        " found these shares of the time: "
        + ", ".join(f"{k} {v:.2%}" for k, v in g["profile_share"].items())
        + ". Their reading, not measured here: registration costs epoll about what scanning costs"
        " select and poll, epoll's weak point under churn. Compare with claim 10's figures above.",
        "",
    ]
    return out


def rules_section():
    out = [
        "## How verdicts are decided",
        "",
        (
            "Fixed in `plot/rules.py` (thresholds) and `plot/claims.py` (which evidence each claim"
            " uses); never tuned to a run."
        ),
        "",
    ]
    for paragraph in rules_text.rules_text():
        if paragraph.startswith("**"):
            out.append("")
        out.append(paragraph)
    out += [
        "",
        (
            "The cost claims (2, 4, 8) use server CPU per message from runs.csv in the first of"
            f" {', '.join(claims.COST_MODES)} that was measured (ping-pong makes about one wait"
            " call per message, so the scan is not divided among many messages), and the one-call"
            " timings of micro.csv (one descriptor ready, every repetition). Their shapes are read"
            " as the cost each watched descriptor adds (plot *Cost per watched descriptor*): a"
            " line fitted over a series that bends would report an average slope that no count"
            " has."
        ),
        "",
    ]
    return out
