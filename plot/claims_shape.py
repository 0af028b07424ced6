"""Claims 2, 4 and 8: how a wait call's cost grows with watched descriptors (select, poll) or
does not (epoll), read as shapes of micro.csv and runs.csv series (shape_rules.PerFdShape,
rules.Fit)."""

import math
import os

from plot import rules
from plot import shape_rules
from plot.rules import CONFIRMED, INCONCLUSIVE, REFUTED, fmt
from plot.results_folder import number
from plot.claim_common import COST_METRIC, EPOLLS, Claim, cost_mode, decided_lines


def growth_verdict(fit, want):
    """want 'grows-linear', 'grows' or 'flat': the verdict a series' shape gives that
    expectation."""
    grows = fit.shape in (rules.GROWS_LINEAR, rules.GROWS)
    flat = fit.shape in (rules.FLAT, rules.FALLS)
    if want == "grows-linear":
        if fit.shape == rules.GROWS_LINEAR:
            return CONFIRMED
        return REFUTED if flat else INCONCLUSIVE
    if want == "grows":
        if grows:
            return CONFIRMED
        return REFUTED if flat else INCONCLUSIVE
    if want == "flat":
        if fit.shape == rules.FLAT:
            return CONFIRMED
        return REFUTED if grows else INCONCLUSIVE
    raise ValueError(want)


def runs_cost_fit(results, mechanism):
    mode = cost_mode(results)
    if mode is None:
        return None, None
    series = results.series(mode, mechanism, COST_METRIC)
    if not len(series):
        return mode, None
    return mode, rules.Fit(series)


def micro_wait_fit(results, mechanism):
    """ns per wait call against watched descriptors, one ready (or the most measured ready
    count)."""
    ready = results.micro_fixed_value("wait", mechanism, "ready", prefer=1.0)
    if ready is None:
        return None, None
    return ready, rules.Fit(results.micro_series("wait", mechanism, "watched", "ready", ready))


def micro_ready_fit(results, mechanism):
    watched = results.micro_fixed_value("ready", mechanism, "watched")
    if watched is None:
        return None, None
    return watched, rules.Fit(results.micro_series("ready", mechanism, "ready", "watched", watched))


SHAPE_READY = 1.0  # the micro series the shape claims read: one wait call with 1 descriptor ready


SHARED_FAMILY = "shared"  # poll over N entries naming few distinct sockets (the bend probe)


# (unit of the cost, what the x count is, what one descriptor is in the per-descriptor words)
RUNS_UNIT = ("µs", "idle conn.", "idle connection per message")


MICRO_UNIT = ("ns", "watched", "watched descriptor")


def runs_cost_points(results, mechanism):
    """(mode, {idle: [server CPU per message of each repeat]}) in the cost mode, or (mode, {})."""
    mode = cost_mode(results)
    points = {}
    if mode is not None:
        for x, y, _ in results.series(mode, mechanism, COST_METRIC).points:
            points.setdefault(x, []).append(y)
    return mode, points


def repetitions_of(row, json_repeats):
    """Every repetition's ns per call for one micro.csv row: its ns_per_call_repeats column, or,
    for a micro.csv made before that column, the repetitions in micro.json beside it."""
    text = (row.get("ns_per_call_repeats") or "").strip()
    if text:
        return [v for v in (number(t) for t in text.split(";")) if v is not None]
    return json_repeats.get((row.get("benchmark") or "").strip(), [])


def micro_json_repeats(results):
    """{benchmark name: [ns per call of each repetition]} from micro.json, {} when absent."""
    cached = getattr(results, "_micro_json_repeats", None)
    if cached is not None:
        return cached
    out = {}
    path = os.path.join(results.path, "micro.json")
    if os.path.isfile(path) and results.micro and "ns_per_call_repeats" not in results.micro[0]:
        from harness.common import micro_json as micro_to_csv

        try:
            doc, _ = micro_to_csv.load(path)
        except (OSError, ValueError):
            doc = {}
        for b in doc.get("benchmarks", []):
            if b.get("run_type", "iteration") == "iteration" and not b.get("error_occurred"):
                value = micro_to_csv.ns(b, "ns_per_call")
                if value is not None:
                    out.setdefault(b.get("run_name", ""), []).append(value)
    results._micro_json_repeats = out
    return out


def micro_cost_points(results, family, mechanism, sockets=None):
    """{watched: [ns per call of each repetition]} with SHAPE_READY ready (and `sockets` distinct
    sockets, for the shared family)."""
    json_repeats = micro_json_repeats(results)
    points = {}
    for row in results.micro_rows(family, mechanism):
        if number(row.get("ready")) != SHAPE_READY:
            continue
        if sockets is not None and number(row.get("sockets")) != sockets:
            continue
        watched = number(row.get("watched"))
        values = repetitions_of(row, json_repeats)
        if watched is not None and values:
            points[watched] = values
    return points


