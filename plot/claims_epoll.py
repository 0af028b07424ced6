"""Claims 7, 9 and 10: edge- against level-triggered epoll, what epoll copies, and what
registration (epoll_ctl) costs under connection churn."""

import statistics
from dataclasses import dataclass
from typing import Optional

from plot import rules
from plot.rules import CONFIRMED, INCONCLUSIVE, REFUTED
from plot.results_folder import number
from plot.claim_common import (
    EPOLLS,
    NOT_COMPARED,
    Cheaper,
    UntilDecided,
    cheaper_than,
    until_decided,
)
from plot.claims_shape import micro_ready_fit, micro_wait_fit


@dataclass(frozen=True)
class EdgeAgainstLevel:
    """Claim 7: epoll-et against epoll-lt on server CPU per message. outcome: the CostRatio's, or
    NOT_COMPARED when the two were not both measured at any point."""

    verdict: str
    outcome: str
    cheaper: Cheaper
    until_decided: Optional[UntilDecided]


def evaluate_claim7(results):
    cheaper = cheaper_than(results, "epoll-et", "epoll-lt")
    if cheaper.ratio.compared == 0:
        return EdgeAgainstLevel(INCONCLUSIVE, NOT_COMPARED, cheaper, None)
    ratio = cheaper.ratio
    return EdgeAgainstLevel(ratio.verdict, ratio.outcome, cheaper, until_decided(results, 7))


@dataclass(frozen=True)
class ReadyTiming:
    """micro.csv: one epoll's wait call against the ready count at a fixed watched count. fit None:
    no `ready` rows for it."""

    mechanism: str
    watched: object = None
    fit: Optional[rules.Fit] = None
    verdict: Optional[str] = None


def copy_timing_evidence(results):
    """Claim 9 from micro.csv: does one epoll_wait's cost grow with the ready events (a cost per
    event, as a copy per event predicts)? A ReadyTiming per epoll, () when micro.csv is absent."""
    timings = []
    for mech in EPOLLS if results.micro is not None else []:
        watched, fit = micro_ready_fit(results, mech)
        if fit is None:
            timings.append(ReadyTiming(mech))
            continue
        grows = fit.shape in (rules.GROWS, rules.GROWS_LINEAR)
        timings.append(ReadyTiming(mech, watched, fit, REFUTED if grows else INCONCLUSIVE))
    return tuple(timings)


@dataclass(frozen=True)
class CopyProbe:
    """Claim 9 from probe.json: mmap of an epoll descriptor ("mapped" or its errno), epoll_wait
    into a read-only buffer (its errno), io_uring's rings for contrast; None: not probed."""

    mapped: Optional[str]
    readonly: Optional[str]
    io_uring_mapped: Optional[bool]

    @property
    def verdicts(self):
        out = []
        if self.mapped:
            out.append(CONFIRMED if self.mapped == "mapped" else REFUTED)
        if self.readonly == "EFAULT":
            out.append(REFUTED)
        return out


def copy_probe_evidence(results):
    probe = results.probe or {}

    def text(key):
        value = probe.get(key)
        return value if isinstance(value, str) and value else None

    return CopyProbe(
        text("epoll_fd_mmap_errno"),
        text("epoll_wait_readonly_buffer_errno"),
        probe.get("io_uring_fd_mmap_ok"),
    )


@dataclass(frozen=True)
class EpollCopies:
    """Claim 9: the timing of ready events, the probe, and the kernel fact cited (anchors.json)."""

    verdict: str
    micro_measured: bool
    timings: tuple
    probe: CopyProbe
    probed: bool
    kernel_fact: str


def evaluate_claim9(results, anchors):
    timings = copy_timing_evidence(results)
    probe = copy_probe_evidence(results)
    verdicts = [t.verdict for t in timings if t.verdict is not None] + probe.verdicts
    return EpollCopies(
        rules.combine(verdicts),
        results.micro is not None,
        timings,
        probe,
        results.probe is not None,
        anchors["kernel_facts"]["epoll_copies"],
    )


@dataclass(frozen=True)
class RegistrationTimed:
    """Claim 10 from micro.csv: ns per epoll_ctl call by operation (median over watched counts),
    and add + del against one epoll_wait call at the smallest watched count (ratio None when
    either was not timed)."""

    micro_measured: bool
    ctl: dict
    wait_watched: object = None
    wait_ns: object = None
    ratio: object = None
    verdict: Optional[str] = None


