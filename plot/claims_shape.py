"""Claims 2, 4 and 8: how a wait call's cost grows with watched descriptors (select, poll) or
does not (epoll), read as shapes of micro.csv and runs.csv series (shape_rules.PerFdShape,
rules.Fit)."""

import dataclasses
import math
import os
from dataclasses import dataclass
from typing import Optional

from plot import rules
from plot import shape_rules
from plot.rules import CONFIRMED, INCONCLUSIVE, REFUTED
from plot.results_folder import number
from plot.claim_common import COST_METRIC, EPOLLS, UntilDecided, cost_mode, until_decided


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


RUNS, MICRO = "runs.csv", "micro.csv"  # where a ShapeSeries was measured


@dataclass(frozen=True)
class ShapeSeries:
    """One mechanism's cost against its descriptor count, as a shape_rules.PerFdShape: runs.csv's
    server CPU per message vs idle connections in `mode`, or micro.csv's one call with SHAPE_READY
    ready vs watched; verdict: what it says of the claim it is read for (None: information)."""

    source: str
    mechanism: str
    mode: Optional[str]
    shape: shape_rules.PerFdShape
    verdict: Optional[str] = None


def shape_evidence(results, mechanism, runs_confidence=None):
    """[ShapeSeries] for one mechanism: runs.csv (its cost ratio at runs_confidence, default
    rules.CONFIDENCE), then micro.csv."""
    out = []
    mode, points = runs_cost_points(results, mechanism)
    if points:
        out.append(
            ShapeSeries(RUNS, mechanism, mode, shape_rules.PerFdShape(points, runs_confidence))
        )
    points = micro_cost_points(results, "wait", mechanism)
    if points:
        out.append(ShapeSeries(MICRO, mechanism, None, shape_rules.PerFdShape(points)))
    return out


def judged(series, verdict_of):
    return [dataclasses.replace(s, verdict=verdict_of(s.shape)) for s in series]


@dataclass(frozen=True)
class SameCount:
    """a against b per descriptor at the counts both measured, from one source (runs.csv in the
    cost mode, or micro.csv): shape_rules.same_count_ratios' rows."""

    source: str
    mode: Optional[str]
    a: str
    b: str
    rows: tuple


def same_counts(results):
    """select (and select-dynamic) against poll, per descriptor at the counts both measured."""
    found = []
    pairs = [("select", "poll"), ("select-dynamic", "poll")]
    sources = [
        (MICRO, lambda m: micro_cost_points(results, "wait", m)),
        (RUNS, lambda m: runs_cost_points(results, m)[1]),
    ]
    for source, points_of in sources:
        for a, b in pairs:
            pa, pb = points_of(a), points_of(b)
            if not pa or not pb:
                continue
            rows = shape_rules.same_count_ratios(
                shape_rules.PerFdShape(pa), shape_rules.PerFdShape(pb)
            )
            if rows:
                mode = cost_mode(results) if source == RUNS else None
                found.append(SameCount(source, mode, a, b, tuple(rows)))
    return found


@dataclass(frozen=True)
class SharedProbe:
    """The bend probe: poll over N entries naming few distinct sockets ((sockets, PerFdShape) per
    count measured), against the wait family (N distinct sockets). finding: None when not
    measured or undecided, else (kind, D, shared ratio, distinct ratio) with kind 'sockets' when
    the per-descriptor cost of distinct sockets rose faster than linearly and the shared one's
    rose less, beyond both intervals, or 'entries' when both rose and their intervals overlap."""

    shapes: tuple = ()
    finding: Optional[tuple] = None


def shared_probe(results):
    rows = results.micro_rows(SHARED_FAMILY, "poll")
    socket_counts = sorted({number(r.get("sockets")) for r in rows} - {None})
    distinct = micro_cost_points(results, "wait", "poll")
    if not socket_counts or not distinct:
        return SharedProbe()
    base = shape_rules.PerFdShape(distinct)
    shapes, findings = [], []
    for d in socket_counts:
        shape = shape_rules.PerFdShape(micro_cost_points(results, SHARED_FAMILY, "poll", d))
        shapes.append((d, shape))
        if base.shape != shape_rules.FASTER_THAN_LINEAR or shape.ratio is None:
            continue
        if math.isinf(shape.ratio[2]):
            continue
        if shape.ratio[2] < base.ratio[1]:
            findings.append(("sockets", d, shape.ratio[0], base.ratio[0]))
        elif shape.shape == shape_rules.FASTER_THAN_LINEAR:
            findings.append(("entries", d, shape.ratio[0], base.ratio[0]))
    kinds = {f[0] for f in findings}
    return SharedProbe(tuple(shapes), findings[0] if len(kinds) == 1 else None)


