"""The fixed rules that turn measured series into verdicts.

Every threshold is a named constant here and nowhere else; the report prints them. They were set
from what the words of each claim mean ("grows", "does not depend on", "faster"), before any run
was looked at, and must never be tuned to make a run give an expected answer: a surprising
verdict is a finding to explain, not a threshold to move.

Stdlib only (no scipy): the t quantiles come from plot/student_t.py. What a Fit or a CostRatio
decided is written in words by rules_words.py; how each rule decides, by rules_text.py.
"""

import math

from plot.student_t import t95, t_quantile

CONFIDENCE = 0.95  # two-sided confidence of the slope interval
MIN_POINTS = 3  # distinct x values a series needs before its shape is judged
# "grows": even the low end of the slope interval adds >= 50 % of the starting value over the range
MIN_REL_GROWTH = 0.5
# "flat": the whole slope interval changes the value by <= 25 % of the start over the range
MAX_REL_FLAT = 0.25
# "linear": a straight line through the medians explains >= 90 % of their variance (a cubic over
# the idle sweep reaches ~0.87)
MIN_R2 = 0.9
# Comparisons between mechanisms ("A is cheaper than B").
# Repeat pairs a point needs before it enters a comparison: with fewer, the point's own spread is
# barely seen (1 repeat: none at all), and a point measured once in one run and three times in
# another would weigh differently in each. A point with fewer is left out, counted, and measured
# again by the sweep's extra rounds.
MIN_REPEATS_COMPARE = 3
# Two costs within ±5 % of each other are "as cheap": below what a reader would call faster, and
# about the run-to-run drift of one machine. A saving must exceed it to confirm a claim.
EQUIVALENCE_MARGIN = 0.05
EQUIVALENT_REL = EQUIVALENCE_MARGIN  # the former name, kept for callers that still use it
# descriptors the server holds besides the idle ones (listener, stdio, active, control): refusal
# counts as "at FD_SETSIZE" within this margin
FD_MARGIN = 64
# poll "has no maximum" when it served at least 2 x FD_SETSIZE idle connections intact
POLL_BEYOND_FACTOR = 2
# epoll_ctl add+del per connection >= half an epoll_wait call: registration matters under churn
CTL_MATTERS_RATIO = 0.5
CTL_NEGLIGIBLE_RATIO = 0.1  # ... <= a tenth of a call: it does not
# our figure and a published one are "the same order of magnitude" within this factor
ORDER_OF_MAGNITUDE = 10.0
# a published series "grows" when its last value is >= 10 x its first ...
PUBLISHED_GROWS_RATIO = 10.0
PUBLISHED_FLAT_RATIO = 2.0  # ... and is "flat" when within 2 x
DEGRADES_REL = 0.2  # throughput "degrades" with idle connections when it loses >= 20 %

CONFIRMED = "confirmed"
REFUTED = "refuted"
INCONCLUSIVE = "inconclusive"

GROWS_LINEAR = "grows linearly"
GROWS = "grows (not linearly)"
FLAT = "flat"
FALLS = "falls"
UNCLEAR = "unclear"
TOO_FEW = "too few points"


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
        """The 95 % interval of the fitted change across the measured range, relative to the
        start."""
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


TOO_FEW_REPEATS = "too few repeats"


# Outcomes of CostRatio.
CHEAPER = "cheaper"
EQUIVALENT = "as cheap"
DEARER = "dearer"
NOT_CHEAPER = "not cheaper by more than the margin"
UNDECIDED = "undecided"
DECIDED = (CHEAPER, EQUIVALENT, DEARER, NOT_CHEAPER)

# Measuring until decided (docs/claims.md#measured-until-decided).
# After the planned repeats the sweep looks at every claim
# decided by a CostRatio; while one is undecided it runs another round of fresh instances of
# exactly the points that feed it and looks again, at most MAX_LOOKS times in all. Looking several
# times and stopping at the first decision would let noise decide more often than 1 - CONFIDENCE
# allows; every look therefore uses the Bonferroni level LOOK_CONFIDENCE = 1 - (1 - CONFIDENCE) /
# MAX_LOOKS, whatever the number of looks a run makes (a --quick run that never looks twice too), so
# the chance that any look of a run errs stays <= 1 - CONFIDENCE. Conservative (the looks are
# correlated), simple, and the same in the sweep, the report and the tests.
MAX_LOOKS = 4
LOOK_CONFIDENCE = 1 - (1 - CONFIDENCE) / MAX_LOOKS

