"""The figures of the rules in words: one line per rules.Fit, rules.CostRatio and
shape_rules.PerFdShape, for the claims' words (claims_text*.py) and the report's sections.

rules.py and shape_rules.py decide and hold the figures as data; this module only writes them.
How each rule decides, in words and with its thresholds, is rules_text.py's."""

import math

from plot.numbers import change, fmt
from plot.rules import (
    CHEAPER,
    CONFIDENCE,
    DEARER,
    EQUIVALENCE_MARGIN,
    EQUIVALENT,
    MIN_POINTS,
    MIN_REPEATS_COMPARE,
    NOT_CHEAPER,
    TOO_FEW,
    TOO_FEW_REPEATS,
    UNDECIDED,
)
from plot.shape_rules import (
    FASTER_THAN_LINEAR,
    LINEAR,
    LOW_END_COST_FACTOR,
    PER_FD_MARGIN,
    SLOWER_THAN_LINEAR,
)


def fit_line(fit, unit_y, unit_x, scale=1.0, unit_slope=None):
    """A rules.Fit in one line: slope with interval and repeat spread, R², rise over the range."""
    if fit.shape == TOO_FEW:
        return f"{len(fit.xs)} measured point(s), need {MIN_POINTS}"
    unit = unit_slope or f"{unit_y} per {unit_x}"
    text = (
        f"slope {fmt(fit.slope * scale)} {unit} (95% CI {fmt(fit.slope_low * scale)} …"
        f" {fmt(fit.slope_high * scale)}"
    )
    if fit.repeat_slopes:
        text += (
            f"; per-repeat {fmt(min(fit.repeat_slopes) * scale)} …"
            f" {fmt(max(fit.repeat_slopes) * scale)}"
        )
    text += f"), R² {fit.r2:.2f}"
    rise = fit.rise_interval()
    if rise:
        text += (
            f", change over {fmt(fit.xs[0])}–{fmt(fit.xs[-1])} {unit_x}: {change(rise[0])} …"
            f" {change(rise[1])} of {fmt(fit.base)} {unit_y}"
        )
    return text + f" → {fit.shape}"


def needs_repeats(have):
    """The figures' words for a comparison left undecided by too few repeats."""
    return f"needs ≥ {MIN_REPEATS_COMPARE} repeats, this run has {have}"


def saving(ratio):
    """A ratio of costs in words: 'saves 18%' below 1, 'costs 7% more' above."""
    digits = 1 if abs(ratio - 1) < 0.1 else 0
    if ratio <= 1:
        return f"saves {(1 - ratio) * 100:.{digits}f}%"
    return f"costs {(ratio - 1) * 100:.{digits}f}% more"


def cost_ratio_rule(c, name_a="A", name_b="B"):
    """Which rule decided a rules.CostRatio, in words."""
    m = EQUIVALENCE_MARGIN
    if c.outcome == TOO_FEW_REPEATS:
        return needs_repeats(c.run_repeats)
    if c.outcome == CHEAPER:
        return f"the whole interval is below {1 - m:.2f}: {name_a} saves more than {m:.0%}"
    if c.outcome == UNDECIDED:
        return (
            f"the interval straddles {1 - m:.2f}: a saving of more than {m:.0%} is neither"
            " established nor excluded"
        )
    said = {
        EQUIVALENT: f"within {1 - m:.2f} … {1 + m:.2f}, as cheap within ±{m:.0%}",
        DEARER: f"wholly above 1, {name_b} is cheaper",
        NOT_CHEAPER: f"reaching above {1 + m:.2f}",
    }[c.outcome]
    return (
        f"the whole interval is at or above {1 - m:.2f} ({said}): {name_a} does not save more"
        f" than {m:.0%}"
    )


def cost_ratio_line(c, name_a="A", name_b="B", what="cost"):
    """A rules.CostRatio in one line: the ratio and its interval, points and repeats, the deciding
    rule."""
    if c.ratio is None:
        text = f"{name_a} / {name_b} {what}: {c.compared} point(s) where both were measured"
    else:
        reps = sorted(set(c.pairs.values()))
        reps = str(reps[0]) if len(reps) == 1 else f"{reps[0]}–{reps[-1]}"
        text = (
            f"{name_a} / {name_b} {what}: ratio {c.ratio:.3f} ({c.confidence:.2%} CI"
            f" {c.low:.3f} … {c.high:.3f}, i.e. {name_a} {saving(c.ratio)}), over"
            f" {c.points} points × {reps} repeats paired by repeat number"
            f" (t with {c.df} df{sitting_words(c)})"
        )
    if c.left_out and c.outcome != TOO_FEW_REPEATS:
        text += (
            f"; {c.left_out} point(s) with fewer than {MIN_REPEATS_COMPARE} repeats of both"
            " left out"
        )
    return text + f"; rule: {cost_ratio_rule(c, name_a, name_b)} → {c.verdict}"


