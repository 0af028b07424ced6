"""The fixed rules that turn measured series into verdicts.

Every threshold is a named constant here and nowhere else; the report prints them. They were set
from what the words of each claim mean ("grows", "does not depend on", "faster"), before any run
was looked at, and must never be tuned to make a run give an expected answer: a surprising
verdict is a finding to explain, not a threshold to move.

Stdlib only (no scipy): the t quantiles are tabulated below.
"""

import math
import statistics

CONFIDENCE = 0.95  # two-sided confidence of the slope interval
MIN_POINTS = 3  # distinct x values a series needs before its shape is judged
MIN_REL_GROWTH = 0.5  # "grows": even the low end of the slope interval adds >= 50 % of the starting value over the range
MAX_REL_FLAT = 0.25  # "flat": the whole slope interval changes the value by <= 25 % of the start over the range
MIN_R2 = 0.9  # "linear": a straight line through the medians explains >= 90 % of their variance (a cubic over the idle sweep reaches ~0.87)
CONSISTENT_FRACTION = 0.75  # "consistently": in at least 3 of every 4 compared points
EQUIVALENT_REL = 0.05  # two medians within 5 % of each other are "as fast"
FD_MARGIN = 64  # descriptors the server holds besides the idle ones (listener, stdio, active, control): refusal counts as "at FD_SETSIZE" within this margin
POLL_BEYOND_FACTOR = 2  # poll "has no maximum" when it served at least 2 x FD_SETSIZE idle connections intact
CTL_MATTERS_RATIO = 0.5  # epoll_ctl add+del per connection >= half an epoll_wait call: registration matters under churn
CTL_NEGLIGIBLE_RATIO = 0.1  # ... <= a tenth of a call: it does not
ORDER_OF_MAGNITUDE = 10.0  # our figure and a published one are "the same order of magnitude" within this factor
PUBLISHED_GROWS_RATIO = 10.0  # a published series "grows" when its last value is >= 10 x its first ...
PUBLISHED_FLAT_RATIO = 2.0  # ... and is "flat" when within 2 x
DEGRADES_REL = 0.2  # throughput "degrades" with idle connections when it loses >= 20 %

# Two-sided 95 % Student t quantiles by degrees of freedom; between entries the smaller df is
# used, which widens the interval (the cautious side).
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
        11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093,
        20: 2.086, 21: 2.080, 22: 2.074, 23: 2.069, 24: 2.064, 25: 2.060, 26: 2.056, 27: 2.052, 28: 2.048,
        29: 2.045, 30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980}

CONFIRMED = "confirmed"
REFUTED = "refuted"
INCONCLUSIVE = "inconclusive"

GROWS_LINEAR = "grows linearly"
GROWS = "grows (not linearly)"
FLAT = "flat"
FALLS = "falls"
UNCLEAR = "unclear"
TOO_FEW = "too few points"


def t95(df):
    if df <= 0:
        return math.inf
    best = max(k for k in _T95 if k <= df) if df < 120 else 120
    return _T95[best] if df < 1000 else 1.960


def least_squares(points):
    """(slope, intercept, slope standard error, r2) of y on x; None when x does not vary."""
    n = len(points)
    if n < 2:
        return None
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        return None
    sxy = sum((x - mx) * (y - my) for x, y in points)
    slope = sxy / sxx
    intercept = my - slope * mx
    sse = sum((y - intercept - slope * x) ** 2 for x, y in points)
    syy = sum((y - my) ** 2 for _, y in points)
    r2 = 1.0 - sse / syy if syy > 0 else 1.0
    se = math.sqrt(sse / (n - 2) / sxx) if n > 2 else math.inf
    return slope, intercept, se, r2