# Between sittings (docs/claims.md#between-sittings). Repeats inside one sweep share its sitting
# (the VM's state for those minutes), so their spread cannot show how much a ratio between two
# mechanisms moves from one sweep to the next; measured, it moves more. On 2-core AMD EPYC VMs
# without a cpuidle driver (Linux 6.18, 2026-12-07, nine sweeps at unchanged measured code: six
# `--counts 0,1000,max --repeats 3` back to back and three default ones), the log of claim 11's CPU
# ratio scattered between sweeps by sd 0.051 (six) and 0.032 (three) against a within-sweep standard
# error of 0.038 and 0.018; claim 7's by 0.030 and 0.035 against 0.036 and 0.018; claim 10's churn
# by 0.081 against 0.068 (six). What the within-sweep error misses, pooled over claims 7 and 11's
# CPU ratios: 0.022 in log, rounded up to 0.025 towards another VM, where an earlier pair of default
# sweeps put claim 7 0.105 apart (1.160 and 1.044, within-sweep errors 0.026 and 0.009).
# SITTING_LOG_SD, added in quadrature to every comparison between two mechanisms, is that
# between-sweep sd: more repeats in one sweep cannot shrink it, so once it dominates an interval the
# claim cannot be decided in one sitting (CostRatio.decidable) and the sweep stops measuring it.
# System calls per message move less between sweeps (sd 0.024 and 0.010 against 0.017 and 0.009):
# SITTING_LOG_SD_CALLS.
SITTING_LOG_SD = 0.025
SITTING_LOG_SD_CALLS = 0.015
# The normal quantile at LOOK_CONFIDENCE: the narrowest an interval can get with unlimited repeats.
UNLIMITED_REPEATS_DF = 10**6