def linear_verdict(shape):
    """Claims 2 and 4: confirmed when the cost grows at least linearly (one edge: the
    per-descriptor ratio's interval at or above 1 - PER_FD_MARGIN), refuted when it is flat or
    grows slower than linearly."""
    if shape.grows_at_least_linearly():
        return CONFIRMED
    if shape.cost_shape == shape_rules.COST_FLAT or (
        shape.cost_shape == shape_rules.COST_GROWS and shape.shape == shape_rules.SLOWER_THAN_LINEAR
    ):
        return REFUTED
    return INCONCLUSIVE


def flat_verdict(shape):
    """Claim 8's watched half: epoll's cost stays within the margin (confirmed) or grows beyond
    it (refuted), on one edge (shape_rules.PerFdShape.stays_within_growth_margin)."""
    return {True: CONFIRMED, False: REFUTED}.get(shape.stays_within_growth_margin(), INCONCLUSIVE)


def shape_figure(source, shape, unit, scale=1.0, per_fd=True):
    """One figure line: the total cost and (per_fd) the cost per descriptor, in the rule's words."""
    text = f"{source}: " + shape.describe_cost(unit[0], unit[1])
    if per_fd:
        text += "; " + shape.describe("ns", unit[2], scale)
    return text


def shape_evidence(results, mechanism, runs_confidence=None):
    """[(source words, PerFdShape, unit, scale)] for one mechanism: runs.csv (its cost ratio at
    runs_confidence, default rules.CONFIDENCE), then micro.csv."""
    out = []
    mode, points = runs_cost_points(results, mechanism)
    if points:
        out.append(
            (
                f"runs.csv ({mode}), {mechanism} server CPU per message vs idle connections",
                shape_rules.PerFdShape(points, runs_confidence),
                RUNS_UNIT,
                1000.0,
            )
        )
    points = micro_cost_points(results, "wait", mechanism)
    if points:
        out.append(
            (
                f"micro.csv, one {mechanism} call with {fmt(SHAPE_READY)} ready vs watched",
                shape_rules.PerFdShape(points),
                MICRO_UNIT,
                1.0,
            )
        )
    return out


def same_count_figures(results):
    """select (and select-dynamic) against poll, per descriptor at the counts both measured."""
    figures = []
    pairs = [("select", "poll"), ("select-dynamic", "poll")]
    sources = [
        ("micro.csv", lambda m: micro_cost_points(results, "wait", m), 1.0),
        (f"runs.csv ({cost_mode(results)})", lambda m: runs_cost_points(results, m)[1], 1000.0),
    ]
    for source, points_of, _ in sources:
        for a, b in pairs:
            pa, pb = points_of(a), points_of(b)
            if not pa or not pb:
                continue
            rows = shape_rules.same_count_ratios(
                shape_rules.PerFdShape(pa), shape_rules.PerFdShape(pb)
            )
            if not rows:
                continue
            each = "; ".join(
                f"{fmt(x)}: ×{fmt(r)} ({shape_rules.interval_words(lo, hi)})"
                + (" match" if ok else "")
                for x, r, lo, hi, ok in rows
            )
            matched = [fmt(x) for x, *_, ok in rows if ok]
            figures.append(
                f"{source}, {a} / {b} per descriptor at the same counts (information): {each}"
                + (
                    f" — they match within ±{shape_rules.SAME_PER_FD_MARGIN:.0%} at"
                    f" {', '.join(matched)}"
                    if matched
                    else " — no count where they match within"
                    f" ±{shape_rules.SAME_PER_FD_MARGIN:.0%}"
                )
            )
    return figures


def shared_probe(results):
    """The bend probe: poll over N entries naming few distinct sockets, against the wait family
    (N distinct sockets). Returns (figure lines, finding): finding is None when not measured or
    undecided, else (kind, D, shared ratio, distinct ratio) with kind 'sockets' when the
    per-descriptor cost of distinct sockets rose faster than linearly and the shared one's rose
    less, beyond both intervals, or 'entries' when both rose and their intervals overlap."""
    rows = results.micro_rows(SHARED_FAMILY, "poll")
    socket_counts = sorted({number(r.get("sockets")) for r in rows} - {None})
    distinct = micro_cost_points(results, "wait", "poll")
    if not socket_counts or not distinct:
        return [], None
    base = shape_rules.PerFdShape(distinct)
    figures, findings = [], []
    for d in socket_counts:
        shape = shape_rules.PerFdShape(micro_cost_points(results, SHARED_FAMILY, "poll", d))
        figures.append(
            shape_figure(
                f"micro.csv, poll over N entries naming {fmt(d)} distinct sockets (+1 ready;"
                " the bend probe, information)",
                shape,
                MICRO_UNIT,
            )
        )
        if base.shape != shape_rules.FASTER_THAN_LINEAR or shape.ratio is None:
            continue
        if math.isinf(shape.ratio[2]):
            continue
        if shape.ratio[2] < base.ratio[1]:
            findings.append(("sockets", d, shape.ratio[0], base.ratio[0]))
        elif shape.shape == shape_rules.FASTER_THAN_LINEAR:
            findings.append(("entries", d, shape.ratio[0], base.ratio[0]))
    kinds = {f[0] for f in findings}
    return figures, (findings[0] if len(kinds) == 1 else None)


