"""What holding the idle-state request did to the floor, in words: env.json `idle_states_effect`
(harness/sweep/idle_states.py `measure_effect`) as the sweep's console line
(`idle_states.effect_sentence`) and the report's paragraph (plot/report_diagnostics.py
`request_effect_lines`) both say it.

The figures, their order, the rounds and why nothing was measured are composed here once; each
caller keeps its own framing and its own way of writing a number (the console's µs with one
decimal, the report's three significant figures with the ratio in bold)."""

# Why the effect was not measured, when env.json does not say.
NOT_MEASURED = "no floor run was ok both without and with the request"


def why_not_measured(effect):
    return effect.get("why_not") or NOT_MEASURED


def floor_changes(effect, number, ratio_mark=""):
    """ "p50 by ×0.96 (32.9 → 31.7 µs) and its p99 by ×0.53 (131 → 70.0 µs)": each floor figure
    the request changed, without → with. number(µs) writes the microseconds; ratio_mark ("**")
    wraps the ratio."""
    return " and its ".join(
        f"{key} by {ratio_mark}×{effect[key + '_ratio']:.2f}{ratio_mark}"
        f" ({number(effect.get(key + '_without_us'))} → {number(effect.get(key + '_with_us'))} µs)"
        for key in ("p50", "p99")
        if effect.get(key + "_ratio") is not None
    )


def rounds(effect):
    """The interleaved rounds measured (each one run without and one with the request)."""
    return len(effect.get("runs") or []) // 2
