"""Claim 11: io_uring's completion model against epoll, regime by regime (system calls and
server CPU per message)."""

import statistics

from plot import rules
from plot.rules import CONFIRMED, INCONCLUSIVE, REFUTED
from plot.results_folder import COST_MEASURED, number
from plot.claim_common import COST_METRIC, Claim, decided_lines, idle_of


# Claim 11: io_uring's completion model (recv/send submitted as requests, batched into one
# io_uring_enter) against the epoll every tutorial teaches (level-triggered, chat-epoll's default).
COMPLETION = "uring-completion"


COMPLETION_BASELINE = "epoll-lt"


SYSCALL_METRIC = "server_syscalls_per_msg"


def regime(run):
    """(mode, active, size, idle): what claim 11 calls a regime. Placement, rate and idle states
    are held fixed by regime_points."""
    return (run.mode, run.text("active"), run.text("size"), run.idle)


def regime_points(results, mechanism, metric):
    """{regime: [(repeat, value), ...]} over every scenario a sweep ran (--active-counts,
    --sizes), not only each mode's primary one, in the primary scenario's placement and idle
    states; churn is left out (it measures connections, not messages)."""
    points = {}
    for r in results.runs:
        if r.is_floor or r.mode == "churn" or r.mechanism != mechanism:
            continue
        if r.status not in COST_MEASURED:
            continue
        primary = results.primary_scenario(r.mode)
        if primary is None or (r.scenario[1], r.scenario[5]) != (primary[1], primary[5]):
            continue
        value = r.metric(metric)
        if value is not None:
            points.setdefault(regime(r), []).append((r.repeat, value))
    return dict(
        sorted(
            points.items(),
            key=lambda kv: (kv[0][0], number(kv[0][1]) or 0, number(kv[0][2]) or 0, kv[0][3]),
        )
    )


def regime_label(point):
    mode, active, size, idle = point
    return f"{mode} active={active or '–'} size={size or '–'} idle={idle}"


def completion_regimes(results):
    """Per regime measured for both: medians of system calls and server CPU per message of
    uring-completion and epoll-lt, their CPU ratio, and who wins there (beyond ±
    EQUIVALENCE_MARGIN, for information: the verdict is claim 11's pooled rule)."""
    rows = []
    calls = {
        m: regime_points(results, m, SYSCALL_METRIC) for m in (COMPLETION, COMPLETION_BASELINE)
    }
    cpu = {m: regime_points(results, m, COST_METRIC) for m in (COMPLETION, COMPLETION_BASELINE)}
    for point in cpu[COMPLETION]:
        if point not in cpu[COMPLETION_BASELINE]:
            continue

        def med(table, mech):
            values = [v for _, v in table[mech].get(point, [])]
            return statistics.median(values) if values else None

        a, b = med(cpu, COMPLETION), med(cpu, COMPLETION_BASELINE)
        ratio = a / b if a and b else None
        m = rules.EQUIVALENCE_MARGIN
        winner = (
            "–"
            if ratio is None
            else COMPLETION
            if ratio < 1 - m
            else COMPLETION_BASELINE
            if ratio > 1 + m
            else "≈"
        )
        rows.append(
            {
                "regime": regime_label(point),
                "point": point,
                "calls_completion": med(calls, COMPLETION),
                "calls_epoll": med(calls, COMPLETION_BASELINE),
                "cpu_completion": a,
                "cpu_epoll": b,
                "cpu_ratio": ratio,
                "winner": winner,
                "repeats": min(len(cpu[COMPLETION][point]), len(cpu[COMPLETION_BASELINE][point])),
            }
        )
    return rows


def regime_summary(regimes, winner):
    """Where `winner` won, grouped by mode, active and size: "pingpong active=2 size=64 (idle
    0–10000, 7 of 7)"."""
    groups, totals = {}, {}
    for r in regimes:
        key = r["point"][:3]
        totals[key] = totals.get(key, 0) + 1
        if r["winner"] == winner:
            groups.setdefault(key, []).append(r["point"][3])
    parts = []
    for (mode, active, size), idles in groups.items():
        span = f"{min(idles)}" if len(idles) == 1 else f"{min(idles)}–{max(idles)}"
        parts.append(
            f"{mode} active={active or '–'} size={size or '–'} (idle {span},"
            f" {len(idles)} of {totals[(mode, active, size)]})"
        )
    return ", ".join(parts) or "no regime"


