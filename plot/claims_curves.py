"""Claim 12: epoll's capacity at a latency objective does not fall as idle connections grow,
while select's and poll's falls in proportion to them — judged on the capacities of the offered-
load phase (plot/curves.py; the sweep's --curves).

Per mechanism, the capacity at its largest idle count over its smallest, with its 95 % interval
over the fresh-instance repeats (shape_rules.log_ratio_interval: means, delta method,
Welch–Satterthwaite; each mean's variance includes the bisection's resolution), against one
edge, 1 - rules.CAPACITY_FALL_MARGIN: "does not fall" when the whole interval is at or above it,
"falls" when the whole interval is below it. "In proportion":
the time per message at capacity (1 / capacity) grows at least linearly with idle connections,
by the per-descriptor rule of claims 2 and 4, when the run has the counts for a shape. A capacity
that is a lower bound (the loadgen was busy first, or no offered rate failed) cannot show that a
capacity held (at the smallest count) or fell (at the largest): that side is then undecided."""

from dataclasses import dataclass

from plot import rules
from plot import shape_rules
from plot.curves import Curves
from plot.rules import CONFIRMED, INCONCLUSIVE, REFUTED

HOLDS_SIDE = ["epoll-lt", "epoll-et"]  # the claim says their capacity does not fall
FALLS_SIDE = ["select", "poll"]  # ... and that these fall in proportion to idle connections

HOLDS = "does not fall"
FALLS = "falls"
UNDECIDED = "undecided"


class CapacityChange:
    """One mechanism's capacity at its largest idle count over its smallest."""

    def __init__(self, curves, mechanism):
        self.mechanism = mechanism
        every = {i: curves.capacity(mechanism, i) for i in curves.idles(mechanism)}
        self.caps = {i: c for i, c in every.items() if c.estimate.n or c.ceiling}
        self.idles = sorted(self.caps)
        self.ratio = None  # (ratio, low, high)
        # When every repeat at the largest count failed even its lowest rate: that rate over the
        # low end of the smallest count's interval, which the true ratio cannot exceed.
        self.ceiling_ratio = None
        if len(self.idles) >= 2:
            first, last = self.caps[self.idles[0]], self.caps[self.idles[-1]]
            e0, top = first.estimate, last.estimate
            if e0.n and top.n:
                self.ratio = shape_rules.log_ratio_interval(
                    top.mean, e0.mean, [(1 / top.mean, top), (-1 / e0.mean, e0)]
                )
            elif e0.n and last.ceiling and first.interval() and first.interval()[0] > 0:
                self.ceiling_ratio = last.ceiling / first.interval()[0]
        points = {i: [r.rate for r in c.repeats.values() if r.rate] for i, c in self.caps.items()}
        self.time_shape = shape_rules.PerFdShape(
            {i: [1.0 / v for v in values] for i, values in points.items()}
        )
        self.outcome = self._outcome()

    def bounded(self, idle):
        cap = self.caps[idle]
        return cap.lower_bounds or cap.below_lowest

    def _outcome(self):
        edge = 1 - rules.CAPACITY_FALL_MARGIN
        if self.ceiling_ratio is not None:
            return FALLS if self.ceiling_ratio < edge else UNDECIDED
        if self.ratio is None or len(self.idles) < 2:
            return UNDECIDED
        _, low, high = self.ratio
        edge = 1 - rules.CAPACITY_FALL_MARGIN
        if low >= edge and not self.bounded(self.idles[0]):
            return HOLDS
        if high < edge and not self.bounded(self.idles[-1]):
            return FALLS
        return UNDECIDED

    def proportional(self):
        """True, False, or None when the counts give no shape (fewer than two counts whose time per
        message is >= 2 x the smallest count's, or an interval that straddles the margin)."""
        shape = self.time_shape.shape
        if shape in (shape_rules.LINEAR, shape_rules.FASTER_THAN_LINEAR):
            return True
        if shape == shape_rules.SLOWER_THAN_LINEAR:
            return False
        return None

    def verdict(self, expected):
        if expected == HOLDS:
            return {HOLDS: CONFIRMED, FALLS: REFUTED}.get(self.outcome, INCONCLUSIVE)
        if self.outcome == HOLDS or self.proportional() is False:
            return REFUTED
        return CONFIRMED if self.outcome == FALLS else INCONCLUSIVE


@dataclass(frozen=True)
class CapacitySide:
    """One mechanism the claim names, what the claim expects of it (HOLDS or FALLS), its capacity
    change and its low-load p99 at its smallest idle count (None when not measured)."""

    mechanism: str
    expected: str
    change: CapacityChange
    low_load_p99: object

    @property
    def verdict(self):
        return self.change.verdict(self.expected)

    def bounds(self):
        """(repeats whose capacity is a lower bound, repeats in all, repeats stopped by a busy
        loadgen) over every idle count of this side."""
        every = [c for cap in self.change.caps.values() for c in cap.repeats.values()]
        bounded = [c for c in every if c.lower_bound]
        busy = [c for c in bounded if c.first_failure is not None]
        return len(bounded), len(every), len(busy)

    @property
    def bounded_everywhere(self):
        """Every repeat at every idle count is a lower bound: the run cannot tell whether this
        mechanism's capacity holds or falls, however many repeats it takes."""
        bounded, total, _ = self.bounds()
        return total > 0 and bounded == total


@dataclass(frozen=True)
class CapacityAtObjective:
    """Claim 12: a CapacitySide per mechanism the curves measured of those the claim names.
    has_curves False: the run has no offered-load phase."""

    verdict: str
    has_curves: bool
    slo_p99_us: object = None
    measured: tuple = ()
    sides: tuple = ()

    @property
    def one_sided(self):
        """The run measured no mechanism of one side (epoll against select or poll)."""
        expected = {s.expected for s in self.sides}
        return HOLDS not in expected or FALLS not in expected


def capacity_verdict(sides):
    holds = [s.verdict for s in sides if s.expected == HOLDS]
    falls = [s.verdict for s in sides if s.expected == FALLS]
    every = holds + falls
    if REFUTED in every:
        return REFUTED
    if holds and falls and all(v == CONFIRMED for v in every):
        return CONFIRMED
    return INCONCLUSIVE


def evaluate_claim12(results):
    curves = Curves(results)
    if not curves:
        return CapacityAtObjective(INCONCLUSIVE, False)
    measured = curves.mechanisms()
    expected = [(m, HOLDS) for m in HOLDS_SIDE if m in measured]
    expected += [(m, FALLS) for m in FALLS_SIDE if m in measured]
    sides = []
    for mechanism, expect in expected:
        change = CapacityChange(curves, mechanism)
        p99 = curves.low_load_p99(mechanism, change.idles[0]) if change.idles else None
        sides.append(CapacitySide(mechanism, expect, change, p99))
    return CapacityAtObjective(
        capacity_verdict(sides), True, curves.slo_p99_us, tuple(measured), tuple(sides)
    )
