"""The rule for claims about a shape: cost per watched descriptor against watched descriptors
(claims 2, 4 and 8's watched half), and the per-count estimates it rests on. The thresholds
it shares with the other rules (CONFIDENCE, MAX_REL_FLAT, MIN_REL_GROWTH) live in plot/rules.py;
a PerFdShape in words is rules_words.per_fd_line and per_fd_cost_line."""

import math
import statistics

from plot.rules import MAX_REL_FLAT, MIN_REL_GROWTH, TOO_FEW, UNCLEAR
from plot.student_t import t95, t_quantile


# ---- Shape claims: cost per watched descriptor (claims 2, 4 and 8's watched half) -------------
# "grows linearly" says each watched descriptor adds the same cost to a call, so the claims are
# tested on that figure: the cost a descriptor adds, (cost(N) − cost(N0)) / (N − N0), N0 being the
# smallest count measured (0 idle connections in runs.csv, the smallest N in micro.csv). Subtracting
# cost(N0) takes out the fixed cost of a call or a message, which divided by N alone would make
# every affine cost look like a falling one. A straight line over a series that bends (flat, then
# rising) reports an average slope no single count has; this rule compares the two ends instead.
# The per-descriptor cost at the high end of the measured range against the low end: within
# ±25 % → "linear". The same tolerance as MAX_REL_FLAT, because "linear" is "the per-descriptor
# cost is flat", judged by the rule that judges flatness everywhere else.
PER_FD_MARGIN = MAX_REL_FLAT
# The low end is the smallest count whose cost is at least twice the cost at N0: below it the
# added cost is a difference of two near-equal figures (a full mux-micro run starts at N0 = 1,
# where one poll call took 1.33 µs, against 1.56 µs at N = 2), so its relative noise, not the
# descriptors, would decide the ratio.
LOW_END_COST_FACTOR = 2.0
# Two mechanisms' per-descriptor costs at the same count "match" within the same tolerance as the
# shape: a difference that would not make a series non-linear does not set two scans apart.
SAME_PER_FD_MARGIN = PER_FD_MARGIN

# Per-descriptor shapes
LINEAR = "linear"
FASTER_THAN_LINEAR = "faster than linear"
SLOWER_THAN_LINEAR = "slower than linear"
# Total cost across the measured range
COST_GROWS = "grows"
COST_FLAT = "flat"
COST_UNCLEAR = "unclear"


class Estimate:
    """The mean of one count's repeats with its standard error and degrees of freedom."""

    def __init__(self, values):
        self.values = [v for v in values if v is not None]
        self.n = len(self.values)
        self.mean = statistics.fmean(self.values) if self.values else None
        self.var = statistics.variance(self.values) / self.n if self.n >= 2 else math.inf
        self.df = self.n - 1


def log_ratio_interval(num, den, parts, confidence=None):
    """The interval of num / den (num, den > 0) at `confidence` (default CONFIDENCE) from the delta
    method on its log: parts = [(d log / d mean_i, Estimate_i)], Welch–Satterthwaite degrees of
    freedom. Returns (ratio, low, high); the interval is infinite when a part has fewer than 2
    values."""
    ratio = num / den
    contributions = [(g * g * e.var, e.df) for g, e in parts if g != 0]
    if any(math.isinf(v) for v, _ in contributions):
        return ratio, 0.0, math.inf
    total = sum(v for v, _ in contributions)
    if total == 0:
        return ratio, ratio, ratio
    df = total**2 / sum(v * v / d for v, d in contributions if v > 0)
    t = t95(math.floor(df)) if confidence is None else t_quantile(confidence, math.floor(df))
    half = t * math.sqrt(total)
    return ratio, ratio * math.exp(-half), ratio * math.exp(half)


def within(low, high, margin):
    return 1 - margin <= low and high <= 1 + margin