def linear_cost_claim(results, number, mechanism):
    """Claims 2 and 4: the cost of select / poll grows linearly with watched descriptors, judged
    on the cost each watched descriptor adds (shape_rules.PerFdShape), never on one slope."""
    figures, verdicts, shapes = [], [], []
    mechanisms = [mechanism] + (["select-dynamic"] if mechanism == "select" else [])
    for mech in mechanisms:
        for source, shape, unit, scale in shape_evidence(results, mech):
            v = linear_verdict(shape)
            verdicts.append(v)
            shapes.append(shape)
            figures.append(shape_figure(source, shape, unit, scale) + f" [{v}]")
    if not any(f.startswith("runs.csv") for f in figures):
        figures.append(f"runs.csv: no ok {mechanism} point with server CPU per message")
    if results.micro is None:
        figures.append("micro.csv absent: the system call was not timed alone")
    else:
        if not micro_cost_points(results, "wait", mechanism):
            figures.append(
                f"micro.csv: no ok `wait` rows for {mechanism} with per-repetition figures"
                " (ns_per_call_repeats, or micro.json beside it)"
            )
        build = micro_cost_points(results, "build", mechanism)
        if build:
            figures.append(
                shape_figure(
                    f"micro.csv, building/copying the {mechanism} set per call (information)",
                    shape_rules.PerFdShape(build),
                    MICRO_UNIT,
                )
            )
    figures += same_count_figures(results)
    probe_figures, finding = shared_probe(results) if mechanism == "poll" else ([], None)
    figures += probe_figures
    verdict = rules.combine(verdicts)
    return Claim(
        number, verdict, figures, linear_why(verdict, mechanism, shapes, finding, verdicts)
    )


def linear_why(verdict, mechanism, shapes, finding, verdicts):
    name = "select" if mechanism == "select" else "poll"
    if verdict == CONFIRMED:
        why = (
            f"Every {name} call hands the kernel the whole set and the kernel walks all of it, "
            "so each idle descriptor adds at least a fixed cost to every call."
        )
        # The last bent series: micro.csv's (the call alone) when it bends, else runs.csv's.
        bent = [s for s in shapes if s.shape == shape_rules.FASTER_THAN_LINEAR]
        if bent:
            _, rises_at = bent[-1].bend()
            where = f"from about {fmt(rises_at)}" if rises_at is not None else "at the high end"
            why += (
                f" {where[0].upper()}{where[1:]} each descriptor added more than"
                f" {shape_rules.PER_FD_MARGIN:.0%} beyond its cost at the low end: the cost grows"
                " faster than linearly there, and one slope over the whole range would describe"
                " no count."
            )
            kind, d, shared, distinct = finding or (None, 0, 0, 0)
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
    if verdict == REFUTED:
        return (
            f"Within the measured range the cost of {name} did not grow at least linearly with"
            " the watched count (flat, or slower than linear); per-call overheads dominated."
        )
    if verdicts:
        return (
            "The evidence does not decide (too few points, too noisy, or sources disagree); see"
            " the figures."
        )
    return f"Neither runs.csv nor micro.csv measured the cost of {name}."


def claim8(results):
    figures, watched_verdicts, ready_verdicts = [], [], []
    for mech in EPOLLS:
        # runs.csv's half is measured until decided (flat_comparison): judged at the look level.
        for source, shape, unit, scale in shape_evidence(results, mech, rules.LOOK_CONFIDENCE):
            v = flat_verdict(shape)
            watched_verdicts.append(v)
            figures.append(shape_figure(source, shape, unit, per_fd=False) + f" [flat? {v}]")
    if results.micro is None:
        figures.append("micro.csv absent: the dependence on ready descriptors was not measured")
    for mech in EPOLLS if results.micro is not None else []:
        watched, rfit = micro_ready_fit(results, mech)
        if rfit is not None:
            v = growth_verdict(rfit, "grows")
            ready_verdicts.append(v)
            figures.append(
                f"micro.csv, {mech} wait with {fmt(watched)} watched vs ready: "
                + rfit.describe("ns", "ready", 1.0, "ns per ready descriptor")
                + f" [grows? {v}]"
            )
    not_watched = rules.combine(watched_verdicts)
    on_ready = rules.combine(ready_verdicts)
    if REFUTED in (not_watched, on_ready):
        verdict = REFUTED
        why = (
            "epoll's cost followed the watched count"
            if not_watched == REFUTED
            else "epoll_wait did not get dearer with more ready descriptors"
        ) + " beyond the thresholds."
    elif not_watched == CONFIRMED and on_ready == CONFIRMED:
        verdict = CONFIRMED
        why = (
            "The interest list lives in the kernel and only the ready list is walked and copied"
            " out, so idle descriptors cost nothing per call while each ready one does."
        )
    else:
        verdict = INCONCLUSIVE
        half = (
            "independence from the watched count"
            if not_watched != CONFIRMED
            else "growth with the ready count"
        )
        why = f"Both halves are needed and {half} was not established" + (
            " (micro.csv absent)." if results.micro is None else " (not measured, or unclear)."
        )
    return Claim(8, verdict, figures + decided_lines(results, 8), why)