class CostRatio:
    """ "A is cheaper than B", decided on every point and repeat together.

    a and b: {point: [(repeat, cost), ...]}, a point being whatever the sweep varies (mode, idle
    count), the repeat the number of the run. The estimate is the ratio cost_A / cost_B, with a
    LOOK_CONFIDENCE interval computed on its logarithm. instance(point) names the instance a point
    shares with others in one repeat (the sweep runs every mode of one idle count on the same
    fresh servers: instance = the idle count); by default every point is its own.

    What is estimated: the mean over the measured points of each point's log ratio. The points are
    the plan's (a rerun measures the same ones), so how the ratio differs from point to point is
    part of the answer, not noise: only the repeats are random. The noise model:
      1. at each point, the log ratio is taken within each repeat pair, log(A_r / B_r), which
         cancels both the point's level and the state the pair shared (repeat r of A and of B ran
         back to back in one instance);
      2. repeat r of every point of one instance shares that instance (the same servers and idle
         set), so the unit of independence is the instance: per instance, the mean over its points
         of their log ratios (a point missing from that repeat counts at its mean over the other
         repeats), and the spread of those instance means around their group's mean, pooled over
         groups (df = instances - groups), is the noise;
      3. the estimate's variance is the sum over groups of (share of points)^2 x pooled variance /
         repeats of the group, plus sitting_sd^2 (SITTING_LOG_SD: how far the whole sweep's
         ratio moves between sittings, which its repeats cannot see; 0 for a comparison within
         one mechanism), and the interval a Student t at LOOK_CONFIDENCE.
    More repeats narrow it down to the sitting's part, so measuring until decided can work until
    that part alone straddles the edge (decidable False); a point lost in one run but
    measured in another would change what is estimated, so points with fewer than
    MIN_REPEATS_COMPARE pairs (a repeat failed or was loadgen-bound) are counted in `left_out` and
    the sweep measures them again. Deterministic, stdlib only; values <= 0 have no logarithm and are
    dropped.

    The verdict on "A is cheaper" has one edge, 1 - EQUIVALENCE_MARGIN: confirmed when the whole
    interval is below it, refuted when the whole interval is at or above it (A saves at most the
    margin: as cheap, or dearer), inconclusive while the interval straddles it. As cheap (within
    +-margin) and dearer (above 1) are said for information; they never change the verdict, so a
    ratio near 1 or near 1 + margin cannot make two runs disagree.
    """

    def __init__(self, a, b, instance=None, confidence=None, sitting_sd=SITTING_LOG_SD):
        self.confidence = confidence or LOOK_CONFIDENCE
        self.sitting_sd = sitting_sd
        self.within_se = None  # the standard error the repeats alone give, in log
        self.decidable = True  # False: no number of repeats in this sitting could decide it
        self.left_out = 0
        self.lost = []  # points with fewer than MIN_REPEATS_COMPARE pairs
        self.run_repeats = 0  # the most repeat pairs any point has
        self.d = {}  # point -> mean log ratio over its pairs
        self.pairs = {}  # point -> number of pairs
        logs_of = {}
        # Every point either side measured (a's order, the sweep's, then b's own): a point one
        # side lost in every repeat is lost, counted, not silently absent. Nothing is compared when
        # one side has no point at all (a mechanism the run did not measure).
        points = list(a) + [p for p in b if p not in a] if a and b else []
        for point in points:
            pa, pb = by_repeat(a.get(point, [])), by_repeat(b.get(point, []))
            logs = {r: math.log(pa[r] / pb[r]) for r in sorted(set(pa) & set(pb))}
            self.run_repeats = max(self.run_repeats, len(logs))
            if len(logs) < MIN_REPEATS_COMPARE:
                self.left_out += 1
                self.lost.append(point)
                continue
            logs_of[point] = logs
            self.d[point] = sum(logs.values()) / len(logs)
            self.pairs[point] = len(logs)
        self.points = len(self.d)
        self.compared = self.points + self.left_out  # points where either was measured
        self.ratio = self.low = self.high = None
        self.df = 0
        if self.run_repeats < MIN_REPEATS_COMPARE:
            self.outcome = TOO_FEW_REPEATS
            return
        # A kept point has >= MIN_REPEATS_COMPARE repeats, so df >= 2 here.
        mean, variance, self.df = instance_estimate(logs_of, self.d, instance or (lambda p: p))
        self.within_se = math.sqrt(variance)
        q = t_quantile(self.confidence, self.df)
        half = q * math.sqrt(variance + sitting_sd**2)
        self.ratio, self.low, self.high = (
            math.exp(mean),
            math.exp(mean - half),
            math.exp(mean + half),
        )
        self.outcome = self._outcome()
        self.decidable = self.outcome != UNDECIDED or not self._futile(mean, q * self.within_se)

    def _futile(self, mean, within_half):
        """True when every estimate the repeats allow (mean ± within_half) lies within the
        sitting's own half-width of the edge: even unlimited repeats would leave the interval
        straddling it. Conservative: it takes the most favourable estimate and the narrowest
        sitting half-width (the normal quantile)."""
        reach = t_quantile(self.confidence, UNLIMITED_REPEATS_DF) * self.sitting_sd
        edge = math.log(1 - EQUIVALENCE_MARGIN)
        return edge - reach < mean - within_half and mean + within_half < edge + reach

    def _outcome(self):
        m = EQUIVALENCE_MARGIN
        if self.high < 1 - m:
            return CHEAPER
        if self.low < 1 - m:
            return UNDECIDED
        if self.high <= 1 + m:
            return EQUIVALENT
        return DEARER if self.low > 1 else NOT_CHEAPER

    @property
    def decided(self):
        return self.outcome in DECIDED

    @property
    def verdict(self):
        """The verdict on "A is cheaper than B"."""
        if self.outcome == CHEAPER:
            return CONFIRMED
        if self.outcome in (EQUIVALENT, DEARER, NOT_CHEAPER):
            return REFUTED
        return INCONCLUSIVE

    def group_ratios(self, key):
        """The ratio estimate per group of points (e.g. key = the mode), for information."""
        groups = {}
        for point, d in self.d.items():
            groups.setdefault(key(point), []).append(d)
        return {g: math.exp(sum(v) / len(v)) for g, v in groups.items()}


def instance_estimate(logs_of, means, instance):
    """(mean, variance of the mean, df) of CostRatio's estimate; see its docstring, steps 2-3.

    logs_of: {point: {repeat: log ratio}}; means: {point: mean log ratio}."""
    groups = {}
    for point in logs_of:
        groups.setdefault(instance(point), []).append(point)
    total = len(logs_of)
    mean = sum(means.values()) / total if total else 0.0
    squares, df, weight = 0.0, 0, 0.0
    for points in groups.values():
        repeats = sorted({r for p in points for r in logs_of[p]})
        values = [sum(logs_of[p].get(r, means[p]) for p in points) / len(points) for r in repeats]
        centre = sum(values) / len(values)
        squares += sum((v - centre) ** 2 for v in values)
        df += len(values) - 1
        weight += (len(points) / total) ** 2 / len(values)
    variance = squares / df * weight if df > 0 else math.inf
    return mean, variance, df


def by_repeat(values):
    """[(repeat, cost)] -> {repeat: cost}, the geometric mean when a repeat number occurs twice;
    costs ≤ 0 (no logarithm) are dropped."""
    logs = {}
    for repeat, value in values:
        if value is not None and value > 0:
            logs.setdefault(repeat, []).append(math.log(value))
    return {r: math.exp(sum(v) / len(v)) for r, v in logs.items()}


