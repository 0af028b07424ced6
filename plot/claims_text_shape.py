"""Claims 2, 4 and 8 in words: the shapes plot/claims_shape.py evaluates (the cost per watched
descriptor of select and poll, epoll's cost against watched and ready descriptors) turned into
the report's Claim."""

from plot import rules_words, shape_rules
from plot.claim_common import Claim
from plot.claims_shape import (
    MICRO,
    SHAPE_READY,
    evaluate_claim8,
    evaluate_linear_cost,
)
from plot.claims_text import decided_lines
from plot.numbers import fmt
from plot.rules import CONFIRMED, REFUTED

# (unit of the cost, what the x count is, what one descriptor is in the per-descriptor words)
RUNS_UNIT = ("µs", "idle conn.", "idle connection per message")


MICRO_UNIT = ("ns", "watched", "watched descriptor")


def shape_figure(source, shape, unit, scale=1.0, per_fd=True):
    """One figure line: the total cost and (per_fd) the cost per descriptor, in the rule's words."""
    text = f"{source}: " + rules_words.per_fd_cost_line(shape, unit[0], unit[1])
    if per_fd:
        text += "; " + rules_words.per_fd_line(shape, "ns", unit[2], scale)
    return text


def series_figure(series, per_fd=True):
    """The figure line of a claims_shape.ShapeSeries."""
    if series.source == MICRO:
        source = f"micro.csv, one {series.mechanism} call with {fmt(SHAPE_READY)} ready vs watched"
        return shape_figure(source, series.shape, MICRO_UNIT, 1.0, per_fd)
    source = (
        f"runs.csv ({series.mode}), {series.mechanism} server CPU per message vs idle connections"
    )
    return shape_figure(source, series.shape, RUNS_UNIT, 1000.0, per_fd)


def same_count_line(same):
    """select (or select-dynamic) against poll per descriptor at the counts both measured."""
    source = "micro.csv" if same.source == MICRO else f"runs.csv ({same.mode})"
    each = "; ".join(
        f"{fmt(x)}: ×{fmt(r)} ({rules_words.interval_words(lo, hi)})" + (" match" if ok else "")
        for x, r, lo, hi, ok in same.rows
    )
    matched = [fmt(x) for x, *_, ok in same.rows if ok]
    margin = f"±{shape_rules.SAME_PER_FD_MARGIN:.0%}"
    return (
        f"{source}, {same.a} / {same.b} per descriptor at the same counts (information): {each}"
        + (
            f" — they match within {margin} at {', '.join(matched)}"
            if matched
            else f" — no count where they match within {margin}"
        )
    )


def shared_probe_lines(shared):
    return [
        shape_figure(
            f"micro.csv, poll over N entries naming {fmt(d)} distinct sockets (+1 ready;"
            " the bend probe, information)",
            shape,
            MICRO_UNIT,
        )
        for d, shape in shared.shapes
    ]


def linear_cost_lines(found):
    figures = [series_figure(s) + f" [{s.verdict}]" for s in found.series]
    if not found.measured_runs:
        figures.append(f"runs.csv: no ok {found.mechanism} point with server CPU per message")
    if not found.micro_measured:
        figures.append("micro.csv absent: the system call was not timed alone")
    elif not found.micro_wait_rows:
        figures.append(
            f"micro.csv: no ok `wait` rows for {found.mechanism} with per-repetition figures"
            " (ns_per_call_repeats, or micro.json beside it)"
        )
    if found.build is not None:
        figures.append(
            shape_figure(
                f"micro.csv, building/copying the {found.mechanism} set per call (information)",
                found.build,
                MICRO_UNIT,
            )
        )
    figures += [same_count_line(same) for same in found.same_counts]
    return figures + shared_probe_lines(found.shared)


def bend_words(found):
    """Why a bent series matters, and what the bend probe says of where the rise comes from."""
    rises_at = found.rises_at
    where = f"from about {fmt(rises_at)}" if rises_at is not None else "at the high end"
    why = (
        f" {where[0].upper()}{where[1:]} each descriptor added more than"
        f" {shape_rules.PER_FD_MARGIN:.0%} beyond its cost at the low end: the cost grows"
        " faster than linearly there, and one slope over the whole range would describe"
        " no count."
    )
    kind, d, shared, distinct = found.shared.finding or (None, 0, 0, 0)
    if kind == "sockets":
        why += (
            f" Measured: over as many entries naming only {fmt(d)} distinct sockets the"
            f" cost per entry rose ×{fmt(shared)} across the range, against"
            f" ×{fmt(distinct)} with every entry a distinct socket: the rise comes from the"
            " number of distinct sockets a call touches, not from the entries. Which limit"
            " their"
            " kernel objects outgrow (a cache, the TLB) is an explanation: the run did not"
            " measure it."
        )
    elif kind == "entries":
        why += (
            f" Measured: over as many entries naming only {fmt(d)} distinct sockets the"
            f" cost per entry rose as much (×{fmt(shared)} against ×{fmt(distinct)}): the"
            " rise comes from the per-entry work, not from the sockets."
        )
    return why


def linear_why(found):
    name = "select" if found.mechanism == "select" else "poll"
    if found.verdict == CONFIRMED:
        why = (
            f"Every {name} call hands the kernel the whole set and the kernel walks all of it, "
            "so each idle descriptor adds at least a fixed cost to every call."
        )
        return why + (bend_words(found) if found.bent else "")
    if found.verdict == REFUTED:
        return (
            f"Within the measured range the cost of {name} did not grow at least linearly with"
            " the watched count (flat, or slower than linear); per-call overheads dominated."
        )
    if found.series:
        return (
            "The evidence does not decide (too few points, too noisy, or sources disagree); see"
            " the figures."
        )
    return f"Neither runs.csv nor micro.csv measured the cost of {name}."


def render_linear_cost(found):
    return Claim(found.number, found.verdict, linear_cost_lines(found), linear_why(found))


def linear_cost_claim(results, number, mechanism):
    """Claims 2 and 4 (select, poll)."""
    return render_linear_cost(evaluate_linear_cost(results, number, mechanism))


def watched_and_ready_why(found):
    if found.verdict == REFUTED:
        return (
            "epoll's cost followed the watched count"
            if found.not_watched == REFUTED
            else "epoll_wait did not get dearer with more ready descriptors"
        ) + " beyond the thresholds."
    if found.verdict == CONFIRMED:
        return (
            "The interest list lives in the kernel and only the ready list is walked and copied"
            " out, so idle descriptors cost nothing per call while each ready one does."
        )
    half = (
        "independence from the watched count"
        if found.not_watched != CONFIRMED
        else "growth with the ready count"
    )
    return f"Both halves are needed and {half} was not established" + (
        " (micro.csv absent)." if not found.micro_measured else " (not measured, or unclear)."
    )


def render_claim8(found):
    figures = [series_figure(s, per_fd=False) + f" [flat? {s.verdict}]" for s in found.watched]
    if not found.micro_measured:
        figures.append("micro.csv absent: the dependence on ready descriptors was not measured")
    figures += [
        f"micro.csv, {r.mechanism} wait with {fmt(r.watched)} watched vs ready: "
        + rules_words.fit_line(r.fit, "ns", "ready", 1.0, "ns per ready descriptor")
        + f" [grows? {r.verdict}]"
        for r in found.ready
    ]
    figures += decided_lines(found.until_decided)
    return Claim(8, found.verdict, figures, watched_and_ready_why(found))


def claim8(results):
    return render_claim8(evaluate_claim8(results))