def sitting_words(c):
    """How a CostRatio's interval counts the spread between sittings, and when only that spread
    keeps it undecided (rules.SITTING_LOG_SD)."""
    if not getattr(c, "sitting_sd", 0):
        return ""
    text = (
        f"; the interval adds a between-sittings sd of {c.sitting_sd:.3f} in log to the"
        f" within-run {c.within_se:.3f}"
    )
    if not c.decidable:
        text += (
            ", and that sd alone straddles the edge: no number of repeats in this sitting"
            " could decide it"
        )
    return text


def interval_words(low, high):
    """'95% CI 0.98 … 1.01', or why there is none (a count measured once has no spread)."""
    if math.isinf(high):
        return "no interval: a count has fewer than 2 repeats"
    return f"{CONFIDENCE:.0%} CI {fmt(low)} … {fmt(high)}"


def per_fd_cost_line(shape, unit, x_unit, scale=1.0):
    """A shape_rules.PerFdShape's total cost from N0 to the high end, e.g. 'cost 629 ns at 10 →
    625 at 19,962 watched: ×0.99 (95% CI 0.98 … 1.01) → flat'."""
    if shape.cost_ratio is None:
        return f"{len(shape.xs)} measured count(s), need 2"
    r, low, high = shape.cost_ratio
    top = shape.xs[-1]
    return (
        f"cost {fmt(shape.est[shape.x0].mean * scale)} {unit} at {fmt(shape.x0)} →"
        f" {fmt(shape.est[top].mean * scale)} at {fmt(top)} {x_unit}: ×{fmt(r)}"
        f" ({interval_words(low, high)}) → {shape.cost_shape}"
    )


def per_fd_line(shape, unit, per_words, scale=1.0):
    """A shape_rules.PerFdShape in one line: the cost added per descriptor at every count (where
    it bends shows), the ratio of the ends with its interval, and the words of the rule — never
    one slope over the whole range. per_words: what one descriptor is, e.g. 'watched
    descriptor'."""
    if shape.shape == TOO_FEW:
        return (
            f"per descriptor: fewer than two counts cost ≥ {LOW_END_COST_FACTOR:g} × the cost"
            f" at {fmt(shape.x0)} (too few points for a shape)"
            if shape.xs
            else "no measured count"
        )
    r, low, high = shape.ratio
    lo_x, hi_x = shape.low_x, shape.high_x
    each = ", ".join(f"{fmt(x)}: {fmt(shape.per_fd(x) * scale)}" for x in shape.xs[1:])
    text = (
        f"{unit} added per {per_words} above the cost at {fmt(shape.x0)}: {each};"
        f" {fmt(hi_x)} against {fmt(lo_x)}: ×{fmt(r)} ({interval_words(low, high)})"
    )
    if shape.shape == LINEAR:
        return text + f" → linear (within ±{PER_FD_MARGIN:.0%})"
    if shape.shape == FASTER_THAN_LINEAR:
        return text + f" → grows at least linearly: {bend_words(shape, r)}"
    if shape.shape == SLOWER_THAN_LINEAR:
        return text + f" → slower than linear (per descriptor ×{fmt(r)})"
    return text + f" → unclear (the interval reaches past ±{PER_FD_MARGIN:.0%})"


def bend_words(shape, r):
    """How a per-descriptor cost that grows at least linearly rose, and where."""
    lo_x, hi_x = shape.low_x, shape.high_x
    flat_to, rises_at = shape.bend()
    where = ""
    if flat_to is not None and flat_to != lo_x:
        where = f"; within ±{PER_FD_MARGIN:.0%} of its value at {fmt(lo_x)} up to" + (
            f" {fmt(flat_to)}"
        )
    if rises_at is not None:
        where += f"; more than {PER_FD_MARGIN:.0%} above it from {fmt(rises_at)}"
    return f"per descriptor ×{fmt(r)} from {fmt(lo_x)} to {fmt(hi_x)}{where}"