def completion_verdict(calls, cpu, where):
    """Claim 11's verdict and why, from the two CostRatios (system calls, then CPU per message);
    where: the regimes each model won, appended to the why."""
    a, b = COMPLETION, COMPLETION_BASELINE
    m = f"{rules.EQUIVALENCE_MARGIN:.0%}"
    if calls.decided and calls.outcome != rules.CHEAPER:
        verdict = REFUTED
        why = (
            f"{a} did not make fewer system calls per message than {b} by more than {m}"
            f" ({calls.outcome}). Explanation, not measured by this run: with one message in"
            " flight per wake-up there is nothing to batch." + where
        )
    elif calls.outcome == rules.CHEAPER and cpu.decided and cpu.outcome != rules.CHEAPER:
        verdict = REFUTED
        why = (
            f"{a} made fewer system calls per message, but the server was not cheaper by more"
            f" than {m} ({cpu.outcome}). Explanation, not measured by this run: the calls saved"
            " cost less than the work the kernel does for each request either way (the TCP"
            " stack, the copies, the wake-ups)." + where
        )
    elif calls.outcome == rules.CHEAPER and cpu.outcome == rules.CHEAPER:
        verdict = CONFIRMED
        why = (
            f"{a} made fewer system calls per message and its server CPU per message was lower by"
            f" more than {m}, at {rules.CONFIDENCE:.0%} confidence over every point." + where
        )
    else:
        verdict = INCONCLUSIVE
        undecided = calls if calls.outcome != rules.CHEAPER else cpu
        why = (
            f"With fewer than {rules.MIN_REPEATS_COMPARE} repeats per point noise alone could"
            " pick the winner."
            if undecided.outcome == rules.TOO_FEW_REPEATS
            else "The interval is too wide to decide (more repeats or points would narrow it)."
        ) + where
    return verdict, why


def claim11(results):
    a, b = COMPLETION, COMPLETION_BASELINE
    calls = rules.CostRatio(
        regime_points(results, a, SYSCALL_METRIC),
        regime_points(results, b, SYSCALL_METRIC),
        instance=idle_of,
    )
    cpu = rules.CostRatio(
        regime_points(results, a, COST_METRIC),
        regime_points(results, b, COST_METRIC),
        instance=idle_of,
    )
    if calls.compared == 0 and cpu.compared == 0:
        return Claim(
            11,
            INCONCLUSIVE,
            [
                f"runs.csv: {a} and {b} were not both measured at any point (or without"
                f" {SYSCALL_METRIC}: a build before the system-call counters)"
            ],
            "Nothing to compare.",
        )
    figures = [
        "runs.csv, server system calls per message, every mode but churn, every active count and"
        " size: " + calls.describe(a, b, "system calls"),
        "runs.csv, server CPU per message, same points: " + cpu.describe(a, b),
    ]
    regimes = completion_regimes(results)
    if regimes:
        counts = {w: sum(1 for r in regimes if r["winner"] == w) for w in (a, b, "≈")}
        figures.append(
            "regimes won (ratio of medians, information): "
            + "; ".join(f"{w}: {n}" for w, n in counts.items())
            + " (table: *Where each I/O model wins*)"
        )
    where = (
        f" {a} was cheaper at {regime_summary(regimes, a)}; {b} at"
        f" {regime_summary(regimes, b)}."
        if regimes
        else ""
    )
    verdict, why = completion_verdict(calls, cpu, where)
    # The headline is the comparison that decided: the calls, or the CPU once the calls are fewer.
    headline = figures[1] if calls.outcome == rules.CHEAPER else figures[0]
    return Claim(11, verdict, figures + decided_lines(results, 11), why, headline=headline)
