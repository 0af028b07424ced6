"""Write results/<run>/report.md: plots, the claims of docs/claims.md with verdicts, published
figures.

    python3 -m plot.report results/<run>        (from the muxbench root)

Stdlib only: the report is written even by a Python without matplotlib (the plots are then
missing and the report says how to draw them). Verdict rules live in rules.py, claims in claims.py.
"""

import argparse
import os
import sys


from plot import claims
from plot import compare
from plot import cross_check
from plot import hostile
from plot import idle_growth
from plot import rules
from plot import net_compare
from plot import projection
from plot.figure_list import FIGURES
from plot.markdown import cell
from harness.common.plotting_python import INSTALL_HINT, has_matplotlib
from plot import results_folder as rf
from plot.results_folder import ResultsFolder, scenario_label

# The figure a point is read by, per mode, besides server CPU per message (every mode).
from plot.results_folder import COST, HEADLINE
from plot.rules import fmt

# The report's own flags (drift, spread, the relay-floor target) are thresholds of rules.py.
from plot.rules import DRIFT_WARN_REL, RELAY_TARGET_RATIO, SPREAD_WARN_RATIO

FLOOR_NAMES = {
    rf.FLOOR: "floor (2 hops, no server)",
    rf.RELAY_FLOOR: "relay floor (4 hops, no multiplexer)",
}


def states_words(value):
    return rf.idle_states_words(value) if value else "not recorded"


def drift_rows(results):
    """(kind, idle_states, start p50, end p50, relative change) for every floor measured at both
    ends."""
    out = []
    for kind in rf.FLOOR_MODES:
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
        why = effect.get("why_not") or "no floor run was ok both without and with the request"
        return out + [f"What holding the request does was not measured in this run: {why}."]
    figures = [
        f"{name} by **×{effect[key + '_ratio']:.2f}** ({fmt(effect.get(key + '_without_us'))} →"
        f" {fmt(effect.get(key + '_with_us'))} µs)"
        for key, name in (("p50", "p50"), ("p99", "p99"))
        if effect.get(key + "_ratio") is not None
    ]
    rounds = len(effect.get("runs") or []) // 2
    out.append(
        "Measured at the start of the sweep: holding the request changed the 2-hop floor's"
        f" {' and its '.join(figures)} on this machine (without → with; median of {rounds}"
        f" interleaved {fmt(effect.get('window_s'))} s runs each, env.json `idle_states_effect`)."
    )
    return out


def warnings_lines(results):
    """Bold one-liners for the very top of the report: what may undermine every figure below."""
    out = []
    for kind, state, start, end, rel in drift_rows(results):
        if abs(rel) > DRIFT_WARN_REL:
            where = (
                f" with {rf.idle_states_words(state)}"
                if state and len(results.idle_states_values()) > 1
                else ""
            )
            out.append(
                "**Warning: the machine drifted during this run.** The"
                f" {FLOOR_NAMES[kind]}{where} went from {fmt(start)} µs (p50) at the start of the"
                f" sweep to {fmt(end)} µs at its end ({rel:+.0%}, beyond the report's"
                f" ±{DRIFT_WARN_REL:.0%}): differences of that size between points measured at"
                " different times may be the machine, not the mechanism."
            )
    env = idle_states_env(results)
    requested = env.get("requested") or []
    if env.get("held") is False and (rf.BLOCK in requested or env.get("why_not")):
        out.append(
            "**CPU idle states could not be blocked**:"
            f" {env.get('why_not') or 'no reason recorded'}. Every point was measured with the"
            " machine's own idle behaviour (idle_states = allow). Explanation, not measured: where"
            " the cpuidle driver halts idle CPUs, low-load latency and CPU per message then include"
            " waking them."
        )
    return [part for line in out for part in (line, "")]


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
        missing = [FLOOR_NAMES[k] for k in rf.FLOOR_MODES if not any(d[0] == k for d in drifts)]
        if missing:
            out += ["", "Not measured at both ends: " + ", ".join(missing) + "."]
    else:
        out.append(
            "Drift: not measurable, no floor was measured (ok) at both the start and the end of"
            " this run."
        )
    out.append("")
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
    return out + [""]


def median_at(series, x):
    return series.median(x) if x in series.xs() else None


