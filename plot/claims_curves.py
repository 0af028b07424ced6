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

from plot import rules
from plot import shape_rules
from plot.claim_common import Claim
from plot.curves import Curves
from plot.numbers import fmt
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

    def describe(self, slo, low_load_p99, expected):
        if len(self.idles) < 2:
            return (
                f"{self.mechanism}: capacity measured at {len(self.idles)} idle count(s), need 2"
                f" [{INCONCLUSIVE}]"
            )
        parts = []
        for i in self.idles:
            cap = self.caps[i]
            if not cap.estimate.n:
                parts.append(
                    f"below {fmt(cap.ceiling)} msg/s at {fmt(i)} idle (every repeat failed the"
                    " objective at its lowest rate)"
                )
                continue
            band = cap.interval()
            words = f" (95% CI {fmt(band[0])} … {fmt(band[1])})" if band else ""
            bound = " (a lower bound)" if cap.lower_bounds else ""
            parts.append(f"{fmt(cap.mean)} msg/s{words}{bound} at {fmt(i)} idle")
        edge = 1 - rules.CAPACITY_FALL_MARGIN
        if self.ratio:
            ratio, low, high = self.ratio
            change = f"×{fmt(ratio)} ({shape_rules.interval_words(low, high)})"
        elif self.ceiling_ratio is not None:
            change = f"at most ×{fmt(self.ceiling_ratio)} (the bound over the interval's low end)"
        else:
            change = "no ratio (the smallest count has no interval)"
        text = (
            f"{self.mechanism} capacity at p99 ≤ {fmt(slo)} µs: " + ", ".join(parts) + ";"
            f" {change} against {edge:.2f} → {self.outcome}"
        )
        if low_load_p99:
            text += f"; the objective is {fmt(slo / low_load_p99)} × its low-load p99"
        if expected == FALLS:
            proportional = self.proportional()
            text += {
                True: "; time per message at capacity grows at least linearly with idle"
                " connections (in proportion)",
                False: "; time per message at capacity grows slower than linearly (not in"
                " proportion)",
                None: "; proportionality not tested (the counts give no shape: "
                + self.time_shape.describe("µs", "idle connection", 1e6).split(" (")[0]
                + ")",
            }[proportional]
        for cap_idle in self.idles:
            for why in self.caps[cap_idle].lower_bounds:
                text += f"; at {fmt(cap_idle)} idle {why}: a lower bound"
        return text + f" [{self.verdict(expected)}]"


def claim12(results):
    curves = Curves(results)
    if not curves:
        return Claim(
            12,
            INCONCLUSIVE,
            ["not measured: the run has no offered-load curves (./bench --curves, or --full)"],
            "Nothing to judge: capacity at a latency objective needs the offered-load phase.",
        )
    measured = curves.mechanisms()
    sides = [(m, HOLDS) for m in HOLDS_SIDE if m in measured]
    sides += [(m, FALLS) for m in FALLS_SIDE if m in measured]
    figures, verdicts = [], []
    for mechanism, expected in sides:
        change = CapacityChange(curves, mechanism)
        figures.append(
            change.describe(
                curves.slo_p99_us, curves.low_load_p99(mechanism, change.idles[0]), expected
            )
            if change.idles
            else f"{mechanism}: no capacity measured [{INCONCLUSIVE}]"
        )
        verdicts.append((expected, change.verdict(expected)))
    holds = [v for e, v in verdicts if e == HOLDS]
    falls = [v for e, v in verdicts if e == FALLS]
    every = holds + falls
    if REFUTED in every:
        verdict = REFUTED
    elif holds and falls and all(v == CONFIRMED for v in every):
        verdict = CONFIRMED
    else:
        verdict = INCONCLUSIVE
    if not holds or not falls:
        figures.append(
            "the claim sets epoll against select or poll: this run's curves measured "
            + (", ".join(measured) or "no mechanism")
        )
    why = {
        CONFIRMED: (
            "Each epoll carried as much load within the objective with the most idle connections"
            " as with the fewest (within the margin), while select's and poll's capacity fell"
            " beyond the interval."
        ),
        REFUTED: (
            "At least one mechanism did the opposite of the claim beyond its interval (see the"
            " figure tagged refuted)."
        ),
        INCONCLUSIVE: (
            "At least one mechanism's interval straddles the margin, is a lower bound, or was not"
            " measured at two idle counts; more repeats (--repeats) narrow the intervals."
        ),
    }[verdict]
    return Claim(12, verdict, figures, why)
