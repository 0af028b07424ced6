"""The claims in words: each claim's findings (the plain data the claims_* modules evaluate) turned
into the Claim the report shows — figure lines, the explanation, the headline. Nothing here
decides a verdict; every number and outcome comes from the findings."""

from plot import rules
from plot.claim_common import NOT_COMPARED, Claim
from plot import claims_completion as completion
from plot.claims_completion import SYSCALL_METRIC, evaluate_claim11
from plot import rules_words
from plot.claims_curves import FALLS, evaluate_claim12
from plot.claims_epoll import evaluate_claim7, evaluate_claim9, evaluate_claim10
from plot.numbers import fmt
from plot.rules import CONFIRMED, INCONCLUSIVE, REFUTED


def decided_lines(until):
    """How measuring until decided went (claim_common.UntilDecided): [] for a run that did not
    measure until decided."""
    if until is None:
        return []
    if not until.extra_round:
        return ["measured until decided: decided with the planned repeats (no extra round)"]
    text = (
        f"measured until decided: {until.extra_repeats} extra round(s) of fresh"
        f" instances, {until.looks} look(s) of at most {until.max_looks}"
    )
    if until.decided:
        return [text + ", then decided"]
    if until.open:
        text += f"; still undecided ({', '.join(until.open)}): {until.stopped}"
    if until.undecidable:
        text += (
            f"; not measured again ({', '.join(until.undecidable)}): the spread between"
            " sittings alone straddles the edge, so no number of repeats in this sitting could"
            " decide it"
        )
    return [text]


def cheaper_lines(cheaper):
    """The figure lines of a claim_common.Cheaper: the pooled ratio, then the ratio per mode when
    more than one mode was measured."""
    figures = [
        "runs.csv, server CPU per message, every mode but churn: "
        + rules_words.cost_ratio_line(cheaper.ratio, cheaper.a, cheaper.b)
    ]
    if len(cheaper.per_mode) > 1:
        figures.append(
            "ratio per mode (information): "
            + ", ".join(f"{mode} {r:.3f}" for mode, r in cheaper.per_mode.items())
        )
    return figures


def edge_against_level_why(outcome):
    m = f"{rules.EQUIVALENCE_MARGIN:.0%}"
    return {
        rules.CHEAPER: (
            "ET needed fewer wait calls and re-reports per message: over every point and repeat"
            f" its server CPU per message was lower than LT's by more than {m}, at"
            f" {rules.CONFIDENCE:.0%} confidence."
        ),
        rules.EQUIVALENT: (
            f"ET and LT cost the same within ±{m}. Explanation, not measured by this run: with few"
            " ready descriptors per call, re-reporting a descriptor costs little, so the trigger"
            " mode does not change what a message costs."
        ),
        rules.DEARER: (
            "LT was cheaper. Explanation, not measured by this run: with few ready descriptors"
            " per call re-reporting costs little, and ET's obligatory drain-until-EAGAIN read adds"
            " a system call."
        ),
        rules.NOT_CHEAPER: (
            f"ET did not save more than {m}: its interval lies at or above"
            f" {1 - rules.EQUIVALENCE_MARGIN:.2f} and reaches above"
            f" {1 + rules.EQUIVALENCE_MARGIN:.2f}."
        ),
        rules.UNDECIDED: (
            f"The interval of the ratio straddles {1 - rules.EQUIVALENCE_MARGIN:.2f}: a saving of"
            f" more than {m} is neither established nor excluded, and the sweep's extra rounds"
            " did not decide it (see how many it took)."
        ),
        rules.TOO_FEW_REPEATS: (
            f"With fewer than {rules.MIN_REPEATS_COMPARE} repeats per point noise alone could "
            f"pick the winner: rerun with at least {rules.MIN_REPEATS_COMPARE} repeats (the "
            "default sweep)."
        ),
    }[outcome]


def render_claim7(found):
    if found.outcome == NOT_COMPARED:
        return Claim(
            7,
            found.verdict,
            ["runs.csv: epoll-lt and epoll-et were not both measured at any point"],
            "Nothing to compare.",
        )
    figures = cheaper_lines(found.cheaper) + decided_lines(found.until_decided)
    return Claim(7, found.verdict, figures, edge_against_level_why(found.outcome))


def claim7(results):
    return render_claim7(evaluate_claim7(results))


def copy_timing_lines(timings, micro_measured):
    if not micro_measured:
        return ["micro.csv absent: the per-ready-event cost was not timed"]
    return [
        (
            f"micro.csv, {t.mechanism} epoll_wait with {fmt(t.watched)} watched vs ready: "
            + rules_words.fit_line(t.fit, "ns", "ready", 1.0, "ns per ready event")
            if t.fit is not None
            else f"micro.csv: no `ready` rows for {t.mechanism}"
        )
        for t in timings
    ]


