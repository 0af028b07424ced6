"""The report's diagnostic sections: drift and spread, what bound each point, CPU idle states,
latency against the floors, failed points; and the warnings its top line lists."""


from harness.common import idle_effect
from plot.markdown import cell
from plot import run_row
from plot.run_row import scenario_label

# The figure a point is read by, per mode, besides server CPU per message (every mode).
from plot.run_row import COST, HEADLINE
from plot.numbers import fmt, times as ratio_text

# The report's own flags (drift, spread, the relay-floor target) are thresholds of rules.py.
from plot.rules import DRIFT_WARN_REL, RELAY_TARGET_RATIO, SPREAD_WARN_RATIO


FLOOR_NAMES = {
    run_row.FLOOR: "floor (2 hops, no server)",
    run_row.RELAY_FLOOR: "relay floor (4 hops, no multiplexer)",
}


def states_words(value):
    return run_row.idle_states_words(value) if value else "not recorded"


def drift_rows(results):
    """(kind, idle_states, start p50, end p50, relative change) for every floor measured at both
    ends."""
    out = []
    for kind in run_row.FLOOR_MODES:
        for state in results.idle_states_values() or [None]:
            start, end = results.floor_at(kind, "start", state), results.floor_at(
                kind, "end", state
            )
            if start and end:
                out.append((kind, state or "", start, end, end / start - 1))
    return out


def idle_states_env(results):
    value = results.raw_env.get("idle_states")
    return value if isinstance(value, dict) else {}


def idle_states_effect(results):
    """env.json's idle_states_effect (the floor without and with the PM QoS request, measured at
    the sweep's start), or None for a sweep from before that measurement."""
    value = results.raw_env.get("idle_states_effect")
    return value if isinstance(value, dict) else None


def request_effect_lines(results):
    """What the PM QoS request can do on this machine and what holding it did to the floor, as
    measured by this run; never the mechanism it was meant to trigger."""
    effect = idle_states_effect(results)
    if effect is None:
        return [
            "What holding `/dev/cpu_dma_latency` at 0 did on this machine was not measured"
            " (env.json has no `idle_states_effect`: a sweep from before that measurement)."
        ]
    out = []
    reach = effect.get("what_the_request_can_do")
    if reach:
        out.append(f"What the request can do here: {reach}.")
    if not effect.get("measured"):
        why = idle_effect.why_not_measured(effect)
        return out + [f"What holding the request does was not measured in this run: {why}."]
    changes = idle_effect.floor_changes(effect, fmt, ratio_mark="**")
    out.append(
        "Measured at the start of the sweep: holding the request changed the 2-hop floor's"
        f" {changes} on this machine (without → with; median of {idle_effect.rounds(effect)}"
        f" interleaved {fmt(effect.get('window_s'))} s runs each, env.json `idle_states_effect`)."
    )
    return out


def drifted_floors(results):
    """(floor kind, " with <idle states>" or "", start, end, relative change) of every floor that
    moved beyond DRIFT_WARN_REL between the start and the end of the sweep."""
    several = len(results.idle_states_values()) > 1
    for kind, state, start, end, rel in drift_rows(results):
        if abs(rel) > DRIFT_WARN_REL:
            where = f" with {run_row.idle_states_words(state)}" if state and several else ""
            yield kind, where, start, end, rel


def idle_states_not_blocked(results):
    """Why the sweep could not hold the idle-state request it wanted, or None when it held it (or
    never asked)."""
    env = idle_states_env(results)
    requested = env.get("requested") or []
    if env.get("held") is False and (run_row.BLOCK in requested or env.get("why_not")):
        return env.get("why_not") or "no reason recorded"
    return None


def warnings_lines(results):
    """The warnings in full, at the top of the drift and spread section (warning_items lists them
    in one line each at the top of the report): what may undermine every figure."""
    out = [
        "**Warning: the machine drifted during this run.** The"
        f" {FLOOR_NAMES[kind]}{where} went from {fmt(start)} µs (p50) at the start of the"
        f" sweep to {fmt(end)} µs at its end ({rel:+.0%}, beyond the report's"
        f" ±{DRIFT_WARN_REL:.0%}): differences of that size between points measured at"
        " different times may be the machine, not the mechanism."
        for kind, where, start, end, rel in drifted_floors(results)
    ]
    why = idle_states_not_blocked(results)
    if why:
        out.append(
            f"**CPU idle states could not be blocked**: {why}. Every point was measured with the"
            " machine's own idle behaviour (idle_states = allow). Explanation, not measured: where"
            " the cpuidle driver halts idle CPUs, low-load latency and CPU per message then include"
            " waking them."
        )
    return [part for line in out for part in (line, "")]


