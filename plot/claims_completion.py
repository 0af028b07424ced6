"""Claim 11: io_uring's completion model against epoll, regime by regime (system calls and
server CPU per message)."""

import statistics
from dataclasses import dataclass
from typing import Optional

from plot import rules
from plot.rules import CONFIRMED, INCONCLUSIVE, REFUTED
from plot.results_folder import COST_MEASURED, number
from plot.claim_common import (
    COST_METRIC,
    NOT_COMPARED,
    UntilDecided,
    idle_of,
    until_decided,
)


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
            NO_RATIO
            if ratio is None
            else COMPLETION
            if ratio < 1 - m
            else COMPLETION_BASELINE
            if ratio > 1 + m
            else TIE
        )
        rows.append(
            {
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


def regimes_won(regimes, winner):
    """Where `winner` won, grouped by mode, active and size: [((mode, active, size), [idle counts
    won], regimes measured in that group)]."""
    groups, totals = {}, {}
    for r in regimes:
        key = r["point"][:3]
        totals[key] = totals.get(key, 0) + 1
        if r["winner"] == winner:
            groups.setdefault(key, []).append(r["point"][3])
    return [(key, idles, totals[key]) for key, idles in groups.items()]


TIE = "≈"  # a regime where neither model won beyond the margin
NO_RATIO = "–"  # a regime where either median was missing or zero


# How claim 11 was decided, from its two CostRatios (system calls, then CPU per message).
CALLS_NOT_FEWER = "calls not fewer"  # refuted: no fewer system calls beyond the margin
CPU_NOT_LOWER = "cpu not lower"  # refuted: fewer calls, but the server not cheaper
BOTH_LOWER = "both lower"  # confirmed
TOO_FEW = "too few repeats"  # inconclusive: the undecided ratio had too few repeats
TOO_WIDE = "too wide"  # inconclusive: the undecided ratio's interval straddles the edge


def completion_outcome(calls, cpu):
    """(verdict, one of the outcomes above)."""
    if calls.decided and calls.outcome != rules.CHEAPER:
        return REFUTED, CALLS_NOT_FEWER
    if calls.outcome == rules.CHEAPER and cpu.decided and cpu.outcome != rules.CHEAPER:
        return REFUTED, CPU_NOT_LOWER
    if calls.outcome == rules.CHEAPER and cpu.outcome == rules.CHEAPER:
        return CONFIRMED, BOTH_LOWER
    undecided = calls if calls.outcome != rules.CHEAPER else cpu
    return INCONCLUSIVE, TOO_FEW if undecided.outcome == rules.TOO_FEW_REPEATS else TOO_WIDE


@dataclass(frozen=True)
class CompletionAgainstEpoll:
    """Claim 11: system calls and server CPU per message of COMPLETION against
    COMPLETION_BASELINE over every regime both measured (outcome NOT_COMPARED when none), the
    regimes each won by the ratio of medians (information), and how measuring until decided
    went."""

    verdict: str
    outcome: str
    calls: rules.CostRatio
    cpu: rules.CostRatio
    regimes: tuple = ()
    until_decided: Optional[UntilDecided] = None

    def won(self, winner):
        return regimes_won(self.regimes, winner)

    def wins(self):
        """{winner: regimes won} for COMPLETION, COMPLETION_BASELINE and TIE."""
        return {
            w: sum(1 for r in self.regimes if r["winner"] == w)
            for w in (COMPLETION, COMPLETION_BASELINE, TIE)
        }


def completion_ratios(results):
    """(system calls, server CPU) CostRatios of COMPLETION against COMPLETION_BASELINE, every
    regime pooled; system calls with their own smaller sitting term (SITTING_LOG_SD_CALLS)."""
    a, b = COMPLETION, COMPLETION_BASELINE
    return tuple(
        rules.CostRatio(
            regime_points(results, a, metric),
            regime_points(results, b, metric),
            instance=idle_of,
            sitting_sd=sitting,
        )
        for metric, sitting in (
            (SYSCALL_METRIC, rules.SITTING_LOG_SD_CALLS),
            (COST_METRIC, rules.SITTING_LOG_SD),
        )
    )


def evaluate_claim11(results):
    calls, cpu = completion_ratios(results)
    if calls.compared == 0 and cpu.compared == 0:
        return CompletionAgainstEpoll(INCONCLUSIVE, NOT_COMPARED, calls, cpu)
    verdict, outcome = completion_outcome(calls, cpu)
    regimes = tuple(completion_regimes(results))
    return CompletionAgainstEpoll(verdict, outcome, calls, cpu, regimes, until_decided(results, 11))