def combine(verdicts):
    """Several independent pieces of evidence for one claim: confirmed when at least one confirms
    and none refutes, refuted in the mirror case, inconclusive when they disagree or none decides.
    """
    decided = {v for v in verdicts if v in (CONFIRMED, REFUTED)}
    if decided == {CONFIRMED}:
        return CONFIRMED
    if decided == {REFUTED}:
        return REFUTED
    return INCONCLUSIVE


# Report thresholds (plot/report.py). They only decide what the report flags for a reader, never a
# verdict.
# A floor measured at the end of the sweep more than 10 % away from the one at its start: the
# machine itself moved by about the margin that separates mechanisms at low idle counts (the
# reference VM's two epolls, ET vs LT, sit within 5 %), so differences of that size between
# points measured at different times may be drift.
DRIFT_WARN_REL = 0.10
# Repeats of one point whose largest value is more than 1.5 x the smallest: a spread that wide
# means the median of three is one draw among very different ones, and the noise of the
# ~0.5 s windows on a quiet machine stays well inside it (±5–20 % on the reference VM).
SPREAD_WARN_RATIO = 1.5
# The project's aim for chat-epoll at 0 idle: within 10 % of the relay floor (the same 4 hops and
# CPUs without a multiplexer). Reported as a figure beside the target, never judged.
RELAY_TARGET_RATIO = 1.10

# ./bench compare
# Two results folders, point by point (plot/compare_runs.py). These decide what the comparison
# flags and its exit status, never a claim's verdict (claims are compared by their verdicts).
# A point regressed when the median of B is worse than A's by more than this fraction — higher
# latency or CPU: B/A > 1 + it; lower throughput: B/A < 1 − it — AND the test below says so.
# 10 %: twice EQUIVALENCE_MARGIN (what "as cheap" allows), and about the spread of one point's
# repeats on a quiet machine; `./bench compare --threshold` overrides it.
COMPARE_THRESHOLD = 0.10
# The test: exact one-sided Mann–Whitney U on the ok repeats of each side, in the "worse"
# direction, at COMPARE_ALPHA. One-sided because the question is "did B get worse?", and because
# with 3 repeats a side the smallest two-sided p is 2/20 = 0.1: a two-sided test at 0.05 could
# never flag anything. The smallest one-sided p is 1/20 = 0.05, reached only when every repeat of
# B is worse than every repeat of A — the same "ranges do not overlap" rule the claims use between
# mechanisms (1 time in 20 by chance alone). Exact (all splits of the pooled repeats enumerated,
# ties by mid-ranks), so deterministic with no seed; rank-based, so one outlying repeat or a
# skewed latency tail does not decide it. A bootstrap was not chosen: with 3 values a side it
# resamples among 10 multisets per side and its interval undercovers.
COMPARE_ALPHA = 0.05
# Fewer ok repeats than this on either side: "not tested (n=…)", never a regression.
COMPARE_MIN_REPEATS = 3
# Beyond this many splits of the pooled repeats (10 + 10 is 184,756) the normal approximation of
# U, with tie and continuity corrections, replaces enumeration.
COMPARE_EXACT_MAX_SPLITS = 200_000
# The metrics compared, each with the direction that is worse; a metric absent from a point is
# skipped.
COMPARE_WORSE = {
    "p50_us": "higher",
    "p99_us": "higher",
    "throughput_msgs_s": "lower",
    "server_cpu_us_per_msg": "higher",
    "conns_per_s": "lower",  # churn's headline figure (connections opened and closed per second)
}
# What sets the exit status: a *series* regression, not a single point. Per (scenario, mechanism,
# metric), the log of B/A at every tested point; a 95 % Student-t interval of their mean over the
# points (at least COMPARE_MIN_POINTS of them). The series regressed when the whole interval lies
# beyond the threshold on the worse side. Why not the per-point test: a default sweep has ~360
# tested cells, so at 0.05 about 18 pass by chance with nothing changed — two back-to-back runs of
# one commit gave 7 "regressions", which would fail every CI job. One interval per series (~90) at
# a threshold 10 % away from "no change" almost never clears by chance; a change confined to one
# idle count is still listed among the point flags, for a human to rerun.
COMPARE_MIN_POINTS = 3

# ---- The cross-check with libevent (plot/cross_check.py) ----------------------------------------
# Reported beside the claims, never a verdict. micro.csv's chain family runs libevent's benchmark
# method on our pollers and on libevent's backends: per event both loops make the same system
# calls (one wait over the same N descriptors, one recv, one send) with the same callback; only
# the user-space dispatch differs (libevent's active queue vs our ready vector), well under a
# microsecond against the tens to hundreds of µs a select/poll over N >= 1000 takes. The
# repetitions of one micro point spread by ±5–10 % on a quiet VM. A ratio ours / libevent's
# further than 15 % from 1 is beyond both: something besides the loop differs (a kernel path
# such as a zero timeout, a backend other than the one forced, the descriptor layout), which the
# report flags for a human to explain. Set from that reasoning before the first run was read.
CROSS_CHECK_TOLERANCE = 0.15