def copy_probe_lines(probe):
    figures = []
    if probe.mapped == "mapped":
        figures.append("probe: mmap of an epoll descriptor succeeded")
    elif probe.mapped:
        figures.append(
            f"probe: mmap of an epoll descriptor fails with {probe.mapped}: epoll has nothing to"
            " map"
        )
    if probe.readonly == "EFAULT":
        figures.append(
            "probe: epoll_wait into a read-only events buffer fails with EFAULT: the kernel"
            " writes (copies) each event into the caller's memory"
        )
    elif probe.readonly:
        figures.append(f"probe: epoll_wait into a read-only events buffer: {probe.readonly}")
    if probe.io_uring_mapped is not None:
        figures.append(
            "probe, for contrast: io_uring's rings"
            f" {'can' if probe.io_uring_mapped else 'could not'} be mapped with mmap"
        )
    return figures


EPOLL_COPIES_WHY = {
    REFUTED: (
        "Timing alone cannot see an mmap; the evidence measured is the probe (no mapping to be"
        " had, the kernel writing into the caller's buffer) and/or a fixed cost per ready"
        " event (what a copy per event predicts), beside the kernel source (cited, not"
        " measured), which copies every ready event out."
    ),
    CONFIRMED: (
        "Measured: an epoll descriptor could be mapped here. The kernel source (cited, not"
        " measured) says epoll copies each event: check the kernel."
    ),
    INCONCLUSIVE: (
        "Timing alone cannot see an mmap, and neither the probe nor a per-ready-event cost was"
        " measured (or they disagree); the kernel source says epoll copies each ready event,"
        " but this report gives a verdict only with a measurement."
    ),
}


def render_claim9(found):
    figures = copy_timing_lines(found.timings, found.micro_measured)
    figures += copy_probe_lines(found.probe)
    if not found.probed:
        figures.append("probe.json absent: mmap and the copy were not probed")
    figures.append(
        "kernel source: epoll_wait copies each ready event with __put_user / epoll_put_uevent "
        "(fs/eventpoll.c); no mapping is shared with user space"
    )
    return Claim(9, found.verdict, figures, EPOLL_COPIES_WHY[found.verdict], found.kernel_fact)


def claim9(results, anchors):
    return render_claim9(evaluate_claim9(results, anchors))


def registration_timed_lines(timed):
    if not timed.micro_measured:
        return ["micro.csv absent: epoll_ctl was not timed alone"]
    figures = []
    if timed.ctl:
        figures.append(
            "micro.csv, ns per epoll_ctl call (median over watched counts): "
            + ", ".join(f"{op} {fmt(v)}" for op, v in timed.ctl.items())
        )
    if timed.ratio is not None:
        figures.append(
            f"add + del for one connection = {timed.ratio:.2f} × one epoll_wait call "
            f"({fmt(timed.wait_ns)} ns at {fmt(timed.wait_watched)} watched)"
        )
    elif timed.ctl:
        figures.append("no epoll_wait timing (or no add/del) to set the epoll_ctl cost against")
    return figures


def churn_rate_line(rate):
    text = (
        f"churn: {rate.mechanism} {fmt(rate.conns_per_s)} connections/s at"
        f" {fmt(rate.idle)} idle"
    )
    if rate.ctl_per_conn is not None:
        text += f" ({fmt(rate.ctl_per_conn)} epoll_ctl calls per connection)"
    return text


def churn_race_line(race):
    text = f"churn at {fmt(race.idle)} idle, time per connection: " + rules_words.cost_ratio_line(
        race.ratio, "poll", "epoll-lt"
    )
    if race.ratio.outcome == rules.CHEAPER:
        return (
            text + "; poll opens and closes connections faster (explanation, not measured by this"
            " comparison: registration costs epoll what poll does not pay)"
        )
    if race.ratio.decided:
        return (
            text + "; poll was not faster by more than the margin, so churn gives no verdict"
            " (explanation, not measured: epoll may save on the wait side what it pays in"
            " registration)"
        )
    return text


REGISTRATION_WHY = {
    CONFIRMED: (
        "Every new or closed connection costs epoll one or two epoll_ctl system calls that"
        " select and poll never make, so a workload of short connections pays it on every one."
    ),
    REFUTED: "Registering a connection cost a negligible fraction of a wait call here.",
    INCONCLUSIVE: (
        "epoll_ctl was not timed against epoll_wait, or the comparison fell between the"
        " thresholds."
    ),
}