def ratio_text(a, b):
    return f"×{fmt(b / a)}" if a and b else "–"


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
    if rf.BLOCK in values and rf.ALLOW in values:
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
                    b = median_at(results.series(mode, mech, metric, rf.BLOCK), x0)
                    a = median_at(results.series(mode, mech, metric, rf.ALLOW), x0)
                    cols += [fmt(b), fmt(a), ratio_text(b, a)]
                out.append(f"| {cell(mech)} | " + " | ".join(cols) + " |")
            placement = results.primary_scenario(mode)[1] or None
            for kind in rf.FLOOR_MODES:
                b = results.floor("p50_us", placement, kind, rf.BLOCK)
                a = results.floor("p50_us", placement, kind, rf.ALLOW)
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
    elif values:
        only = values[0]
        how = {
            rf.BLOCK: "blocked (`/dev/cpu_dma_latency` held at 0; what that did is above)",
            rf.ALLOW: "allowed (the machine's own idle behaviour)",
        }.get(only, only)
        out.append(
            f"This run measured every point with idle states {how} only; a `--idle-states"
            " block,allow` run measures both and shows here what the idle states cost."
        )
        placement = results.primary_scenario(mode)[1] or None if mode else None
        floors = [(k, results.floor("p50_us", placement, k, only)) for k in rf.FLOOR_MODES]
        floors = [(k, v) for k, v in floors if v is not None]
        if floors:
            out += [
                "",
                "Floors under this setting (p50, median of their runs): "
                + "; ".join(f"{FLOOR_NAMES[k]} {fmt(v)} µs" for k, v in floors)
                + ".",
            ]
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
    floor = results.floor("p50_us", placement, rf.FLOOR, state)
    relay = results.floor("p50_us", placement, rf.RELAY_FLOOR, state)
    out += [
        (
            f"pingpong p50 at {x0} idle ({scenario_label(scenario)}; median of repeats) as a"
            f" multiple of the {FLOOR_NAMES[rf.FLOOR]} ({fmt(floor)} µs) and of the"
            f" {FLOOR_NAMES[rf.RELAY_FLOOR]} ({fmt(relay) + ' µs' if relay else 'not measured'})."
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
    kinds = rf.ordered({b for inner in counts.values() for b in inner}, rf.KNOWN_BOUNDS)
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


def confounder_rows(results):
    """(label, text) rows for the machine settings that move these figures as much as a
    mechanism."""
    rows = []
    conf = results.raw_env.get("confounders")
    conf = conf if isinstance(conf, dict) else {}
    vulns = conf.get("vulnerabilities")
    if isinstance(vulns, dict) and vulns:
        groups = {"not affected": [], "mitigated": [], "vulnerable": [], "other": []}
        for name, text in sorted(vulns.items()):
            t = str(text or "")
            key = (
                "not affected"
                if t.startswith("Not affected")
                else (
                    "mitigated"
                    if t.startswith("Mitigation")
                    else "vulnerable"
                    if t.startswith("Vulnerable")
                    else "other"
                )
            )
            groups[key].append((name, t))
        summary = f"{len(vulns)} listed: " + ", ".join(
            f"{len(v)} {k}" for k, v in groups.items() if v
        )
        detail = [
            f"{n}: {t[:80]}" for k in ("vulnerable", "mitigated", "other") for n, t in groups[k]
        ]
        rows.append(
            ("CPU vulnerabilities", summary + (" — " + "; ".join(detail) if detail else ""))
        )
    if conf.get("mitigations_arg"):
        rows.append(("mitigations= (kernel command line)", conf["mitigations_arg"]))
    if conf:
        rows.append(
            (
                "cpufreq governor",
                conf.get("cpufreq_governor") or "none exposed (no cpufreq; usual on a VM)",
            )
        )
        if conf.get("cpufreq_driver"):
            rows.append(("cpufreq driver", conf["cpufreq_driver"]))
        if conf.get("no_turbo") not in (None, ""):
            rows.append(("intel_pstate no_turbo", conf["no_turbo"]))
        rows.append(("transparent huge pages", conf.get("thp") or "unknown"))
        rows.append(("clocksource", conf.get("clocksource") or "unknown"))
        iso = conf.get("isolation") if isinstance(conf.get("isolation"), dict) else {}
        rows.append(
            (
                "CPU isolation",
                ", ".join(f"{k}={v}" for k, v in iso.items() if v not in (None, ""))
                or "none (no isolcpus, nohz_full)",
            )
        )
        rows.append(("virtualization", conf.get("virtualization") or "unknown"))
    cpuidle = idle_states_env(results).get("cpuidle")
    if isinstance(cpuidle, dict):
        rows.append(
            (
                "cpuidle driver / governor",
                f"{cpuidle.get('driver') or 'none'} / {cpuidle.get('governor') or 'none'}",
            )
        )
        states = []
        for st in cpuidle.get("states") or []:
            if not isinstance(st, dict):
                continue
            text = (
                f"{st.get('name')} (exit {st.get('latency_us')} µs, residency"
                f" {st.get('residency_us')} µs"
            )
            states.append(text + (", disabled)" if st.get("disabled") else ")"))
        rows.append(("cpuidle states", "; ".join(states) or "none listed"))
    effect = idle_states_effect(results)
    if effect is not None:
        rows.append(
            (
                "PM QoS request can make idle CPUs poll",
                {True: "yes", False: "no"}.get(effect.get("request_can_poll"), "unknown"),
            )
        )
        ratios = [
            f"{key} ×{effect[key + '_ratio']:.2f}"
            for key in ("p50", "p99")
            if effect.get(key + "_ratio") is not None
        ]
        rows.append(
            (
                "floor with ÷ without the request (measured)",
                ", ".join(ratios) if effect.get("measured") and ratios else "not measured",
            )
        )
    env = idle_states_env(results)
    if env:
        held = env.get("held")
        rows.append(("idle states requested", ", ".join(env.get("requested") or []) or "–"))
        rows.append(
            (
                "idle states blocked (PM QoS held)",
                (
                    {True: "yes", False: "no", None: "not requested"}.get(held, held)
                    if held is not None or rf.BLOCK not in (env.get("requested") or [])
                    else "unknown"
                ),
            )
        )
    return rows


def machine_section(results):
    e = results.env
    keys = [
        ("cpu_model", "CPU"),
        ("cores", "cores"),
        ("kernel", "kernel"),
        ("rlimit_nofile", "RLIMIT_NOFILE"),
        ("compiler", "compiler"),
        ("flags", "flags"),
        ("placement", "placement"),
        ("server_cpu", "server CPU"),
        ("loadgen_cpu", "loadgen CPU"),
        ("hostname", "host"),
        ("started_utc", "started (UTC)"),
        ("sweep_duration_s", "sweep duration (s)"),
        ("git_commit", "git commit"),
    ]
    out = ["## The machine and the run", "", "| | |", "|---|---|"]
    for key, label in keys:
        if key in e and e[key] not in (None, ""):
            out.append(f"| {label} | {cell(e[key])} |")
    if not e:
        out.append("| env.json | missing: machine unknown |")
    extra = sorted(set(e) - {k for k, _ in keys} - {"command_line"})
    for key in extra:
        value = e[key]
        if isinstance(value, (str, int, float, bool)):
            out.append(f"| {cell(key)} | {cell(value)} |")
    confounders = confounder_rows(results)
    if confounders:
        out += [
            "",
            (
                "Machine settings that can move these figures (env.json `confounders`,"
                " `idle_states`). Explanation, not measured by this run: mitigations make every"
                " system call dearer, the frequency governor and the idle states change how fast a"
                " sleeping CPU answers, THP the cost of the holds' memory, the clocksource what a"
                " timestamp costs, isolation and virtualization who else runs on the measured CPUs."
            ),
            "",
            "| setting | value |",
            "|---|---|",
        ]
        out += [f"| {cell(label)} | {cell(value)} |" for label, value in confounders]
    command = e.get("command_line")
    if command:
        if isinstance(command, list):
            command = " ".join(str(c) for c in command)
        out += ["", "Command line:", "", "```", str(command), "```"]
    inputs = [
        f"runs.csv ({len(results.runs)} rows)",
        "micro.csv"
        + (f" ({len(results.micro)} rows)" if results.micro is not None else ": absent"),
        "probe.json" + (": present" if results.probe is not None else ": absent"),
        "env.json" + (": present" if results.env else ": absent"),
    ]
    out += ["", "Inputs: " + ", ".join(inputs) + "."]
    for note in results.notes:
        out.append(f"Note: {note}.")
    return out


def how_to_read(results=None):
    extra = []
    if results is not None and results.has_bound_by():
        extra.append(
            "- A hollow marker is a point bound by latency (a closed loop waiting on round trips)"
            " or by the loadgen, a filled one a server-bound point; only server-bound throughput is"
            " a capacity. The dotted lines on the throughput plot are each server's capacity, 10⁶ ÷"
            " its CPU µs per message."
        )
    if results is not None and len(results.idle_states_values()) > 1:
        extra.append(
            "- Idle states blocked and allowed are never joined in one curve: the plots give each"
            " setting a row of panels (blocked first), and the claims use the blocked points."
        )
    if results is not None and results.floor_rows(rf.RELAY_FLOOR):
        extra.append(
            "- The dash-dot line on pingpong latency panels is the *relay floor*: the same 4 hops"
            " and CPUs as a chat ping-pong, relayed by a blocking process instead of a multiplexer."
        )
    return (
        [
            "## How to read this",
            "",
            (
                "- Each *idle connection* is a real TCP connection the server must watch but that"
                " never sends. select and poll hand the kernel the whole watched set on every call;"
                " epoll registers each descriptor once (`epoll_ctl`) and asks only for the ready"
                " ones. So the x axis of the plots is the number of descriptors that select/poll"
                " must pass on every call and epoll need not; what they cost is what the claims"
                " below measure."
            ),
            (
                "- Lines are medians over repeats, shaded bands the min–max of the repeats: where"
                " bands overlap the difference is not established. A red × at the top of a plot is"
                " a point select refused (descriptor ≥ FD_SETSIZE); a hollow circle at the bottom"
                " is a point that failed for another reason (see *Failed points*)."
            ),
            (
                "- The dashed horizontal line on latency plots is the *floor*: two processes doing"
                " blocking send/recv over loopback, no chat server, no multiplexer (explanation,"
                " not measured: a chat ping-pong adds the server's hops to it, so no mechanism is"
                " expected below it)."
            ),
            (
                "- Each claim gets a verdict by a rule fixed in code before the run (see *How"
                " verdicts are decided*). *Inconclusive* is an honest outcome: the data did not"
                " decide, and the figures say why."
            ),
            (
                "- Micro-benchmarks (micro.csv) time one system call in isolation; the chat runs"
                " (runs.csv) show what that cost does to a real server. A claim about a system call"
                " is judged on both."
            ),
        ]
        + extra
        + [""]
    )


def completion_section(results):
    """Claim 11's regimes: where io_uring's completion model and epoll each win."""
    rows = claims.completion_regimes(results)
    if not rows:
        return []
    a, b = claims.COMPLETION, claims.COMPLETION_BASELINE
    out = [
        "## Where each I/O model wins (claim 11)",
        "",
        f"Medians over the repeats of each regime, {a} against {b}: system calls the server made"
        " per message delivered (`server_syscalls_per_msg`: every wait, recv, send, accept,"
        " epoll_ctl and io_uring_enter counted where it is made) beside the server CPU per"
        " message. A model *wins* a regime when its CPU per message is lower by more than"
        f" {rules.EQUIVALENCE_MARGIN:.0%}; ≈ within that. For information: the verdict is the"
        " pooled rule of claim 11.",
        "",
        f"| regime | syscalls/msg {a} | syscalls/msg {b} | CPU µs/msg {a} | CPU µs/msg {b} |"
        " CPU ratio | cheaper | repeats |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ratio = "–" if r["cpu_ratio"] is None else f"{r['cpu_ratio']:.2f}"
        out.append(
            f"| {r['regime']} | {fmt(r['calls_completion'])} | {fmt(r['calls_epoll'])} |"
            f" {fmt(r['cpu_completion'])} | {fmt(r['cpu_epoll'])} | {ratio} | {r['winner']} |"
            f" {r['repeats']} |"
        )
    return out + [""]


# The words of the figures idle_growth compares (churn counts connections, not messages).
FIGURE_WORDS = {
    "p50_us": "p50 latency (µs)",
    "throughput_msgs_s": "throughput (msg/s)",
    "conns_per_s": "connections opened and closed per s",
    COST: "server CPU per message (µs)",
}


def figure_words(c):
    if c.metric == COST and c.mode == "churn":
        return "server CPU per connection (µs)"
    return FIGURE_WORDS.get(c.metric, f"`{c.metric}`")


def medians_text(c, which):
    """The median of one count; over several regimes, the range of their medians."""
    values = [pair[which] for pair in c.medians.values()]
    if len(values) == 1:
        return fmt(values[0])
    return f"{fmt(min(values))} … {fmt(max(values))} ({len(values)} regimes)"


def idle_growth_table(comparisons):
    out = [
        "| mechanism | mode | figure | median at 0 idle | median at the largest count |"
        " cost ratio (95% CI) | fewest ok repeats (0 / largest) |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in comparisons:
        r = c.cost
        out.append(
            f"| {c.mechanism} | {c.mode} | {figure_words(c)} | {medians_text(c, 0)} |"
            f" {fmt(c.largest)} idle: {medians_text(c, 1)} | {r.ratio:.2f}"
            f" ({r.low:.2f} … {r.high:.2f}) | {c.repeats[0]} / {c.repeats[1]} |"
        )
    return out + [""]


def absent_words(growth):
    measured = {c.mechanism for c in growth.comparisons}
    absent = [m for m in growth.registry.flat if m not in measured]
    return f" (not in this run: {', '.join(absent)})" if absent else ""


def idle_growth_section(growth):
    """Costs that grow with idle connections in mechanisms whose model predicts none."""
    m = rules.IDLE_GROWTH_MARGIN
    out = ["## Costs that grow with idle connections", ""]
    reg = growth.registry
    if reg.problem:
        return out + [
            f"Not checked: the mechanism registry could not be read ({cell(reg.problem)}), so this"
            " report does not know which mechanisms' models predict a cost independent of idle"
            " connections.",
            "",
        ]
    out += [
        "The mechanisms whose model predicts a cost that does not depend on idle descriptors"
        " (`cost_independent_of_idle` in the registry, read from"
        f" `{reg.source} --list-mechanisms`): {', '.join(reg.flat) or 'none'}"
        f"{absent_words(growth)}."
        " Each one this run measured is compared, in every mode, at the run's largest idle count"
        " against 0 idle, on the mode's headline figure and on the"
        " server CPU per message (per connection under churn). The figure is the cost ratio, cost"
        " at the largest count ÷ cost at 0 (for a rate, cost = 1 ÷ rate: a ratio of 2 is half the"
        f" rate), with the {rules.CONFIDENCE:.0%} interval of the claims' rule (`rules.CostRatio`;"
        " repeats paired by repeat number, regimes as its points).",
        "",
        f"Rule (margin {m:.0%}, `rules.IDLE_GROWTH_MARGIN`): a **finding** when the whole interval"
        f" lies above {1 + m:.2f}; **possible, not established** when the estimate is above"
        f" {1 + m:.2f} but the interval reaches below it; otherwise within the margin. The model"
        " predicts no growth, so a finding points at our server's code (some step that costs in"
        " proportion to the idle connections); that is an explanation, the run measures only the"
        " growth.",
        "",
    ]
    findings = growth.of(rules.IDLE_GROWTH_FINDING)
    possible = growth.of(rules.IDLE_GROWTH_POSSIBLE)
    within = growth.of(rules.IDLE_GROWTH_WITHIN)
    compared = len(findings) + len(possible) + len(within)
    # "None" only means something when something was compared: a run whose pairs were all left
    # out can neither show such a cost nor rule it out, and says so instead.
    empty = (
        f"None, among {compared} comparison(s)."
        if compared
        else "Undecided: no pair could be compared (see below), so this run neither shows nor rules"
        " out such a cost."
    )
    out += ["**Findings** (whole interval above the margin):", ""]
    out += idle_growth_table(findings) if findings else [empty, ""]
    out += ["**Possible, not established** (estimate above the margin, interval not):", ""]
    out += idle_growth_table(possible) if possible else [empty, ""]
    if within:
        out += ["Within the margin:", ""] + idle_growth_table(within)
    out += idle_growth_not_compared(growth)
    return out


def idle_growth_not_compared(growth):
    rows = growth.of(rules.IDLE_GROWTH_NOT_COMPARED)
    out = ["**Not compared:**" + (" none." if not rows and not growth.skipped_modes else ""), ""]
    for c in rows:
        medians = (
            f" For information (never a finding): median {medians_text(c, 0)} at 0 idle,"
            f" {medians_text(c, 1)} at {fmt(c.largest)}."
            if c.medians
            else ""
        )
        out.append(f"- {c.mechanism}, {c.mode}, {figure_words(c)}: {cell(c.reason)}.{medians}")
    for mode, why in growth.skipped_modes:
        out.append(f"- mode {mode}: {why}.")
    return out + ([""] if rows or growth.skipped_modes else [])


def claims_section(evaluated):
    out = [
        "## The claims",
        "",
        "| # | claim | verdict | figures behind it | why |",
        "|---|---|---|---|---|",
    ]
    for c in evaluated:
        figures = "<br>".join(cell(f) for f in c.figures) or "–"
        out.append(
            f"| {c.number} | {cell(c.text)} | **{c.verdict}** | {figures} | {cell(c.explanation)} |"
        )
    counts = {
        v: sum(1 for c in evaluated if c.verdict == v)
        for v in (rules.CONFIRMED, rules.REFUTED, rules.INCONCLUSIVE)
    }
    out += ["", "Summary: " + ", ".join(f"{n} {v}" for v, n in counts.items()) + ".", ""]
    c9 = next(c for c in evaluated if c.number == 9)
    out += [
        (
            "Claim 9 cannot be seen by timing: an mmap'ed ring and a copy both take time per"
            " event. The evidence used is (a) `mux-probe`: it tries to mmap an epoll descriptor (a"
            " shared ring would need one) and calls epoll_wait with a read-only events buffer (a"
            " copy to user memory then faults with EFAULT); (b) the micro-benchmark of epoll_wait"
            " with a fixed watched set and a growing number of ready descriptors — a fixed cost"
            " per ready event is what a copy per event predicts; and (c) the kernel source, cited,"
            f" not measured: {c9.evidence}"
        ),
        "",
    ]
    out += [
        (
            "Claims 5 and 6 are behaviours, not timings: their evidence is `probe.json`, written by"
            " `mux-probe`, which makes a descriptor ready, does not service it, and waits again"
            " (and, for edge-triggered epoll, waits a second time without new data, then with new"
            " data)."
        ),
        "",
    ]
    return out


def throughput_bound_note(results):
    """Under the throughput plot: which of its points are capacities (server-bound), when
    recorded."""
    modes = [
        m
        for m in results.modes()
        if m != "churn" and results.has_bound_by(results.scenario_runs(m))
    ]
    if not modes:
        return []
    rows = [r for m in modes for r in results.scenario_runs(m) if r.ok and r.bound_by]
    server = sum(1 for r in rows if r.bound_by == rf.BOUND_SERVER)
    if server == 0:
        return [
            (
                "No point of this plot was server-bound (bound_by): every throughput here is a"
                " round-trip rate, not the server's capacity; read the dotted capacity lines (10⁶ ÷"
                " server CPU per message) for that."
            ),
            "",
        ]
    return [
        (
            f"{server} of {len(rows)} plotted rows were server-bound (filled markers): only those"
            " are capacities; hollow markers are round-trip rates (latency-bound) or the loadgen's"
            " limit."
        ),
        "",
    ]


def plots_section(results):
    out = ["## Plots", ""]
    drawn = False
    for stem, title, text in FIGURES:
        png = os.path.join(results.path, f"{stem}.png")
        if os.path.isfile(png):
            drawn = True
            out += [
                f"### {title}",
                "",
                f"![{title}]({stem}.png)",
                "",
                f"{text} ([SVG]({stem}.svg))",
                "",
            ]
            if stem == "throughput":
                out += throughput_bound_note(results)
    if not drawn:
        out += [
            (
                f"No plot found in this folder: run `/usr/bin/python3 -m plot.plot {results.path}` "
                "from the muxbench root (needs python3-matplotlib) and then this script again."
            ),
            "",
        ]
    others = results.other_scenarios()
    if others:
        out += [
            "Scenarios in runs.csv not plotted (each mode's most measured scenario is plotted and"
            " judged): " + "; ".join(scenario_label(s) for s in others) + ".",
            "",
        ]
    return out


def anchors_section(results, anchors):
    out = [
        "## Our figures beside the published ones",
        "",
        (
            "Different decades, machines and workloads: what should agree is the *shape* (which"
            " mechanism grows with N, which stays flat) and, loosely, the order of magnitude. The"
            " rules are in the next section."
        ),
        "",
        "### Wait-call cost against watched descriptors",
        "",
    ]
    out += compare.kerrisk(results, anchors) + [""]
    out += ["### Throughput lost to idle connections", ""] + compare.gammo(results, anchors) + [""]
    out += (
        ["### Gap to epoll in an event-passing benchmark", ""]
        + compare.coroio(results, anchors)
        + [""]
    )
    g = anchors["gammo2004"]
    out += [
        f"For claim 10: profiling their server at {g['profile_rate_req_s']:,} req/s, Gammo et al."
        " found these shares of the time: "
        + ", ".join(f"{k} {v:.2%}" for k, v in g["profile_share"].items())
        + ". Their reading, not measured here: registration costs epoll about what scanning costs"
        " select and poll, epoll's weak point under churn. Compare with claim 10's figures above.",
        "",
    ]
    return out


def rules_section():
    out = [
        "## How verdicts are decided",
        "",
        (
            "Fixed in `plot/rules.py` (thresholds) and `plot/claims.py` (which evidence each claim"
            " uses); never tuned to a run."
        ),
        "",
    ]
    for paragraph in rules.rules_text():
        if paragraph.startswith("**"):
            out.append("")
        out.append(paragraph)
    out += [
        "",
        (
            "The cost claims (2, 4, 8) use server CPU per message from runs.csv in the first of"
            f" {', '.join(claims.COST_MODES)} that was measured (ping-pong makes about one wait"
            " call per message, so the scan is not divided among many messages), and the one-call"
            " timings of micro.csv (one descriptor ready, every repetition). Their shapes are read"
            " as the cost each watched descriptor adds (plot *Cost per watched descriptor*): a"
            " line fitted over a series that bends would report an average slope that no count"
            " has."
        ),
        "",
    ]
    return out


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


def build(folder, bin_dir=None):
    """bin_dir: where a chat-* server lists the mechanism registry (idle_growth.bin_dirs)."""
    results = ResultsFolder(folder)
    anchors = claims.load_anchors()
    evaluated = claims.evaluate(results, anchors)
    name = os.path.basename(results.path.rstrip("/"))
    lines = [f"# muxbench report — {name}", ""]
    lines += warnings_lines(results)
    lines += [
        (
            "select, poll and epoll chat servers measured with thousands of idle connections; each"
            " teaching claim of the spec gets a verdict from fixed rules. Generated by"
            " `plot/report.py`; do not edit by hand."
        ),
        "",
    ]
    lines += drift_and_spread_section(results)
    lines += machine_section(results) + [""]
    lines += idle_states_section(results)
    lines += floors_section(results)
    lines += bound_section(results)
    lines += how_to_read(results)
    lines += claims_section(evaluated)
    lines += completion_section(results)
    lines += idle_growth_section(idle_growth.evaluate_folder(results, bin_dir))
    lines += hostile.section(results)
    lines += net_compare.report_lines(results)
    lines += plots_section(results)
    lines += projection.section(results)
    lines += cross_check.section(results)
    lines += anchors_section(results, anchors)
    lines += rules_section()
    lines += failures_section(results)
    sources = [anchors[k]["source"] for k in ("kerrisk2006", "gammo2004", "coroio_libevent_bench")]
    lines += (
        ["## Sources", ""]
        + [f"- {s}" for s in sources]
        + [
            (
                "- Linux kernel source, `fs/eventpoll.c` (`epoll_put_uevent`, `__put_user`), for"
                " claim 9."
            ),
            "",
        ]
    )
    return results, evaluated, "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(
        description="Write report.md (claims, verdicts, plots) into a bench results folder."
    )
    parser.add_argument(
        "folder",
        help="a results/<run>/ folder holding runs.csv (and env.json, micro.csv, probe.json)",
    )
    parser.add_argument(
        "--bin",
        help="a build's bin directory whose chat-* servers list the mechanism registry (default:"
        " $MUXBENCH_BIN, this checkout's build/bin, then the run's own servers)",
    )
    args = parser.parse_args()
    results, evaluated, text = build(args.folder, args.bin)
    path = os.path.join(results.path, "report.md")
    with open(path, "w") as f:
        f.write(text)
    if not has_matplotlib() and not any(
        os.path.isfile(os.path.join(results.path, f"{s}.png")) for s, _, _ in FIGURES
    ):
        print(f"report.py: matplotlib missing, so no plots: {INSTALL_HINT}", file=sys.stderr)
    print(path)
    for c in evaluated:
        print(f"claim {c.number}: {c.verdict}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