class Fit:
    """A least-squares line through every per-repeat point of a series, and the shape it shows.

    slope_low/slope_high: the 95 % t interval of the slope (points pooled over repeats; for
    micro.csv, whose repetitions are already aggregated, the per-N medians).
    repeat_slopes: the slope fitted to each repeat alone, the spread a reader sees in the bands."""

    def __init__(self, series):
        self.series = series
        self.xs = series.xs()
        self.n = len(series.points)
        self.shape = TOO_FEW
        self.slope = self.slope_low = self.slope_high = self.intercept = None
        self.r2 = None
        self.base = None
        self.repeat_slopes = []
        if len(self.xs) < MIN_POINTS:
            return
        pooled = least_squares([(x, y) for x, y, _ in series.points])
        medians = least_squares([(x, series.median(x)) for x in self.xs])
        if pooled is None or medians is None:
            return
        self.slope, self.intercept, se, _ = pooled
        half = t95(self.n - 2) * se
        self.slope_low, self.slope_high = self.slope - half, self.slope + half
        self.r2 = medians[3]
        repeats = sorted({r for _, _, r in series.points if r is not None})
        for rep in repeats:
            fit = least_squares([(x, y) for x, y, r in series.points if r == rep])
            if fit is not None:
                self.repeat_slopes.append(fit[0])
        if not repeats and hasattr(series, "bounds"):
            # Aggregated micro rows: lines through the per-N minima and maxima show the spread.
            for pick in (series.low, series.high):
                fit = least_squares([(x, pick(x)) for x in self.xs])
                if fit is not None:
                    self.repeat_slopes.append(fit[0])
        self.base = series.median(self.xs[0])
        if self.base <= 0:
            self.base = max(abs(series.median(x)) for x in self.xs)
        self.shape = self._shape()

    @property
    def span(self):
        return self.xs[-1] - self.xs[0]

    def rise_interval(self):
        """The 95 % interval of the fitted change across the measured range, relative to the start."""
        if self.base is None or self.base == 0:
            return None
        return self.slope_low * self.span / self.base, self.slope_high * self.span / self.base

    def _shape(self):
        if self.base == 0:
            # Every median is zero: nothing rises unless the interval itself says so.
            return FLAT if self.slope_low == 0 == self.slope_high else UNCLEAR
        if math.isinf(self.slope_high - self.slope_low):
            return UNCLEAR
        low, high = self.rise_interval()
        if low >= MIN_REL_GROWTH:
            return GROWS_LINEAR if self.r2 >= MIN_R2 else GROWS
        if max(abs(low), abs(high)) <= MAX_REL_FLAT:
            return FLAT
        if high <= -MIN_REL_GROWTH:
            return FALLS
        return UNCLEAR

    def describe(self, unit_y, unit_x, scale=1.0, unit_slope=None):
        """One line of figures: slope with interval and repeat spread, R², rise over the range."""
        if self.shape == TOO_FEW:
            return f"{len(self.xs)} measured point(s), need {MIN_POINTS}"
        unit = unit_slope or f"{unit_y} per {unit_x}"
        text = f"slope {fmt(self.slope * scale)} {unit} (95% CI {fmt(self.slope_low * scale)} … {fmt(self.slope_high * scale)}"
        if self.repeat_slopes:
            text += f"; per-repeat {fmt(min(self.repeat_slopes) * scale)} … {fmt(max(self.repeat_slopes) * scale)}"
        text += f"), R² {self.r2:.2f}"
        rise = self.rise_interval()
        if rise:
            text += (f", change over {fmt(self.xs[0])}–{fmt(self.xs[-1])} {unit_x}: {change(rise[0])} … {change(rise[1])} "
                     f"of {fmt(self.base)} {unit_y}")
        return text + f" → {self.shape}"


def compare_lower_is_better(a, b):
    """Classify one point where two mechanisms were both measured: a's and b's repeats.

    'a' when a is lower and the min–max ranges do not overlap, 'b' likewise, 'same' when the
    medians are within EQUIVALENT_REL of each other, 'overlap' otherwise."""
    ma, mb = statistics.median(a), statistics.median(b)
    if max(a) < min(b):
        return "a"
    if max(b) < min(a):
        return "b"
    if abs(ma - mb) <= EQUIVALENT_REL * max(abs(ma), abs(mb)):
        return "same"
    return "overlap"


def combine(verdicts):
    """Several independent pieces of evidence for one claim: confirmed when at least one confirms
    and none refutes, refuted in the mirror case, inconclusive when they disagree or none decides."""
    decided = {v for v in verdicts if v in (CONFIRMED, REFUTED)}
    if decided == {CONFIRMED}:
        return CONFIRMED
    if decided == {REFUTED}:
        return REFUTED
    return INCONCLUSIVE


def fmt(value, digits=3):
    """Three significant figures, without scientific notation for everyday magnitudes."""
    if value is None:
        return "–"
    if value == 0:
        return "0"
    if float(value).is_integer() and abs(value) < 1e9:
        return f"{int(value):,}"
    magnitude = math.floor(math.log10(abs(value)))
    if magnitude >= 9 or magnitude <= -4:
        return f"{value:.{digits - 1}e}"
    decimals = max(0, digits - 1 - magnitude)
    text = f"{value:,.{decimals}f}"
    return text