def warning_items(results):
    """One line per warning for the top of the report, each linking to its details."""
    drift_link = "[drift and spread](#drift-and-spread)"
    out = [
        f"**Warning: the machine drifted**: the {FLOOR_NAMES[kind]}{where} moved {rel:+.0%}"
        f" between the start and the end of the sweep (beyond ±{DRIFT_WARN_REL:.0%});"
        f" {drift_link}."
        for kind, where, _start, _end, rel in drifted_floors(results)
    ]
    spread = spread_points(results)
    if spread:
        out.append(
            f"**Warning: {len(spread)} point figure(s) spread by more than"
            f" ×{SPREAD_WARN_RATIO:g} over their repeats**; {drift_link}."
        )
    why = idle_states_not_blocked(results)
    if why:
        out.append(
            f"**Warning: CPU idle states could not be blocked** ({why}): every point was measured"
            " with the machine's own idle behaviour; [CPU idle states](#cpu-idle-states)."
        )
    return out


def spread_points(results):
    """Every point (mechanism, mode, idle, scenario) whose ok repeats spread by more than
    SPREAD_WARN_RATIO on its headline metric or on server CPU per message."""
    groups = {}
    for r in results.runs:
        if r.is_floor or not r.ok:
            continue
        groups.setdefault((r.mechanism, r.mode, r.idle, r.scenario), []).append(r)
    found = []
    for (mech, mode, idle, scenario), rows in groups.items():
        metrics = [m for m in (HEADLINE.get(mode), COST) if m]
        for metric in dict.fromkeys(metrics):
            values = [(r.repeat, r.metric(metric)) for r in rows if r.metric(metric) is not None]
            if len(values) < 2:
                continue
            low, high = min(v for _, v in values), max(v for _, v in values)
            if low > 0 and high / low > SPREAD_WARN_RATIO:
                found.append((mech, mode, idle, scenario, metric, sorted(values), high / low))
    modes = results.modes()
    mechs = results.mechanisms()
    found.sort(
        key=lambda f: (
            modes.index(f[1]) if f[1] in modes else 99,
            mechs.index(f[0]) if f[0] in mechs else 99,
            f[3],
            f[2],
            f[4],
        )
    )
    return found


def drift_and_spread_section(results):
    out = [
        "## Drift and spread",
        "",
        (
            "Two checks on the machine before any figure is read. **Drift**: the blocking floors"
            " are measured at the start and again at the end of the sweep, in the same placement;"
            f" a change beyond ±{DRIFT_WARN_REL:.0%} is flagged at the top of this report."
            " **Spread**: every point whose repeats differ by more than"
            f" ×{SPREAD_WARN_RATIO:g} (largest ÷ smallest) on its headline figure (p50 for"
            " pingpong, throughput for flood and broadcast, connections/s for churn) or on server"
            " CPU per message is listed: its median is one draw among very different ones."
        ),
        "",
    ]
    return out + drift_lines(results) + [""] + spread_lines(results) + [""]


def drift_lines(results):
    """The floors at the start and the end of the sweep, as a table, or why there are none."""
    out = []
    drifts = drift_rows(results)
    if drifts:
        out += [
            "| floor | idle states | p50 at start (µs) | p50 at end (µs) | change |",
            "|---|---|---|---|---|",
        ]
        for kind, state, start, end, rel in drifts:
            flag = " **drift**" if abs(rel) > DRIFT_WARN_REL else ""
            out.append(
                f"| {FLOOR_NAMES[kind]} | {states_words(state)} | {fmt(start)} | {fmt(end)} |"
                f" {rel:+.1%}{flag} |"
            )
        missing = [
            FLOOR_NAMES[k] for k in run_row.FLOOR_MODES if not any(d[0] == k for d in drifts)
        ]
        if missing:
            out += ["", "Not measured at both ends: " + ", ".join(missing) + "."]
    else:
        out.append(
            "Drift: not measurable, no floor was measured (ok) at both the start and the end of"
            " this run."
        )
    return out


def spread_lines(results):
    """The points whose repeats spread beyond SPREAD_WARN_RATIO, as a table, or that none did."""
    out = []
    spread = spread_points(results)
    if spread:
        out += [
            (
                f"{len(spread)} point figure(s) spread by more than ×{SPREAD_WARN_RATIO:g} over"
                " their repeats:"
            ),
            "",
            "| mechanism | mode | idle | scenario | figure | repeats (repeat: value) | max ÷ min |",
            "|---|---|---|---|---|---|---|",
        ]
        for mech, mode, idle, scenario, metric, values, ratio in spread:
            shown = ", ".join(f"{rep}: {fmt(v)}" for rep, v in values)
            out.append(
                f"| {cell(mech)} | {cell(mode)} | {idle} | {cell(scenario_label(scenario))} |"
                f" {metric} | {shown} | ×{fmt(ratio)} |"
            )
    else:
        out.append(
            f"Spread: no point's repeats differ by more than ×{SPREAD_WARN_RATIO:g} on its headline"
            " figure or on server CPU per message."
        )
    return out