class PerFdShape:
    """The shape of one cost series against watched descriptors, from the cost a descriptor adds.

    points: {N: [cost of each repeat or repetition]}. Everything is computed at construction:
    cost_shape (COST_GROWS / COST_FLAT / COST_UNCLEAR, from cost(high end) / cost(N0)), shape (the
    per-descriptor ratio between the low and high ends: LINEAR, FASTER_THAN_LINEAR,
    SLOWER_THAN_LINEAR, UNCLEAR, or TOO_FEW when there is no low end below the high end), and per
    count the per-descriptor cost and its ratio to the low end's (where the series bends).

    confidence: the level of cost_ratio's interval (default CONFIDENCE); a series the sweep measures
    until decided (claim 8's runs.csv half) is judged at every look at LOOK_CONFIDENCE, like the
    CostRatio comparisons."""

    def __init__(self, points, confidence=None):
        estimates = {x: Estimate(v) for x, v in sorted(points.items())}
        self.est = {x: e for x, e in estimates.items() if e.n}
        self.xs = list(self.est)
        self.x0 = self.xs[0] if self.xs else None
        self.low_x = self.high_x = None
        self.cost_ratio = self.ratio = None
        self.cost_shape = COST_UNCLEAR
        self.shape = TOO_FEW
        if len(self.xs) < 2 or self.est[self.x0].mean <= 0:
            return
        e0, top = self.est[self.x0], self.est[self.xs[-1]]
        self.cost_ratio = log_ratio_interval(
            top.mean, e0.mean, [(1 / top.mean, top), (-1 / e0.mean, e0)], confidence
        )
        self.cost_shape = self._cost_shape()
        raised = [x for x in self.xs[1:] if self.est[x].mean >= LOW_END_COST_FACTOR * e0.mean]
        if len(raised) >= 2:
            self.low_x, self.high_x = raised[0], raised[-1]
            self.ratio = self.ratio_to_low(self.high_x)
            self.shape = self._shape()

    def per_fd(self, x):
        """The cost one descriptor adds at count x (the mean over repeats)."""
        return (self.est[x].mean - self.est[self.x0].mean) / (x - self.x0)

    def ratio_to_low(self, x):
        """per_fd(x) / per_fd(low end) with its interval; the shared cost(N0) is counted once."""
        e0, e1, e2 = self.est[self.x0], self.est[self.low_x], self.est[x]
        a1, a2 = e1.mean - e0.mean, e2.mean - e0.mean
        scale = (self.low_x - self.x0) / (x - self.x0)
        ratio, low, high = log_ratio_interval(
            a2, a1, [(1 / a2, e2), (-1 / a1, e1), (1 / a1 - 1 / a2, e0)]
        )
        return ratio * scale, low * scale, high * scale

    def _cost_shape(self):
        _, low, high = self.cost_ratio
        if low >= 1 + MIN_REL_GROWTH:
            return COST_GROWS
        if within(low, high, MAX_REL_FLAT):
            return COST_FLAT
        return COST_UNCLEAR

    def _shape(self):
        _, low, high = self.ratio
        if within(low, high, PER_FD_MARGIN):
            return LINEAR
        if low > 1 + PER_FD_MARGIN:
            return FASTER_THAN_LINEAR
        if high < 1 - PER_FD_MARGIN:
            return SLOWER_THAN_LINEAR
        return UNCLEAR

    def bend(self):
        """(the largest count up to which every count's per-descriptor cost is within the margin
        of the low end's, the first count above it by more than the margin) — either None."""
        flat_to = rises_at = None
        still_flat = True
        for x in self.xs[self.xs.index(self.low_x) :] if self.low_x is not None else []:
            _, low, high = self.ratio_to_low(x)
            still_flat = still_flat and within(low, high, PER_FD_MARGIN)
            if still_flat:
                flat_to = x
            if low > 1 + PER_FD_MARGIN:
                rises_at = x
                break
        return flat_to, rises_at

    def grows_at_least_linearly(self):
        """The cost grows, and its per-descriptor figure at the high end is not below the low
        end's by more than the margin. One edge (1 - PER_FD_MARGIN), as CostRatio has one: linear
        and faster than linear both answer "at least linearly", so the line between them (1 +
        PER_FD_MARGIN) is said in the figures and never moves a verdict."""
        return (
            self.cost_shape == COST_GROWS
            and self.ratio is not None
            and (self.ratio[1] >= 1 - PER_FD_MARGIN)
        )

    def stays_within_growth_margin(self):
        """Claim 8's "does not depend on the watched count", with one edge: True when the whole
        interval of cost(high end) / cost(low end) is at most 1 + MAX_REL_FLAT, False when all of
        it is above, None while it straddles. A cost that falls is no dependence of the kind the
        claim denies (more descriptors making a call dearer)."""
        if self.cost_ratio is None:
            return None
        _, low, high = self.cost_ratio
        if high <= 1 + MAX_REL_FLAT:
            return True
        if low > 1 + MAX_REL_FLAT:
            return False
        return None


def same_count_ratios(a, b):
    """Per-descriptor cost of two series (PerFdShape) at the counts both measured above both low
    ends: [(N, ratio, low, high, matches)], a's cost over b's. matches: the interval lies within
    ±SAME_PER_FD_MARGIN."""
    out = []
    if a.low_x is None or b.low_x is None:
        return out
    for x in [x for x in a.xs if x in b.est and x >= max(a.low_x, b.low_x)]:
        pa, pb = a.per_fd(x), b.per_fd(x)
        if pa <= 0 or pb <= 0:
            continue
        parts = []
        for g, shape in ((1.0, a), (-1.0, b)):
            e0, ex = shape.est[shape.x0], shape.est[x]
            d = ex.mean - e0.mean
            parts += [(g / d, ex), (-g / d, e0)]
        ratio, low, high = log_ratio_interval(pa, pb, parts)
        out.append((x, ratio, low, high, within(low, high, SAME_PER_FD_MARGIN)))
    return out
