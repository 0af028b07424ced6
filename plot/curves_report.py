"""The report's section on offered load: per mechanism and idle count the capacity at the latency
objective with its interval, the low-load p99 the objective is set against, where the curve
stopped, and the loadgen's own open-loop capacity (plot/curves.py reads the rows)."""

from plot.curves import Curves
from plot.markdown import cell
from plot.numbers import fmt


def capacity_cell(cap):
    if cap.mean is None:
        if cap.ceiling:
            return f"below {fmt(cap.ceiling)} (every repeat failed its lowest rate)"
        if cap.below_lowest:
            return "below the lowest rate measured"
        return "–"
    band = cap.interval()
    text = fmt(cap.mean) + (f" ({fmt(band[0])} … {fmt(band[1])})" if band else " (one repeat)")
    return text + (" (a lower bound)" if cap.lower_bounds else "")


def section(results):
    """The markdown lines of the section; [] when the run measured no curves."""
    curves = Curves(results)
    if not curves:
        return []
    slo = curves.slo_p99_us
    out = [
        "## Offered load: capacity at the latency objective",
        "",
        f"Open-loop runs (`loadgen --mode rate`, latency from each message's intended send time)"
        f" at offered rates up past each point's capacity; the capacity is the highest offered"
        f" rate the server carried (achieved ≥ 99 % of it) with p99 ≤ {fmt(slo)} µs, by"
        " bisection, the mean over fresh-instance repeats with its 95 % interval. *objective ×"
        " low-load p99*: the objective as a multiple of the curve's first p99. A capacity marked"
        " *lower bound* was bounded by the loadgen (≥ 90 % of a CPU first) or by no failing"
        " rate; plots [curves](curves.png) and [capacity](capacity.png); claim 12 judges them.",
        "",
    ]
    if curves.loadgen_capacity is not None:
        marked = (
            "curve points offered beyond it are drawn hollow"
            if curves.loadgen_limit == "loadgen"
            else "it did not reach the loadgen's limit, so no curve point is marked beyond it"
        )
        out += [
            f"The loadgen's own open-loop capacity (against the cheapest server at 0 idle):"
            f" {fmt(curves.loadgen_capacity)} msg/s ({cell(curves.loadgen_words)}); {marked}.",
            "",
        ]
    out += [
        "| mechanism | idle | capacity, msg/s (95 % CI) | low-load p99, µs | objective × low-load"
        " p99 | repeats | why a lower bound |",
        "|---|---|---|---|---|---|---|",
    ]
    tails = []
    for mech in curves.mechanisms():
        for idle in curves.idles(mech):
            cap = curves.capacity(mech, idle)
            low = curves.low_load_p99(mech, idle)
            out.append(
                f"| {cell(mech)} | {fmt(idle)} | {capacity_cell(cap)} | {fmt(low) if low else '–'}"
                f" | {fmt(slo / low) if low else '–'} | {cap.estimate.n} |"
                f" {cell('; '.join(cap.lower_bounds)) or '–'} |"
            )
            for repeat, rates in cap.low_load_failures.items():
                tails.append(
                    f"{mech} at {fmt(idle)} idle, repeat {repeat}:"
                    f" {', '.join(fmt(r) for r in rates)} msg/s"
                )
    if tails:
        out += [
            "",
            "**Failed the objective below a rate that met it** (the tail at low load is not a"
            " queue, which only grows with the rate; these rates neither set nor bound the"
            " capacity): " + "; ".join(tails) + ". Explanation, not measured by this run: where"
            " idle CPUs halt (env.json `idle_states_effect`), a message that finds them idle waits"
            " for a wake-up, and at low rates every message does.",
        ]
    return out + [""]