# Costs that grow with idle connections (plot/idle_growth.py). A finding of the report about our
# own servers, never a claim's verdict: a mechanism whose model says its cost does not depend on
# idle descriptors (the registry's cost_independent_of_idle) is measured at the run's largest idle
# count against 0 idle, per mode, by CostRatio (cost at the largest count / cost at 0; for a rate,
# cost = 1 / rate).
# 25 %: the margin the shape rule already calls "flat" (MAX_REL_FLAT: the value changes by at most
# 25 % over the range), so a mechanism listed here is one whose series the shape rule could not
# call flat; and well above the drift of one machine between two points measured minutes apart
# (DRIFT_WARN_REL, 10 %). An O(idle) cost at thousands of idle connections is many times this.
IDLE_GROWTH_MARGIN = 0.25
# A finding when the whole interval lies beyond 1 + IDLE_GROWTH_MARGIN; "possible, not
# established" when the estimate does but the interval reaches below it.
IDLE_GROWTH_FINDING = "grows"
IDLE_GROWTH_POSSIBLE = "possible, not established"
IDLE_GROWTH_WITHIN = "within the margin"
IDLE_GROWTH_NOT_COMPARED = "not compared"


def idle_growth_class(ratio):
    """A CostRatio of cost at the largest idle count over cost at 0, in the words above."""
    if ratio.ratio is None:
        return IDLE_GROWTH_NOT_COMPARED
    if ratio.low > 1 + IDLE_GROWTH_MARGIN:
        return IDLE_GROWTH_FINDING
    if ratio.ratio > 1 + IDLE_GROWTH_MARGIN:
        return IDLE_GROWTH_POSSIBLE
    return IDLE_GROWTH_WITHIN


# ---- Offered load: capacity at a latency objective and claim 12 (plot/curves.py) -------------
# Committed with the first code that measures curves (issue 21), before any run with curves was
# read; set from the words of the claim, never tuned to a run.
# An offered rate "meets the objective" when the server carried it and its tail stayed under the
# objective: achieved >= 99 % of offered (an open-loop schedule over a short window misses by a
# few per mille at most by itself; more is the server falling behind) and p99 <= the objective,
# with no message lost.
OBJECTIVE_ACHIEVED_MIN = 0.99
# The objective when the sweep is not given one (--slo-p99): p99 <= 1 ms, about 20 x the low-load
# p99 of a chat round trip on the reference VMs: tight enough to be met only below the knee.
DEFAULT_SLO_P99_US = 1000.0
# A run whose loadgen used >= 90 % of a CPU: the loadgen, not the server, may have been the limit
# (the loadgen's own bound_by uses the same figure), so a capacity it bounds is a lower bound.
LOADGEN_BUSY_PCT = 90.0
# Fresh-instance repeats of each capacity search (at least; the sweep's --repeats when more). Five,
# not MIN_REPEATS_COMPARE: plot/tests/test_curves.py simulates capacities whose instances differ
# by 10 % (sd of the log) and finds that with 3 repeats a truly flat epoll beside a poll that loses
# 70 % is confirmed in only about half the runs (the t interval of 3 values is too wide for the
# 25 % margin), with 5 in more than 90 %; false confirmations stay below 5 % either way.
CAPACITY_REPEATS = 5
# Claim 12 has one edge per mechanism: capacity at the largest idle count / capacity at the
# smallest, with its 95 % interval (the means over the fresh-instance repeats, delta method,
# Welch–Satterthwaite: shape_rules.log_ratio_interval). "Does not fall" when the whole interval is
# >= 1 - CAPACITY_FALL_MARGIN; "falls" when the whole interval is below it; undecided while it
# straddles. 25 %: what the shape rule calls flat (MAX_REL_FLAT), so a capacity that "does not
# fall" is one whose change the other claims would call flat; select's and poll's scan at
# thousands of idle connections costs many times that.
CAPACITY_FALL_MARGIN = MAX_REL_FLAT
# "In proportion to them": the time per message at capacity (1 / capacity) grows at least
# linearly with idle connections, judged by the per-descriptor rule of claims 2 and 4
# (shape_rules.PerFdShape) when the run measured enough counts for a shape; with fewer, the
# figures say proportionality was not tested and the verdict rests on "falls".