def median_at(series, x):
    return series.median(x) if x in series.xs() else None


def both_settings_lines(results, mode):
    """Idle states blocked against allowed at the smallest idle count: pingpong p50 and server
    CPU per message of every mechanism, and the floors."""
    out = []
    x0 = None
    if mode:
        idles = sorted({r.idle for r in results.scenario_runs(mode)})
        x0 = idles[0] if idles else None
    if mode and x0 is not None:
        out += [
            (
                f"What the idle states cost at {x0} idle (pingpong, median of repeats; *allowed"
                " ÷ blocked*):"
            ),
            "",
            (
                "| | p50 blocked (µs) | p50 allowed (µs) | allowed ÷ blocked | server CPU/msg"
                " blocked (µs) | allowed (µs) | allowed ÷ blocked |"
            ),
            "|---|---|---|---|---|---|---|",
        ]
        for mech in results.mechanisms(results.scenario_runs(mode)):
            cols = []
            for metric in ("p50_us", COST):
                b = median_at(results.series(mode, mech, metric, run_row.BLOCK), x0)
                a = median_at(results.series(mode, mech, metric, run_row.ALLOW), x0)
                cols += [fmt(b), fmt(a), ratio_text(b, a)]
            out.append(f"| {cell(mech)} | " + " | ".join(cols) + " |")
        placement = results.primary_scenario(mode)[1] or None
        for kind in run_row.FLOOR_MODES:
            b = results.floor("p50_us", placement, kind, run_row.BLOCK)
            a = results.floor("p50_us", placement, kind, run_row.ALLOW)
            if b is not None or a is not None:
                out.append(
                    f"| {FLOOR_NAMES[kind]} | {fmt(b)} | {fmt(a)} | {ratio_text(b, a)} | – | –"
                    " | – |"
                )
        out += [
            "",
            (
                "The claims and the comparisons use the *blocked* points; the plots draw both "
                "(idle states allowed in a second row of panels)."
            ),
        ]
    else:
        out.append("Both settings were measured, but no pingpong point to compare them on.")
    return out


def one_setting_lines(results, only, mode):
    """A run that measured one idle-states setting: which, and the floors under it."""
    out = []
    how = {
        run_row.BLOCK: "blocked (`/dev/cpu_dma_latency` held at 0; what that did is above)",
        run_row.ALLOW: "allowed (the machine's own idle behaviour)",
    }.get(only, only)
    out.append(
        f"This run measured every point with idle states {how} only; a `--idle-states"
        " block,allow` run measures both and shows here what the idle states cost."
    )
    placement = results.primary_scenario(mode)[1] or None if mode else None
    floors = [(k, results.floor("p50_us", placement, k, only)) for k in run_row.FLOOR_MODES]
    floors = [(k, v) for k, v in floors if v is not None]
    if floors:
        out += [
            "",
            "Floors under this setting (p50, median of their runs): "
            + "; ".join(f"{FLOOR_NAMES[k]} {fmt(v)} µs" for k, v in floors)
            + ".",
        ]
    return out


def idle_states_section(results):
    out = [
        "## CPU idle states",
        "",
        (
            "Explanation, not measured by this run: an idle CPU may halt (a C-state; on a VM, a"
            " halt that exits to the host); waking it costs tens of µs, paid on every message by a"
            " ping-pong at low load, where both sides sleep between messages. Holding"
            " `/dev/cpu_dma_latency` at 0 (idle_states = *block*) asks the cpuidle governor to"
            " keep idle CPUs polling instead, which it can do only where the cpuidle driver lists a"
            " polling state and deeper ones; *allow* is the machine's own behaviour. A server busy"
            " scanning thousands of descriptors rarely goes idle, so where the request works the"
            " idle states bend the *shape* of the curves, not only their level."
        ),
        "",
    ]
    out += request_effect_lines(results) + [""]
    values = results.idle_states_values()
    env = idle_states_env(results)
    mode = "pingpong" if "pingpong" in results.modes() else None
    if run_row.BLOCK in values and run_row.ALLOW in values:
        out += both_settings_lines(results, mode)
    elif values:
        out += one_setting_lines(results, values[0], mode)
    else:
        out.append(
            "runs.csv does not record idle_states (a run from before the sweep controlled them):"
            " the CPUs were left to the machine's own idle behaviour. A `--idle-states block,allow`"
            " run measures both and shows here what the idle states cost."
        )
    if env.get("held") is False and env.get("why_not"):
        out += ["", f"Idle states could not be blocked: {env.get('why_not')}."]
    return out + [""]