def change(value):
    """A relative change: a percentage while small, a factor once it is many times the start."""
    if value >= 9:
        return f"×{fmt(1 + value)}"
    return pct(value)


def pct(value):
    return f"{value * 100:+.0f}%"


def rules_text():
    """The rules in plain words, with their thresholds, for the report."""
    return [
        f"**Shape of a series** (cost against idle connections, watched or ready descriptors). A least-squares "
        f"line is fitted through every repeat's point (for micro.csv, through the per-N medians of its "
        f"repetitions), with the {CONFIDENCE:.0%} Student-t interval of its slope. The fitted change across "
        f"the measured range is divided by the value at the smallest x.",
        f"- *grows linearly*: even the low end of the interval adds at least {MIN_REL_GROWTH:.0%} of the starting value "
        f"over the range, and a straight line through the medians explains at least R² = {MIN_R2} of their variance "
        f"(*grows, not linearly* when R² is lower);",
        f"- *flat*: the whole interval changes the value by at most ±{MAX_REL_FLAT:.0%} over the range;",
        f"- *unclear* otherwise (the data are too noisy to tell), and *too few points* below {MIN_POINTS} distinct x values.",
        "",
        "**Growth claims (2, 4)**: confirmed when the series grows linearly, refuted when it is flat (or falls), "
        "inconclusive otherwise.",
        "**Claim 8**: two halves. epoll's cost against the watched count (server CPU per message against idle "
        "connections; one epoll_wait against N watched) must be *flat*, and one epoll_wait against k ready "
        "descriptors must *grow*. Confirmed when both hold, refuted when the watched series grows or the ready "
        "series is flat, inconclusive otherwise (e.g. no micro.csv: the ready half is not measured).",
        "**Claim 9**: each piece of evidence refutes it: the probe's mmap of an epoll descriptor failing, the "
        "probe's epoll_wait into a read-only buffer failing with EFAULT (the kernel copies into user memory), and "
        "one epoll_wait's cost *growing* with the number of ready events (a cost per event, as a copy per event "
        "predicts); a successful mmap would count for the claim. The kernel source is cited beside them, never "
        "used as a verdict by itself.",
        f"**Comparisons (7)**: at each idle count where both were measured, one side wins when its min–max range "
        f"over repeats lies wholly below the other's; medians within {EQUIVALENT_REL:.0%} are *as fast*. "
        f"Confirmed when ET wins in at least {CONSISTENT_FRACTION:.0%} of the points; refuted when LT wins or is "
        f"as fast in at least {CONSISTENT_FRACTION:.0%}; inconclusive otherwise.",
        f"**Limits (1, 3)**: select's limit is confirmed when select was refused only once its descriptors "
        f"reached FD_SETSIZE − {FD_MARGIN} or more (the server holds a few descriptors besides the idle ones) and served every "
        f"point below; refuted if plain select served a point needing descriptors ≥ FD_SETSIZE + {FD_MARGIN}. "
        f"poll has no maximum of its own when it served at least {POLL_BEYOND_FACTOR} × FD_SETSIZE idle "
        f"connections with every one still open (the bound it meets is RLIMIT_NOFILE, a per-process limit).",
        "**Observed behaviour (5, 6)**: from `probe.json` (written by `mux-probe`, which makes a descriptor ready, "
        "does not service it and waits again): confirmed when every observation the claim needs is yes, refuted "
        "when one is no, inconclusive when the probe was not run.",
        f"**Registration (10)**: epoll_ctl add + del for one connection against one epoll_wait call: "
        f"confirmed when ≥ {CTL_MATTERS_RATIO} of a call, refuted when ≤ {CTL_NEGLIGIBLE_RATIO}, inconclusive between. "
        "With churn rows, also confirmed when poll opens and closes connections faster than epoll-lt beyond the "
        "spread at the smallest idle count (otherwise churn gives no verdict: epoll saves on the wait side).",
        "**Several pieces of evidence** for one claim: confirmed when at least one confirms and none refutes, "
        "refuted in the mirror case, inconclusive when they disagree or none decides.",
        f"**Published figures**: a published series *grows* when its last value is ≥ {PUBLISHED_GROWS_RATIO:g} × its first "
        f"and is *flat* within {PUBLISHED_FLAT_RATIO:g} ×; ours by the shape rule above. *Same shape* when both agree; "
        f"*same order of magnitude* when two figures are within a factor {ORDER_OF_MAGNITUDE:g}; throughput *degrades* "
        f"when it loses at least {DEGRADES_REL:.0%}.",
    ]