def render_claim10(found):
    figures = registration_timed_lines(found.timed)
    figures += [churn_rate_line(rate) for rate in found.rates]
    figures += [churn_race_line(found.race)] if found.race else []
    if not found.churned and not found.any_micro_rows:
        figures.append("no churn rows in runs.csv")
    figures += decided_lines(found.until_decided)
    # The headline is registration against a wait call, when micro.csv timed both.
    headline = next((f for f in figures if f.startswith("add + del")), None)
    return Claim(10, found.verdict, figures, REGISTRATION_WHY[found.verdict], headline=headline)


def claim10(results):
    return render_claim10(evaluate_claim10(results))


def regime_summary(found, winner):
    """Where `winner` won, grouped by mode, active and size: "pingpong active=2 size=64 (idle
    0–10000, 7 of 7)"."""
    parts = []
    for (mode, active, size), idles, total in found.won(winner):
        span = f"{min(idles)}" if len(idles) == 1 else f"{min(idles)}–{max(idles)}"
        parts.append(
            f"{mode} active={active or '–'} size={size or '–'} (idle {span},"
            f" {len(idles)} of {total})"
        )
    return ", ".join(parts) or "no regime"


def completion_why(found):
    a, b = completion.COMPLETION, completion.COMPLETION_BASELINE
    m = f"{rules.EQUIVALENCE_MARGIN:.0%}"
    where = (
        f" {a} was cheaper at {regime_summary(found, a)}; {b} at {regime_summary(found, b)}."
        if found.regimes
        else ""
    )
    return {
        completion.CALLS_NOT_FEWER: (
            f"{a} did not make fewer system calls per message than {b} by more than {m}"
            f" ({found.calls.outcome}). Explanation, not measured by this run: with one message"
            " in flight per wake-up there is nothing to batch."
        ),
        completion.CPU_NOT_LOWER: (
            f"{a} made fewer system calls per message, but the server was not cheaper by more"
            f" than {m} ({found.cpu.outcome}). Explanation, not measured by this run: the calls"
            " saved cost less than the work the kernel does for each request either way (the TCP"
            " stack, the copies, the wake-ups)."
        ),
        completion.BOTH_LOWER: (
            f"{a} made fewer system calls per message and its server CPU per message was lower by"
            f" more than {m}, at {rules.CONFIDENCE:.0%} confidence over every point."
        ),
        completion.TOO_FEW: (
            f"With fewer than {rules.MIN_REPEATS_COMPARE} repeats per point noise alone could"
            " pick the winner."
        ),
        completion.TOO_WIDE: (
            "The interval is too wide to decide (more repeats or points would narrow it)."
        ),
    }[found.outcome] + where


def render_claim11(found):
    a, b = completion.COMPLETION, completion.COMPLETION_BASELINE
    if found.outcome == NOT_COMPARED:
        return Claim(
            11,
            found.verdict,
            [
                f"runs.csv: {a} and {b} were not both measured at any point (or without"
                f" {SYSCALL_METRIC}: a build before the system-call counters)"
            ],
            "Nothing to compare.",
        )
    figures = [
        "runs.csv, server system calls per message, every mode but churn, every active count and"
        " size: " + rules_words.cost_ratio_line(found.calls, a, b, "system calls"),
        "runs.csv, server CPU per message, same points: "
        + rules_words.cost_ratio_line(found.cpu, a, b),
    ]
    if found.regimes:
        figures.append(
            "regimes won (ratio of medians, information): "
            + "; ".join(f"{w}: {n}" for w, n in found.wins().items())
            + " (table: *Where each I/O model wins*)"
        )
    # The headline is the comparison that decided: the calls, or the CPU once the calls are fewer.
    headline = figures[1] if found.calls.outcome == rules.CHEAPER else figures[0]
    figures += decided_lines(found.until_decided)
    return Claim(11, found.verdict, figures, completion_why(found), headline=headline)


def claim11(results):
    return render_claim11(evaluate_claim11(results))


def capacity_parts(change):
    """The capacity at each idle count, with its interval or as a bound."""
    parts = []
    for i in change.idles:
        cap = change.caps[i]
        if not cap.estimate.n:
            parts.append(
                f"below {fmt(cap.ceiling)} msg/s at {fmt(i)} idle (every repeat failed the"
                " objective at its lowest rate)"
            )
            continue
        band = cap.interval()
        words = f" (95% CI {fmt(band[0])} … {fmt(band[1])})" if band else ""
        bound = " (a lower bound)" if cap.lower_bounds else ""
        parts.append(f"{fmt(cap.mean)} msg/s{words}{bound} at {fmt(i)} idle")
    return parts


def capacity_change_words(change):
    if change.ratio:
        ratio, low, high = change.ratio
        return f"×{fmt(ratio)} ({rules_words.interval_words(low, high)})"
    if change.ceiling_ratio is not None:
        return f"at most ×{fmt(change.ceiling_ratio)} (the bound over the interval's low end)"
    return "no ratio (the smallest count has no interval)"