@dataclass(frozen=True)
class LinearCost:
    """Claims 2 and 4: the ShapeSeries judged (the mechanism's, and select-dynamic's for select),
    what micro.csv lacked, the cost of building the set per call (information), select against
    poll at the same counts, the bend probe (poll), and where the last series that bends rises
    (bent False: none bends; rises_at None: at the high end)."""

    number: int
    mechanism: str
    verdict: str
    series: tuple
    micro_measured: bool
    micro_wait_rows: bool
    build: Optional[shape_rules.PerFdShape]
    same_counts: tuple
    shared: SharedProbe
    bent: bool = False
    rises_at: object = None

    @property
    def measured_runs(self):
        return any(s.source == RUNS for s in self.series)


def evaluate_linear_cost(results, number, mechanism):
    """Claims 2 and 4: the cost of select / poll grows linearly with watched descriptors, judged
    on the cost each watched descriptor adds (shape_rules.PerFdShape), never on one slope."""
    series = []
    for mech in [mechanism] + (["select-dynamic"] if mechanism == "select" else []):
        series += judged(shape_evidence(results, mech), linear_verdict)
    build = micro_cost_points(results, "build", mechanism) if results.micro is not None else {}
    # The last bent series: micro.csv's (the call alone) when it bends, else runs.csv's.
    bent = [s.shape for s in series if s.shape.shape == shape_rules.FASTER_THAN_LINEAR]
    return LinearCost(
        number,
        mechanism,
        rules.combine([s.verdict for s in series]),
        tuple(series),
        results.micro is not None,
        bool(micro_cost_points(results, "wait", mechanism)),
        shape_rules.PerFdShape(build) if build else None,
        tuple(same_counts(results)),
        shared_probe(results) if mechanism == "poll" else SharedProbe(),
        bool(bent),
        bent[-1].bend()[1] if bent else None,
    )


@dataclass(frozen=True)
class ReadyGrowth:
    """micro.csv: one epoll's wait call against the ready count at a fixed watched count."""

    mechanism: str
    watched: object
    fit: rules.Fit
    verdict: str


@dataclass(frozen=True)
class WatchedAndReady:
    """Claim 8: each epoll's cost against the watched count (ShapeSeries judged flat?), against
    the ready count (ReadyGrowth judged grows?), each half's combined verdict, and how measuring
    until decided went."""

    verdict: str
    watched: tuple
    ready: tuple
    not_watched: str
    on_ready: str
    micro_measured: bool
    until_decided: Optional[UntilDecided]


def ready_growth(results):
    found = []
    for mech in EPOLLS if results.micro is not None else []:
        watched, fit = micro_ready_fit(results, mech)
        if fit is not None:
            found.append(ReadyGrowth(mech, watched, fit, growth_verdict(fit, "grows")))
    return found


def evaluate_claim8(results):
    watched = []
    for mech in EPOLLS:
        # runs.csv's half is measured until decided (flat_comparison): judged at the look level.
        watched += judged(shape_evidence(results, mech, rules.LOOK_CONFIDENCE), flat_verdict)
    ready = ready_growth(results)
    not_watched = rules.combine([s.verdict for s in watched])
    on_ready = rules.combine([r.verdict for r in ready])
    if REFUTED in (not_watched, on_ready):
        verdict = REFUTED
    elif not_watched == CONFIRMED and on_ready == CONFIRMED:
        verdict = CONFIRMED
    else:
        verdict = INCONCLUSIVE
    return WatchedAndReady(
        verdict,
        tuple(watched),
        tuple(ready),
        not_watched,
        on_ready,
        results.micro is not None,
        until_decided(results, 8),
    )