def floors_section(results):
    """Each mechanism's pingpong p50 at the smallest idle count against both floors."""
    out = ["## Latency against the floors", ""]
    mode = "pingpong" if "pingpong" in results.modes() else None
    if mode is None:
        return out + ["No pingpong rows: latency is not set against the floors.", ""]
    scenario = results.primary_scenario(mode)
    placement, state = scenario[1] or None, scenario[5]
    idles = sorted({r.idle for r in results.scenario_runs(mode)})
    x0 = idles[0]
    floor = results.floor("p50_us", placement, run_row.FLOOR, state)
    relay = results.floor("p50_us", placement, run_row.RELAY_FLOOR, state)
    relay_text = fmt(relay) + " µs" if relay else "not measured"
    out += [
        (
            f"pingpong p50 at {x0} idle ({scenario_label(scenario)}; median of repeats) as a"
            f" multiple of the {FLOOR_NAMES[run_row.FLOOR]} ({fmt(floor)} µs) and of the"
            f" {FLOOR_NAMES[run_row.RELAY_FLOOR]} ({relay_text})."
            " The relay floor makes a chat ping-pong's four hops on the same CPUs, with blocking"
            " reads instead of a multiplexer: what is left above it is the server's."
        ),
        "",
        "| mechanism | p50 (µs) | ÷ floor (2 hops) | ÷ relay floor (4 hops) |",
        "|---|---|---|---|",
    ]
    for mech in results.mechanisms(results.scenario_runs(mode)):
        p50 = median_at(results.series(mode, mech, "p50_us"), x0)
        out.append(
            f"| {cell(mech)} | {fmt(p50)} | {ratio_text(floor, p50)} | {ratio_text(relay, p50)} |"
        )
    epoll = median_at(results.series(mode, "epoll-lt", "p50_us"), x0)
    out.append("")
    if epoll is None:
        out.append(f"chat-epoll (epoll-lt) has no ok pingpong point at {x0} idle.")
    elif relay:
        out.append(
            f"chat-epoll (epoll-lt) p50 at {x0} idle: {fmt(epoll)} µs = **{epoll / relay:.2f} × the"
            f" relay floor** ({fmt(relay)} µs); the project's target is within"
            f" {RELAY_TARGET_RATIO:.2f} ×."
        )
    else:
        out.append(
            f"chat-epoll (epoll-lt) p50 at {x0} idle: {fmt(epoll)} µs"
            + (f" = {epoll / floor:.2f} × the 2-hop floor" if floor else "")
            + ". The relay floor was not measured in this run (a loadgen without `--mode"
            f" relay-floor`), so the project's target (within {RELAY_TARGET_RATIO:.2f} × the"
            " relay floor) cannot be checked."
        )
    return out + [""]


def bound_section(results):
    out = ["## What bound each point", ""]
    counts = results.bound_counts()
    if not counts:
        return out + [
            (
                "runs.csv does not record bound_by (a run from before the column): which side bound"
                " each point is unknown, so throughput is taken as measured (a run whose loadgen"
                " saturated says `loadgen-bound` in its status)."
            ),
            "",
        ]
    kinds = run_row.ordered({b for inner in counts.values() for b in inner}, run_row.KNOWN_BOUNDS)
    out += [
        (
            "Rows per mechanism and mode by what limited them: *server* (the server's CPU was the"
            " bottleneck: its throughput is a capacity), *loadgen* (the load generator saturated"
            " first), *latency* (a closed loop waiting on round trips: its throughput is a"
            " round-trip rate, not a capacity). Plots draw loadgen- and latency-bound points"
            " hollow; throughput judgements (the Gammo comparison) use server-bound points only."
        ),
        "",
        "| mechanism | mode | " + " | ".join(kinds) + " |",
        "|---|---|" + "---|" * len(kinds),
    ]
    modes, mechs = results.modes(), results.mechanisms()
    for (mech, mode), inner in sorted(
        counts.items(),
        key=lambda kv: (
            modes.index(kv[0][1]) if kv[0][1] in modes else 99,
            mechs.index(kv[0][0]) if kv[0][0] in mechs else 99,
        ),
    ):
        out.append(
            f"| {cell(mech)} | {cell(mode)} | "
            + " | ".join(str(inner.get(k, 0)) for k in kinds)
            + " |"
        )
    return out + [""]


def failures_section(results):
    counts = results.status_counts()
    total = len(results.runs)
    failed = sum(counts.values())
    out = [
        "## Failed points",
        "",
        (
            f"{failed} of {total} rows are not ok. A failed point is never plotted as a "
            "figure and never used by a verdict (select's refusals are the evidence of claim 1)."
        ),
        "",
    ]
    if counts:
        out += ["| mechanism | mode | status | rows |", "|---|---|---|---|"]
        for (mech, mode, status), n in sorted(counts.items()):
            out.append(f"| {cell(mech)} | {cell(mode)} | {cell(status)} | {n} |")
        out.append("")
    return out
