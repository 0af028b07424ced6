"""How plot/ writes a number: one place for every formatter the report, the comparisons and the
plots share. Stdlib only."""

import math


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


def pct(value):
    """A relative change as a signed percentage: +12%."""
    return f"{value * 100:+.0f}%"


def change(value):
    """A relative change: a percentage while small, a factor once it is many times the start."""
    if value >= 9:
        return f"×{fmt(1 + value)}"
    return pct(value)


def times(a, b):
    """b as a multiple of a, ×1.23; – when either is missing or zero."""
    return f"×{fmt(b / a)}" if a and b else "–"


def fixed(value):
    """One decimal from 10 up, two below: the short figures of a table of paths (net_compare)."""
    return "–" if value is None else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def human(v):
    """An axis tick: 20, 1k, 2.5M."""
    if v >= 1e6 and v % 1e5 == 0:
        return f"{v / 1e6:g}M"
    if v >= 1e3 and v % 100 == 0:
        return f"{v / 1e3:g}k"
    return f"{v:,.0f}" if v >= 1 and float(v).is_integer() else f"{v:g}"
