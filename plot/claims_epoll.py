"""Claims 7, 9 and 10: edge- against level-triggered epoll, what epoll copies, and what
registration (epoll_ctl) costs under connection churn."""

import statistics
from dataclasses import dataclass
from typing import Optional

from plot import rules
from plot.rules import CONFIRMED, INCONCLUSIVE, REFUTED, fmt
from plot.results_folder import number
from plot.claim_common import (
    EPOLLS,
    NOT_COMPARED,
    Cheaper,
    Claim,
    UntilDecided,
    cheaper_than,
    decided_lines,
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


def copy_timing_evidence(results):
    """Claim 9 from micro.csv: does one epoll_wait's cost grow with the ready events (a cost per
    event, as a copy per event predicts)? Returns (figures, verdicts)."""
    figures, verdicts = [], []
    if results.micro is None:
        figures.append("micro.csv absent: the per-ready-event cost was not timed")
    for mech in EPOLLS if results.micro is not None else []:
        watched, fit = micro_ready_fit(results, mech)
        if fit is None:
            figures.append(f"micro.csv: no `ready` rows for {mech}")
            continue
        grows = fit.shape in (rules.GROWS, rules.GROWS_LINEAR)
        verdicts.append(REFUTED if grows else INCONCLUSIVE)
        figures.append(
            f"micro.csv, {mech} epoll_wait with {fmt(watched)} watched vs ready: "
            + fit.describe("ns", "ready", 1.0, "ns per ready event")
        )
    return figures, verdicts


def copy_probe_evidence(results):
    """Claim 9 from probe.json: mmap of an epoll descriptor, epoll_wait into a read-only buffer,
    and io_uring's rings for contrast. Returns (figures, verdicts)."""
    figures, verdicts = [], []
    probe = results.probe or {}
    mapped = probe.get("epoll_fd_mmap_errno")
    if isinstance(mapped, str) and mapped:
        if mapped == "mapped":
            verdicts.append(CONFIRMED)
            figures.append("probe: mmap of an epoll descriptor succeeded")
        else:
            verdicts.append(REFUTED)
            figures.append(
                f"probe: mmap of an epoll descriptor fails with {mapped}: epoll has nothing to map"
            )
    readonly = probe.get("epoll_wait_readonly_buffer_errno")
    if isinstance(readonly, str) and readonly:
        if readonly == "EFAULT":
            verdicts.append(REFUTED)
            figures.append(
                "probe: epoll_wait into a read-only events buffer fails with EFAULT: the kernel"
                " writes (copies) each event into the caller's memory"
            )
        else:
            figures.append(f"probe: epoll_wait into a read-only events buffer: {readonly}")
    if probe.get("io_uring_fd_mmap_ok") is not None:
        figures.append(
            "probe, for contrast: io_uring's rings"
            f" {'can' if probe['io_uring_fd_mmap_ok'] else 'could not'} be mapped with mmap"
        )
    return figures, verdicts


def claim9(results, anchors):
    fact = anchors["kernel_facts"]["epoll_copies"]
    figures, verdicts = copy_timing_evidence(results)
    probe_figures, probe_verdicts = copy_probe_evidence(results)
    figures += probe_figures
    verdicts += probe_verdicts
    if results.probe is None:
        figures.append("probe.json absent: mmap and the copy were not probed")
    figures.append(
        "kernel source: epoll_wait copies each ready event with __put_user / epoll_put_uevent "
        "(fs/eventpoll.c); no mapping is shared with user space"
    )
    verdict = rules.combine(verdicts)
    if verdict == REFUTED:
        why = (
            "Timing alone cannot see an mmap; the evidence measured is the probe (no mapping to be"
            " had, the kernel writing into the caller's buffer) and/or a fixed cost per ready"
            " event (what a copy per event predicts), beside the kernel source (cited, not"
            " measured), which copies every ready event out."
        )
    elif verdict == CONFIRMED:
        why = (
            "Measured: an epoll descriptor could be mapped here. The kernel source (cited, not"
            " measured) says epoll copies each event: check the kernel."
        )
    else:
        why = (
            "Timing alone cannot see an mmap, and neither the probe nor a per-ready-event cost was"
            " measured (or they disagree); the kernel source says epoll copies each ready event,"
            " but this report gives a verdict only with a measurement."
        )
    return Claim(9, verdict, figures, why, fact)


def registration_timed(results):
    """Claim 10 from micro.csv: epoll_ctl add + del against one epoll_wait call. Returns
    (figures, verdicts)."""
    figures, verdicts = [], []
    if results.micro is None:
        figures.append("micro.csv absent: epoll_ctl was not timed alone")
    else:
        ctl = {}
        for op in ("add", "mod", "del"):
            rows = results.micro_rows("ctl", f"epoll-ctl-{op}")
            if rows:
                ctl[op] = statistics.median(number(m["ns_per_call_median"]) for m in rows)
        if ctl:
            figures.append(
                "micro.csv, ns per epoll_ctl call (median over watched counts): "
                + ", ".join(f"{op} {fmt(v)}" for op, v in ctl.items())
            )
        _, wait_fit = micro_wait_fit(results, "epoll-lt")
        wait_series = wait_fit.series if wait_fit is not None else None
        if "add" in ctl and "del" in ctl and wait_series is not None and wait_series.xs():
            x0 = wait_series.xs()[0]
            wait_ns = wait_series.median(x0)
            ratio = (ctl["add"] + ctl["del"]) / wait_ns
            figures.append(
                f"add + del for one connection = {ratio:.2f} × one epoll_wait call "
                f"({fmt(wait_ns)} ns at {fmt(x0)} watched)"
            )
            if ratio >= rules.CTL_MATTERS_RATIO:
                verdicts.append(CONFIRMED)
            elif ratio <= rules.CTL_NEGLIGIBLE_RATIO:
                verdicts.append(REFUTED)
            else:
                verdicts.append(INCONCLUSIVE)
        elif ctl:
            figures.append("no epoll_wait timing (or no add/del) to set the epoll_ctl cost against")
    return figures, verdicts


def registration_under_churn(results):
    """Claim 10 from runs.csv's churn rows: connections per second and epoll_ctl calls per
    connection, and poll against epoll-lt (churn_registration). Returns (figures, verdicts, the
    churn rows)."""
    figures, verdicts = [], []
    churn = [
        r for r in results.runs if r.mode == "churn" and r.ok and r.get("conns_per_s") is not None
    ]
    if churn:
        by_mech = {}
        for mech in results.mechanisms(churn):
            s = results.series("churn", mech, "conns_per_s")
            if s.xs():
                x0 = s.xs()[0]
                by_mech[mech] = (x0, s.values_at(x0))
                ctl_per_conn = [
                    r.get("server_ctl_calls") / (r.get("conns_per_s") * (r.get("duration_s") or 1))
                    for r in churn
                    if r.mechanism == mech
                    and r.idle == x0
                    and r.get("server_ctl_calls") is not None
                    and r.get("conns_per_s")
                ]
                text = (
                    f"churn: {mech} {fmt(statistics.median(s.values_at(x0)))} connections/s at"
                    f" {fmt(x0)} idle"
                )
                if ctl_per_conn and mech.startswith("epoll"):
                    text += (
                        f" ({fmt(statistics.median(ctl_per_conn))} epoll_ctl calls per connection)"
                    )
                figures.append(text)
        churn_verdict, churn_figure = churn_registration(results, by_mech)
        if churn_figure:
            figures.append(churn_figure)
            verdicts.append(churn_verdict)
    return figures, verdicts, churn


def claim10(results):
    figures, verdicts = registration_timed(results)
    churn_figures, churn_verdicts, churn = registration_under_churn(results)
    figures += churn_figures
    verdicts += churn_verdicts
    if not churn and not results.micro:
        figures.append("no churn rows in runs.csv")
    figures += decided_lines(results, 10) if churn else []
    verdict = rules.combine(verdicts)
    why = {
        CONFIRMED: (
            "Every new or closed connection costs epoll one or two epoll_ctl system calls that"
            " select and poll never make, so a workload of short connections pays it on every one."
        ),
        REFUTED: "Registering a connection cost a negligible fraction of a wait call here.",
        INCONCLUSIVE: (
            "epoll_ctl was not timed against epoll_wait, or the comparison fell between the"
            " thresholds."
        ),
    }[verdict]
    # The headline is registration against a wait call, when micro.csv timed both.
    headline = next((f for f in figures if f.startswith("add + del")), None)
    return Claim(10, verdict, figures, why, headline=headline)


def churn_points(results, mechanism, idle):
    """{("churn", idle): [(repeat, seconds per connection)]}: churn's cost, the inverse of its
    rate, so that the rule of claim 7 ("cheaper") reads "opens and closes faster"."""
    values = [
        (r.repeat, 1.0 / r.get("conns_per_s"))
        for r in results.scenario_runs("churn")
        if r.mechanism == mechanism and r.idle == idle and r.ok and r.get("conns_per_s")
    ]
    return {("churn", idle): values} if values else {}


def churn_registration(results, by_mech):
    """The churn half of claim 10: poll against epoll-lt at the smallest idle count (where poll's
    scan costs nothing, so registration is what differs), by CostRatio paired by repeat. Returns
    (verdict, figure line), (None, None) when either was not measured there."""
    if "epoll-lt" not in by_mech or "poll" not in by_mech:
        return None, None
    x0 = by_mech["epoll-lt"][0]
    if by_mech["poll"][0] != x0:
        return None, None
    ratio = rules.CostRatio(
        churn_points(results, "poll", x0), churn_points(results, "epoll-lt", x0)
    )
    text = f"churn at {fmt(x0)} idle, time per connection: " + ratio.describe("poll", "epoll-lt")
    if ratio.outcome == rules.CHEAPER:
        return CONFIRMED, (
            text + "; poll opens and closes connections faster (explanation, not measured by this"
            " comparison: registration costs epoll what poll does not pay)"
        )
    if ratio.decided:
        return INCONCLUSIVE, (
            text + "; poll was not faster by more than the margin, so churn gives no verdict"
            " (explanation, not measured: epoll may save on the wait side what it pays in"
            " registration)"
        )
    return INCONCLUSIVE, text