def proportion_words(change):
    return {
        True: "; time per message at capacity grows at least linearly with idle"
        " connections (in proportion)",
        False: "; time per message at capacity grows slower than linearly (not in" " proportion)",
        None: "; proportionality not tested (the counts give no shape: "
        + rules_words.per_fd_line(change.time_shape, "µs", "idle connection", 1e6).split(" (")[0]
        + ")",
    }[change.proportional()]


def capacity_line(side, slo):
    """One figure line of claim 12: a mechanism's capacities, their change and its verdict."""
    change = side.change
    if not change.idles:
        return f"{side.mechanism}: no capacity measured [{INCONCLUSIVE}]"
    if len(change.idles) < 2:
        return (
            f"{change.mechanism}: capacity measured at {len(change.idles)} idle count(s), need 2"
            f" [{INCONCLUSIVE}]"
        )
    edge = 1 - rules.CAPACITY_FALL_MARGIN
    text = (
        f"{change.mechanism} capacity at p99 ≤ {fmt(slo)} µs: "
        + ", ".join(capacity_parts(change))
        + f"; {capacity_change_words(change)} against {edge:.2f} → {change.outcome}"
    )
    if side.low_load_p99:
        text += f"; the objective is {fmt(slo / side.low_load_p99)} × its low-load p99"
    if side.expected == FALLS:
        text += proportion_words(change)
    for cap_idle in change.idles:
        why = lower_bound_words(change.caps[cap_idle])
        if why:
            text += f"; at {fmt(cap_idle)} idle {why}"
    return text + f" [{side.verdict}]"


def span(values, unit=""):
    """'a' or 'a–b' over values, with fmt's digits."""
    low, high = min(values), max(values)
    return f"{fmt(low)}{unit}" if low == high else f"{fmt(low)}–{fmt(high)}{unit}"


def lower_bound_words(cap):
    """Why a point's capacity is a lower bound, in one clause over its repeats (curves.Capacity;
    the per-repeat reasons stay in the report's offered-load table)."""
    bounded = [c for c in cap.repeats.values() if c.lower_bound]
    if not bounded:
        return ""
    busy = [c.first_failure for c in bounded if c.first_failure is not None]
    parts = []
    if busy:
        parts.append(
            f"{len(busy)} stopped by the loadgen at {span([s.loadgen_cpu for s in busy], ' %')}"
            f" of a CPU, at {span([s.offered for s in busy])} msg/s offered"
        )
    if len(bounded) > len(busy):
        parts.append(f"{len(bounded) - len(busy)} with no offered rate failing")
    return f"a lower bound in {len(bounded)} of {len(cap.repeats)} repeats ({'; '.join(parts)})"


CAPACITY_WHY = {
    CONFIRMED: (
        "Each epoll carried as much load within the objective with the most idle connections"
        " as with the fewest (within the margin), while select's and poll's capacity fell"
        " beyond the interval."
    ),
    REFUTED: (
        "At least one mechanism did the opposite of the claim beyond its interval (see the"
        " figure tagged refuted)."
    ),
    INCONCLUSIVE: (
        "At least one mechanism's interval straddles the margin, is a lower bound, or was not"
        " measured at two idle counts; more repeats (--repeats) narrow the intervals."
    ),
}


def render_claim12(found):
    if not found.has_curves:
        return Claim(
            12,
            found.verdict,
            ["not measured: the run has no offered-load curves (./bench --curves, or --full)"],
            "Nothing to judge: capacity at a latency objective needs the offered-load phase.",
        )
    figures = [capacity_line(side, found.slo_p99_us) for side in found.sides]
    if found.one_sided:
        figures.append(
            "the claim sets epoll against select or poll: this run's curves measured "
            + (", ".join(found.measured) or "no mechanism")
        )
    return Claim(12, found.verdict, figures, CAPACITY_WHY[found.verdict] + bound_why(found))


def bound_why(found):
    """Why this machine cannot decide a side, when it is because the loadgen saturated first."""
    if found.verdict != INCONCLUSIVE:
        return ""
    words = []
    for side in found.sides:
        if side.verdict == INCONCLUSIVE and side.bounded_everywhere:
            bounded, total, busy = side.bounds()
            words.append(
                f" On this machine {side.mechanism}'s capacity is a lower bound in all {total}"
                f" repeats ({busy} stopped by a loadgen using ≥ {rules.LOADGEN_BUSY_PCT:.0f} % of"
                f" a CPU, {bounded - busy} with no offered rate failing): the loadgen saturated"
                f" before {side.mechanism} did, so whether its capacity holds is not measured"
                " here: more repeats would narrow the interval without deciding it; a load"
                " generator with more CPUs could."
            )
    return "".join(words)


def claim12(results):
    return render_claim12(evaluate_claim12(results))