def registration_timed(results):
    if results.micro is None:
        return RegistrationTimed(False, {})
    ctl = {}
    for op in ("add", "mod", "del"):
        rows = results.micro_rows("ctl", f"epoll-ctl-{op}")
        if rows:
            ctl[op] = statistics.median(number(m["ns_per_call_median"]) for m in rows)
    _, wait_fit = micro_wait_fit(results, "epoll-lt")
    wait_series = wait_fit.series if wait_fit is not None else None
    if "add" not in ctl or "del" not in ctl or wait_series is None or not wait_series.xs():
        return RegistrationTimed(True, ctl)
    x0 = wait_series.xs()[0]
    wait_ns = wait_series.median(x0)
    ratio = (ctl["add"] + ctl["del"]) / wait_ns
    if ratio >= rules.CTL_MATTERS_RATIO:
        verdict = CONFIRMED
    elif ratio <= rules.CTL_NEGLIGIBLE_RATIO:
        verdict = REFUTED
    else:
        verdict = INCONCLUSIVE
    return RegistrationTimed(True, ctl, x0, wait_ns, ratio, verdict)


@dataclass(frozen=True)
class ChurnRate:
    """One mechanism under churn at its smallest idle count: median connections per second, and
    (for an epoll) median epoll_ctl calls per connection, None when not counted."""

    mechanism: str
    idle: object
    conns_per_s: float
    ctl_per_conn: Optional[float]


@dataclass(frozen=True)
class ChurnRace:
    """poll against epoll-lt under churn, time per connection (CostRatio paired by repeat)."""

    idle: object
    ratio: rules.CostRatio

    @property
    def verdict(self):
        return CONFIRMED if self.ratio.outcome == rules.CHEAPER else INCONCLUSIVE


def churn_rate(results, churn, mech):
    s = results.series("churn", mech, "conns_per_s")
    if not s.xs():
        return None
    x0 = s.xs()[0]
    ctl_per_conn = [
        r.get("server_ctl_calls") / (r.get("conns_per_s") * (r.get("duration_s") or 1))
        for r in churn
        if r.mechanism == mech
        and r.idle == x0
        and r.get("server_ctl_calls") is not None
        and r.get("conns_per_s")
    ]
    per_conn = (
        statistics.median(ctl_per_conn) if ctl_per_conn and mech.startswith("epoll") else None
    )
    return ChurnRate(mech, x0, statistics.median(s.values_at(x0)), per_conn)


def registration_under_churn(results):
    """Claim 10 from runs.csv's churn rows: (whether any ok churn row, a ChurnRate per mechanism,
    the ChurnRace of poll against epoll-lt or None)."""
    churn = [
        r for r in results.runs if r.mode == "churn" and r.ok and r.get("conns_per_s") is not None
    ]
    if not churn:
        return False, (), None
    rates = [churn_rate(results, churn, mech) for mech in results.mechanisms(churn)]
    rates = tuple(r for r in rates if r is not None)
    return True, rates, churn_registration(results, {r.mechanism: r.idle for r in rates})


@dataclass(frozen=True)
class Registration:
    """Claim 10: epoll_ctl timed alone, and connection churn."""

    verdict: str
    timed: RegistrationTimed
    churned: bool
    rates: tuple
    race: Optional[ChurnRace]
    any_micro_rows: bool
    until_decided: Optional[UntilDecided]


def evaluate_claim10(results):
    timed = registration_timed(results)
    churned, rates, race = registration_under_churn(results)
    verdicts = [v for v in (timed.verdict, race.verdict if race else None) if v is not None]
    return Registration(
        rules.combine(verdicts),
        timed,
        churned,
        rates,
        race,
        bool(results.micro),
        until_decided(results, 10) if churned else None,
    )


def churn_points(results, mechanism, idle):
    """{("churn", idle): [(repeat, seconds per connection)]}: churn's cost, the inverse of its
    rate, so that the rule of claim 7 ("cheaper") reads "opens and closes faster"."""
    values = [
        (r.repeat, 1.0 / r.get("conns_per_s"))
        for r in results.scenario_runs("churn")
        if r.mechanism == mechanism and r.idle == idle and r.ok and r.get("conns_per_s")
    ]
    return {("churn", idle): values} if values else {}


def churn_registration(results, idle_of_mech):
    """The churn half of claim 10: poll against epoll-lt at the smallest idle count (where poll's
    scan costs nothing, so registration is what differs), by CostRatio paired by repeat. None when
    either was not measured there."""
    x0 = idle_of_mech.get("epoll-lt")
    if x0 is None or "poll" not in idle_of_mech or idle_of_mech["poll"] != x0:
        return None
    ratio = rules.CostRatio(
        churn_points(results, "poll", x0), churn_points(results, "epoll-lt", x0)
    )
    return ChurnRace(x0, ratio)
