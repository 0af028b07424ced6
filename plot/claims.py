"""The teaching claims of docs/claims.md, each judged from a results folder by rules.py.

Each claim returns a Claim: its verdict, the figures behind it (one line per piece of evidence)
and one sentence a teacher can read out. Missing inputs (no micro.csv, no probe.json, a
mechanism not swept) make the evidence say so and the verdict inconclusive; they never crash.
"""

import json
import math
import os
import statistics

from plot import rules
from plot.rules import CONFIRMED, INCONCLUSIVE, REFUTED, fmt
from plot.results_folder import COST_MEASURED, FLOOR, number

CLAIMS = {
    1: "`select` cannot watch a descriptor ≥ 1024 (`FD_SETSIZE`) on Linux.",
    2: (
        "The cost of `select` grows linearly with the number of watched descriptors, even idle"
        " ones."
    ),
    3: "`poll` has no maximum descriptor count.",
    4: "The cost of `poll` also grows linearly with the number of watched descriptors.",
    5: (
        "`select` and `poll` are level-triggered: a ready descriptor that is not serviced is"
        " reported again."
    ),
    6: (
        "`epoll` supports both level- and edge-triggered notification; edge-triggered reports a"
        " readiness change once."
    ),
    7: "Edge-triggered epoll is faster than level-triggered.",
    8: "`epoll_wait` cost depends on the number of *ready* descriptors, not the number watched.",
    9: "epoll avoids copying descriptors between kernel and user space by using mmap.",
    10: "Registration (`epoll_ctl`) has its own cost, which matters under connection churn.",
    11: (
        "io_uring's completion model needs fewer system calls per message than epoll, and that"
        " makes the server cheaper."
    ),
}

COST_METRIC = "server_cpu_us_per_msg"
# The runs.csv mode whose per-message CPU decides the cost claims: in ping-pong each message costs
# about one wait call, so the per-call scan shows undiluted; flood and broadcast batch many
# messages per call and divide it away. Other modes are listed for information.
COST_MODES = ["pingpong", "broadcast", "flood"]
EPOLLS = ["epoll-lt", "epoll-et"]


def load_anchors():
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "anchors.json")) as f:
        return json.load(f)


class Claim:
    def __init__(self, number, verdict, figures, explanation, evidence=""):
        self.number = number
        self.text = CLAIMS[number]
        self.verdict = verdict
        self.figures = figures
        self.explanation = explanation
        self.evidence = evidence


def cost_mode(results):
    """The first mode in COST_MODES that has server CPU per message for some mechanism."""
    for mode in COST_MODES:
        if mode in results.modes():
            for mech in results.mechanisms(results.scenario_runs(mode)):
                if len(results.series(mode, mech, COST_METRIC)):
                    return mode
    return None


def growth_verdict(fit, want):
    """want 'grows-linear', 'grows' or 'flat': the verdict a series' shape gives that
    expectation."""
    grows = fit.shape in (rules.GROWS_LINEAR, rules.GROWS)
    flat = fit.shape in (rules.FLAT, rules.FALLS)
    if want == "grows-linear":
        if fit.shape == rules.GROWS_LINEAR:
            return CONFIRMED
        return REFUTED if flat else INCONCLUSIVE
    if want == "grows":
        if grows:
            return CONFIRMED
        return REFUTED if flat else INCONCLUSIVE
    if want == "flat":
        if fit.shape == rules.FLAT:
            return CONFIRMED
        return REFUTED if grows else INCONCLUSIVE
    raise ValueError(want)


def runs_cost_fit(results, mechanism):
    mode = cost_mode(results)
    if mode is None:
        return None, None
    series = results.series(mode, mechanism, COST_METRIC)
    if not len(series):
        return mode, None
    return mode, rules.Fit(series)


def micro_wait_fit(results, mechanism):
    """ns per wait call against watched descriptors, one ready (or the most measured ready
    count)."""
    ready = results.micro_fixed_value("wait", mechanism, "ready", prefer=1.0)
    if ready is None:
        return None, None
    return ready, rules.Fit(results.micro_series("wait", mechanism, "watched", "ready", ready))


def micro_ready_fit(results, mechanism):
    watched = results.micro_fixed_value("ready", mechanism, "watched")
    if watched is None:
        return None, None
    return watched, rules.Fit(results.micro_series("ready", mechanism, "ready", "watched", watched))


# ---- Claims 2, 4 and 8's watched half: the cost per watched descriptor (rules.PerFdShape) ------

SHAPE_READY = 1.0  # the micro series the shape claims read: one wait call with 1 descriptor ready
SHARED_FAMILY = "shared"  # poll over N entries naming few distinct sockets (the bend probe)
# (unit of the cost, what the x count is, what one descriptor is in the per-descriptor words)
RUNS_UNIT = ("µs", "idle conn.", "idle connection per message")
MICRO_UNIT = ("ns", "watched", "watched descriptor")


def runs_cost_points(results, mechanism):
    """(mode, {idle: [server CPU per message of each repeat]}) in the cost mode, or (mode, {})."""
    mode = cost_mode(results)
    points = {}
    if mode is not None:
        for x, y, _ in results.series(mode, mechanism, COST_METRIC).points:
            points.setdefault(x, []).append(y)
    return mode, points


def repetitions_of(row, json_repeats):
    """Every repetition's ns per call for one micro.csv row: its ns_per_call_repeats column, or,
    for a micro.csv made before that column, the repetitions in micro.json beside it."""
    text = (row.get("ns_per_call_repeats") or "").strip()
    if text:
        return [v for v in (number(t) for t in text.split(";")) if v is not None]
    return json_repeats.get((row.get("benchmark") or "").strip(), [])


def micro_json_repeats(results):
    """{benchmark name: [ns per call of each repetition]} from micro.json, {} when absent."""
    cached = getattr(results, "_micro_json_repeats", None)
    if cached is not None:
        return cached
    out = {}
    path = os.path.join(results.path, "micro.json")
    if os.path.isfile(path) and results.micro and "ns_per_call_repeats" not in results.micro[0]:
        from harness.common import micro_json as micro_to_csv

        try:
            doc, _ = micro_to_csv.load(path)
        except (OSError, ValueError):
            doc = {}
        for b in doc.get("benchmarks", []):
            if b.get("run_type", "iteration") == "iteration" and not b.get("error_occurred"):
                value = micro_to_csv.ns(b, "ns_per_call")
                if value is not None:
                    out.setdefault(b.get("run_name", ""), []).append(value)
    results._micro_json_repeats = out
    return out


def micro_cost_points(results, family, mechanism, sockets=None):
    """{watched: [ns per call of each repetition]} with SHAPE_READY ready (and `sockets` distinct
    sockets, for the shared family)."""
    json_repeats = micro_json_repeats(results)
    points = {}
    for row in results.micro_rows(family, mechanism):
        if number(row.get("ready")) != SHAPE_READY:
            continue
        if sockets is not None and number(row.get("sockets")) != sockets:
            continue
        watched = number(row.get("watched"))
        values = repetitions_of(row, json_repeats)
        if watched is not None and values:
            points[watched] = values
    return points


def linear_verdict(shape):
    """Claims 2 and 4: confirmed when the cost grows at least linearly (one edge: the
    per-descriptor ratio's interval at or above 1 - PER_FD_MARGIN), refuted when it is flat or
    grows slower than linearly."""
    if shape.grows_at_least_linearly():
        return CONFIRMED
    if shape.cost_shape == rules.COST_FLAT or (
        shape.cost_shape == rules.COST_GROWS and shape.shape == rules.SLOWER_THAN_LINEAR
    ):
        return REFUTED
    return INCONCLUSIVE


def flat_verdict(shape):
    """Claim 8's watched half: epoll's cost stays within the margin (confirmed) or grows beyond
    it (refuted), on one edge (rules.PerFdShape.stays_within_growth_margin)."""
    return {True: CONFIRMED, False: REFUTED}.get(shape.stays_within_growth_margin(), INCONCLUSIVE)


def shape_figure(source, shape, unit, scale=1.0, per_fd=True):
    """One figure line: the total cost and (per_fd) the cost per descriptor, in the rule's words."""
    text = f"{source}: " + shape.describe_cost(unit[0], unit[1])
    if per_fd:
        text += "; " + shape.describe("ns", unit[2], scale)
    return text


def shape_evidence(results, mechanism, runs_confidence=None):
    """[(source words, PerFdShape, unit, scale)] for one mechanism: runs.csv (its cost ratio at
    runs_confidence, default rules.CONFIDENCE), then micro.csv."""
    out = []
    mode, points = runs_cost_points(results, mechanism)
    if points:
        out.append(
            (
                f"runs.csv ({mode}), {mechanism} server CPU per message vs idle connections",
                rules.PerFdShape(points, runs_confidence),
                RUNS_UNIT,
                1000.0,
            )
        )
    points = micro_cost_points(results, "wait", mechanism)
    if points:
        out.append(
            (
                f"micro.csv, one {mechanism} call with {fmt(SHAPE_READY)} ready vs watched",
                rules.PerFdShape(points),
                MICRO_UNIT,
                1.0,
            )
        )
    return out


def same_count_figures(results):
    """select (and select-dynamic) against poll, per descriptor at the counts both measured."""
    figures = []
    pairs = [("select", "poll"), ("select-dynamic", "poll")]
    sources = [
        ("micro.csv", lambda m: micro_cost_points(results, "wait", m), 1.0),
        (f"runs.csv ({cost_mode(results)})", lambda m: runs_cost_points(results, m)[1], 1000.0),
    ]
    for source, points_of, _ in sources:
        for a, b in pairs:
            pa, pb = points_of(a), points_of(b)
            if not pa or not pb:
                continue
            rows = rules.same_count_ratios(rules.PerFdShape(pa), rules.PerFdShape(pb))
            if not rows:
                continue
            each = "; ".join(
                f"{fmt(x)}: ×{fmt(r)} ({rules.interval_words(lo, hi)}){' match' if ok else ''}"
                for x, r, lo, hi, ok in rows
            )
            matched = [fmt(x) for x, *_, ok in rows if ok]
            figures.append(
                f"{source}, {a} / {b} per descriptor at the same counts (information): {each}"
                + (
                    f" — they match within ±{rules.SAME_PER_FD_MARGIN:.0%} at"
                    f" {', '.join(matched)}"
                    if matched
                    else f" — no count where they match within ±{rules.SAME_PER_FD_MARGIN:.0%}"
                )
            )
    return figures


def shared_probe(results):
    """The bend probe: poll over N entries naming few distinct sockets, against the wait family
    (N distinct sockets). Returns (figure lines, finding): finding is None when not measured or
    undecided, else (kind, D, shared ratio, distinct ratio) with kind 'sockets' when the
    per-descriptor cost of distinct sockets rose faster than linearly and the shared one's rose
    less, beyond both intervals, or 'entries' when both rose and their intervals overlap."""
    rows = results.micro_rows(SHARED_FAMILY, "poll")
    socket_counts = sorted({number(r.get("sockets")) for r in rows} - {None})
    distinct = micro_cost_points(results, "wait", "poll")
    if not socket_counts or not distinct:
        return [], None
    base = rules.PerFdShape(distinct)
    figures, findings = [], []
    for d in socket_counts:
        shape = rules.PerFdShape(micro_cost_points(results, SHARED_FAMILY, "poll", d))
        figures.append(
            shape_figure(
                f"micro.csv, poll over N entries naming {fmt(d)} distinct sockets (+1 ready;"
                " the bend probe, information)",
                shape,
                MICRO_UNIT,
            )
        )
        if base.shape != rules.FASTER_THAN_LINEAR or shape.ratio is None:
            continue
        if math.isinf(shape.ratio[2]):
            continue
        if shape.ratio[2] < base.ratio[1]:
            findings.append(("sockets", d, shape.ratio[0], base.ratio[0]))
        elif shape.shape == rules.FASTER_THAN_LINEAR:
            findings.append(("entries", d, shape.ratio[0], base.ratio[0]))
    kinds = {f[0] for f in findings}
    return figures, (findings[0] if len(kinds) == 1 else None)


def linear_cost_claim(results, number, mechanism):
    """Claims 2 and 4: the cost of select / poll grows linearly with watched descriptors, judged
    on the cost each watched descriptor adds (rules.PerFdShape), never on one slope."""
    figures, verdicts, shapes = [], [], []
    mechanisms = [mechanism] + (["select-dynamic"] if mechanism == "select" else [])
    for mech in mechanisms:
        for source, shape, unit, scale in shape_evidence(results, mech):
            v = linear_verdict(shape)
            verdicts.append(v)
            shapes.append(shape)
            figures.append(shape_figure(source, shape, unit, scale) + f" [{v}]")
    if not any(f.startswith("runs.csv") for f in figures):
        figures.append(f"runs.csv: no ok {mechanism} point with server CPU per message")
    if results.micro is None:
        figures.append("micro.csv absent: the system call was not timed alone")
    else:
        if not micro_cost_points(results, "wait", mechanism):
            figures.append(
                f"micro.csv: no ok `wait` rows for {mechanism} with per-repetition figures"
                " (ns_per_call_repeats, or micro.json beside it)"
            )
        build = micro_cost_points(results, "build", mechanism)
        if build:
            figures.append(
                shape_figure(
                    f"micro.csv, building/copying the {mechanism} set per call (information)",
                    rules.PerFdShape(build),
                    MICRO_UNIT,
                )
            )
    figures += same_count_figures(results)
    probe_figures, finding = shared_probe(results) if mechanism == "poll" else ([], None)
    figures += probe_figures
    verdict = rules.combine(verdicts)
    return Claim(
        number, verdict, figures, linear_why(verdict, mechanism, shapes, finding, verdicts)
    )


def linear_why(verdict, mechanism, shapes, finding, verdicts):
    name = "select" if mechanism == "select" else "poll"
    if verdict == CONFIRMED:
        why = (
            f"Every {name} call hands the kernel the whole set and the kernel walks all of it, "
            "so each idle descriptor adds at least a fixed cost to every call."
        )
        # The last bent series: micro.csv's (the call alone) when it bends, else runs.csv's.
        bent = [s for s in shapes if s.shape == rules.FASTER_THAN_LINEAR]
        if bent:
            _, rises_at = bent[-1].bend()
            where = f"from about {fmt(rises_at)}" if rises_at is not None else "at the high end"
            why += (
                f" {where[0].upper()}{where[1:]} each descriptor added more than"
                f" {rules.PER_FD_MARGIN:.0%} beyond its cost at the low end: the cost grows faster"
                " than linearly there, and one slope over the whole range would describe no count."
            )
            kind, d, shared, distinct = finding or (None, 0, 0, 0)
            if kind == "sockets":
                why += (
                    f" Measured: over as many entries naming only {fmt(d)} distinct sockets the"
                    f" cost per entry rose ×{fmt(shared)} across the range, against"
                    f" ×{fmt(distinct)} with every entry a distinct socket: the rise comes from the"
                    " number of distinct sockets a call touches, not from the entries. Which limit"
                    " their"
                    " kernel objects outgrow (a cache, the TLB) is an explanation: the run did not"
                    " measure it."
                )
            elif kind == "entries":
                why += (
                    f" Measured: over as many entries naming only {fmt(d)} distinct sockets the"
                    f" cost per entry rose as much (×{fmt(shared)} against ×{fmt(distinct)}): the"
                    " rise comes from the per-entry work, not from the sockets."
                )
        return why
    if verdict == REFUTED:
        return (
            f"Within the measured range the cost of {name} did not grow at least linearly with"
            " the watched count (flat, or slower than linear); per-call overheads dominated."
        )
    if verdicts:
        return (
            "The evidence does not decide (too few points, too noisy, or sources disagree); see"
            " the figures."
        )
    return f"Neither runs.csv nor micro.csv measured the cost of {name}."


def claim1(results):
    limit = results.fd_setsize()
    selects = [r for r in results.runs if r.mechanism == "select"]
    figures, verdicts = [], []

    def needed(r):
        return r.idle + int(r.get("active") or 0)

    refused = [r for r in selects if r.refused_fd_setsize or r.refused_count > 0]
    served = [r for r in selects if r.ok and not r.refused_count > 0]
    if not selects:
        figures.append("runs.csv: no select rows")
    else:
        if served:
            figures.append(
                f"select served every connection up to {max(r.idle for r in served)} idle "
                f"(+{int(served[0].get('active') or 0)} active)"
            )
        if refused:
            first = min(refused, key=lambda r: (r.idle, not r.status.startswith("refused")))
            figures.append(
                f"first refusal at {first.idle} idle (status {first.status},"
                f" {int(first.refused_count)} connection(s) refused); {len(refused)} select row(s)"
                " refused in all"
            )
        below = [r for r in refused if needed(r) < limit - rules.FD_MARGIN]
        beyond = [
            r
            for r in served
            if watched_idle(r) + int(r.get("active") or 0) >= limit + rules.FD_MARGIN
        ]
        if beyond:
            verdicts.append(REFUTED)
            figures.append(
                f"plain select served {max(r.idle for r in beyond)} idle connections, past"
                " FD_SETSIZE"
            )
        elif refused and not below and any(needed(r) < limit - rules.FD_MARGIN for r in served):
            verdicts.append(CONFIRMED)
        elif below:
            figures.append(
                f"refused already at {min(needed(r) for r in below)} descriptors, well below"
                " FD_SETSIZE (another limit than FD_SETSIZE)"
            )
            verdicts.append(INCONCLUSIVE)
        else:
            figures.append("the sweep did not take select past FD_SETSIZE")
    probe = results.probe or {}
    if "fd_setsize" in probe:
        figures.append(f"probe: FD_SETSIZE = {probe['fd_setsize']}")
    macro = probe.get("fd_set_macro_ge_fdsetsize")
    if isinstance(macro, str) and macro:
        figures.append(f"probe: FD_SET on a descriptor ≥ FD_SETSIZE: {macro}")
        if any(word in macro for word in ("SIGABRT", "killed", "out of range")):
            verdicts.append(CONFIRMED)
    kernel_accepts = probe.get("select_syscall_accepts_fd_ge_fdsetsize")
    if kernel_accepts is not None:
        fd = probe.get("select_syscall_fd")
        figures.append(
            f"probe: the select system call {'accepts' if kernel_accepts else 'rejects'} a"
            f" descriptor ≥ FD_SETSIZE{f' ({fd})' if fd else ''} in a larger hand-made bitmap"
        )
    mode, dyn = runs_cost_fit(results, "select-dynamic")
    dyn_rows = [r for r in results.runs if r.mechanism == "select-dynamic" and r.ok]
    if dyn_rows:
        top = max(r.idle for r in dyn_rows)
        cost = results.series(mode, "select-dynamic", COST_METRIC) if mode else None
        text = f"select-dynamic (fd_set allocated to size) served {top} idle connections"
        if cost is not None and cost.xs():
            text += (
                f"; server CPU {fmt(cost.median(cost.xs()[-1]))} µs/msg at"
                f" {fmt(cost.xs()[-1])} idle ({mode})"
            )
        figures.append(text)
    verdict = rules.combine(verdicts)
    if verdict == CONFIRMED:
        why = (
            "Measured: plain select stopped at FD_SETSIZE (see the figures). Explanation, not"
            " measured: glibc's `fd_set` is a fixed 1024-bit array, so a server using it must"
            " refuse descriptor 1024 and up."
        )
        seen = [
            what
            for what, shown in (
                ("the select system call took a larger hand-made bitmap (probe)", kernel_accepts),
                ("select-dynamic served past it (runs.csv)", dyn_rows),
            )
            if shown
        ]
        if seen:
            why += " The limit is that type's, not the kernel's: here " + " and ".join(seen) + "."
    elif verdict == REFUTED:
        why = (
            "A plain-select server watched descriptors past FD_SETSIZE: check how it sizes its"
            " sets."
        )
    else:
        why = "The sweep did not show where select's limit lies."
    return Claim(1, verdict, figures, why)


def watched_idle(r):
    """Idle connections the server really held: idle_open when known (-1 or empty = not known)."""
    idle_open = number(r.text("idle_open"))
    return int(idle_open) if idle_open is not None and idle_open >= 0 else r.idle


def intact(r):
    """All requested idle connections were still open at the end and none was refused."""
    idle_open = number(r.text("idle_open"))
    if idle_open is not None and idle_open >= 0:
        return int(idle_open) == r.idle and not r.refused_count > 0
    return not r.refused_count > 0


def claim3(results):
    limit = results.fd_setsize()
    figures, verdicts = [], []
    polls = [r for r in results.runs if r.mechanism == "poll"]
    served = [r for r in polls if r.ok and intact(r)]
    if not polls:
        figures.append("runs.csv: no poll rows")
    elif served:
        top = max(r.idle for r in served)
        figures.append(
            f"poll served {top} idle connections, all still open at the end "
            f"({top / limit:.1f} × FD_SETSIZE)"
        )
        if top >= rules.POLL_BEYOND_FACTOR * limit:
            verdicts.append(CONFIRMED)
    failed = [r for r in polls if not r.ok]
    for r in failed:
        others = [
            o
            for o in results.runs
            if o.mode == r.mode
            and o.idle == r.idle
            and o.ok
            and intact(o)
            and o.mechanism not in ("poll", "select", FLOOR)
        ]
        if others and ("refused" in r.status or r.refused_count > 0):
            verdicts.append(REFUTED)
            figures.append(
                f"poll refused connections at {r.idle} idle ({r.status}) where"
                f" {others[0].mechanism} served them"
            )
            break
    probe = results.probe or {}
    if number(probe.get("poll_watched_max")):
        watched = int(number(probe["poll_watched_max"]))
        figures.append(
            f"probe: one poll call watched {watched} descriptors"
            + (f" (RLIMIT_NOFILE {probe['rlimit_nofile']})" if "rlimit_nofile" in probe else "")
        )
        if watched >= rules.POLL_BEYOND_FACTOR * limit:
            verdicts.append(CONFIRMED)
    if probe.get("poll_nfds_over_rlimit_errno"):
        at = probe.get("poll_nfds_at_rlimit_ok")
        figures.append(
            "probe: poll with nfds = RLIMIT_NOFILE"
            f" {'accepted' if at else 'refused' if at is False else 'not tried'}; nfds ="
            f" RLIMIT_NOFILE + 1 → {probe['poll_nfds_over_rlimit_errno']}"
        )
    rlimit = probe.get("rlimit_nofile") or results.env.get("rlimit_nofile")
    if rlimit:
        figures.append(f"RLIMIT_NOFILE here: {rlimit}")
    verdict = rules.combine(verdicts)
    if verdict == CONFIRMED:
        why = (
            "Measured: poll went past FD_SETSIZE (see the figures). Explanation, not measured:"
            " poll takes an array of any length"
        )
        over = probe.get("poll_nfds_over_rlimit_errno")
        why += (
            f". The bound it meets is the process's descriptor limit: past RLIMIT_NOFILE the"
            f" probe's poll returned {over}, not a limit of poll itself."
            if over
            else ", and the bound it meets is the process's descriptor limit (RLIMIT_NOFILE)."
        )
    elif verdict == REFUTED:
        why = "poll refused connections another mechanism served: a limit of its own showed."
    else:
        why = (
            f"Neither the sweep nor the probe took poll past {rules.POLL_BEYOND_FACTOR} ×"
            " FD_SETSIZE."
        )
    return Claim(3, verdict, figures, why)


def probe_flags(results, keys):
    """Verdict from probe.json booleans that must all be true for the claim."""
    probe = results.probe
    if probe is None:
        return INCONCLUSIVE, ["not measured: probe.json absent (run mux-probe)"]
    figures, seen = [], []
    for key, words in keys:
        if key in probe:
            seen.append(bool(probe[key]))
            figures.append(f"probe: {words}: {'yes' if probe[key] else 'no'}")
        else:
            figures.append(f"probe: {words}: not measured ({key} missing)")
    if seen and not all(seen):
        return REFUTED, figures
    if len(seen) == len(keys):
        return CONFIRMED, figures
    return INCONCLUSIVE, figures


def claim5(results):
    verdict, figures = probe_flags(
        results,
        [
            ("select_lt_reports_again", "select reports an unserviced ready descriptor again"),
            ("poll_lt_reports_again", "poll reports an unserviced ready descriptor again"),
        ],
    )
    why = {
        CONFIRMED: (
            "Measured by mux-probe: both reported an unserviced ready descriptor again."
            " Explanation, not measured: both return the current state of every descriptor at"
            " each call, so readiness that was not consumed is simply seen again."
        ),
        REFUTED: "The probe saw a ready descriptor that was not reported again.",
        INCONCLUSIVE: "Level triggering is a behaviour, not a timing: only mux-probe observes it.",
    }[verdict]
    return Claim(5, verdict, figures, why, "probe.json")


def claim6(results):
    verdict, figures = probe_flags(
        results,
        [
            (
                "epoll_lt_reports_again",
                "epoll (default, level-triggered) reports an unserviced descriptor again",
            ),
            ("epoll_et_reports_once", "epoll with EPOLLET reports it once"),
        ],
    )
    probe = results.probe or {}
    if "epoll_et_reports_new_data" in probe:
        figures.append(
            "probe: EPOLLET reports again when new data arrive:"
            f" {'yes' if probe['epoll_et_reports_new_data'] else 'no'}"
        )
    for mech in EPOLLS:
        n = sum(1 for r in results.runs if r.mechanism == mech and r.ok)
        if n:
            figures.append(f"runs.csv: {mech} served {n} ok point(s) end to end")
    why = {
        CONFIRMED: (
            "Measured by mux-probe: level-triggered epoll reported an unserviced descriptor"
            " again, EPOLLET once. Explanation, not measured: EPOLLET reports a transition to"
            " ready, so a server must drain each socket until EAGAIN; without it epoll behaves"
            " like poll."
        ),
        REFUTED: "The probe saw epoll behave otherwise than documented.",
        INCONCLUSIVE: "Trigger modes are behaviours, not timings: only mux-probe observes them.",
    }[verdict]
    return Claim(6, verdict, figures, why, "probe.json")


def cost_points(results, mechanism, metric=COST_METRIC, skip_modes=("churn",)):
    """{(mode, idle): [(repeat, value), ...]}: every ok point of a mechanism, in every mode's
    primary
    scenario but skip_modes (churn measures connections, not messages)."""
    points = {}
    for mode in results.modes():
        if mode in skip_modes:
            continue
        for x, y, repeat in results.series(mode, mechanism, metric, statuses=COST_MEASURED).points:
            points.setdefault((mode, x), []).append((repeat, y))
    return points


def idle_of(point):
    """The instance a point shares with the other points of its repeat: the sweep runs every mode
    (and scenario) of one idle count on the same fresh servers, so they share the idle count."""
    return point[-1]


def cheaper_than(results, a, b, metric=COST_METRIC):
    """ "a is cheaper than b" on server CPU per message: a rules.CostRatio and its figure lines.
    Reusable by any such claim (e.g. io_uring completion against epoll)."""
    ratio = rules.CostRatio(
        cost_points(results, a, metric), cost_points(results, b, metric), instance=idle_of
    )
    figures = ["runs.csv, server CPU per message, every mode but churn: " + ratio.describe(a, b)]
    groups = ratio.group_ratios(lambda point: point[0])
    if len(groups) > 1:
        figures.append(
            "ratio per mode (information): "
            + ", ".join(f"{mode} {r:.3f}" for mode, r in groups.items())
        )
    return ratio, figures


def claim7(results):
    ratio, figures = cheaper_than(results, "epoll-et", "epoll-lt")
    if ratio.compared == 0:
        return Claim(
            7,
            INCONCLUSIVE,
            ["runs.csv: epoll-lt and epoll-et were not both measured at any point"],
            "Nothing to compare.",
        )
    m = f"{rules.EQUIVALENCE_MARGIN:.0%}"
    why = {
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
    }[ratio.outcome]
    return Claim(7, ratio.verdict, figures + decided_lines(results, 7), why)


def claim8(results):
    figures, watched_verdicts, ready_verdicts = [], [], []
    for mech in EPOLLS:
        # runs.csv's half is measured until decided (flat_comparison): judged at the look level.
        for source, shape, unit, scale in shape_evidence(results, mech, rules.LOOK_CONFIDENCE):
            v = flat_verdict(shape)
            watched_verdicts.append(v)
            figures.append(shape_figure(source, shape, unit, per_fd=False) + f" [flat? {v}]")
    if results.micro is None:
        figures.append("micro.csv absent: the dependence on ready descriptors was not measured")
    for mech in EPOLLS if results.micro is not None else []:
        watched, rfit = micro_ready_fit(results, mech)
        if rfit is not None:
            v = growth_verdict(rfit, "grows")
            ready_verdicts.append(v)
            figures.append(
                f"micro.csv, {mech} wait with {fmt(watched)} watched vs ready: "
                + rfit.describe("ns", "ready", 1.0, "ns per ready descriptor")
                + f" [grows? {v}]"
            )
    not_watched = rules.combine(watched_verdicts)
    on_ready = rules.combine(ready_verdicts)
    if REFUTED in (not_watched, on_ready):
        verdict = REFUTED
        why = (
            "epoll's cost followed the watched count"
            if not_watched == REFUTED
            else "epoll_wait did not get dearer with more ready descriptors"
        ) + " beyond the thresholds."
    elif not_watched == CONFIRMED and on_ready == CONFIRMED:
        verdict = CONFIRMED
        why = (
            "The interest list lives in the kernel and only the ready list is walked and copied"
            " out, so idle descriptors cost nothing per call while each ready one does."
        )
    else:
        verdict = INCONCLUSIVE
        half = (
            "independence from the watched count"
            if not_watched != CONFIRMED
            else "growth with the ready count"
        )
        why = f"Both halves are needed and {half} was not established" + (
            " (micro.csv absent)." if results.micro is None else " (not measured, or unclear)."
        )
    return Claim(8, verdict, figures + decided_lines(results, 8), why)


def claim9(results, anchors):
    fact = anchors["kernel_facts"]["epoll_copies"]
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


def claim10(results):
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
    elif not results.micro:
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
    return Claim(10, verdict, figures, why)


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
    m = f"{rules.EQUIVALENCE_MARGIN:.0%}"
    where = (
        f" {a} was cheaper at {regime_summary(regimes, a)}; {b} at"
        f" {regime_summary(regimes, b)}."
        if regimes
        else ""
    )
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
    return Claim(11, verdict, figures + decided_lines(results, 11), why)


class FlatRatio:
    """Claim 8's runs.csv half as a comparison: one epoll's server CPU per message at the largest
    idle count over the lowest's (rules.PerFdShape's cost ratio at the look level), flat when the
    whole interval is at most 1 + MAX_REL_FLAT, growing when all of it is above. It offers what a
    rules.CostRatio offers a Comparison and `./bench compare` (points, ratio, interval, verdict)."""

    def __init__(self, mode, points):
        shape = rules.PerFdShape(points, rules.LOOK_CONFIDENCE)
        ends = shape.xs[:1] + shape.xs[-1:] if len(shape.xs) >= 2 else []
        self.d = {(mode, x): None for x in ends}
        self.lost, self.left_out = [], 0
        self.ratio, self.low, self.high = shape.cost_ratio or (None, None, None)
        self.verdict = flat_verdict(shape)
        self.decided = self.verdict != INCONCLUSIVE
        self.outcome = {CONFIRMED: "flat", REFUTED: "grows"}.get(self.verdict, "undecided")


def flat_comparison(results, mechanism):
    mode, points = runs_cost_points(results, mechanism)
    return Comparison(
        8,
        f"{mechanism} server CPU per message, largest idle count / lowest",
        FlatRatio(mode, points),
        [mechanism],
    )


class Comparison:
    """A claim decided by an interval (a rules.CostRatio, or FlatRatio), and what feeds it: the
    sweep measures these mechanisms, modes and idle counts again while `open`
    (docs/claims.md#measured-until-decided)."""

    def __init__(self, claim, what, ratio, mechanisms, open_=None):
        self.claim, self.what, self.ratio = claim, what, ratio
        self.mechanisms = list(mechanisms)
        points = list(ratio.d) + ratio.lost
        self.modes = list(dict.fromkeys(p[0] for p in points))
        self.counts = sorted({idle_of(p) for p in points})
        # A point with too few repeats (a failed run) changes what is estimated: measure it again.
        self.open = (not ratio.decided or ratio.left_out > 0) if open_ is None else open_
        if not points:
            self.open = False  # neither side measured: nothing to repeat


def comparisons(results):
    """Every comparison a verdict rests on, in claim order (7, 8's runs.csv half per epoll, 10's
    churn half, 11's two)."""
    et, _ = cheaper_than(results, "epoll-et", "epoll-lt")
    found = [Comparison(7, "server CPU per message", et, EPOLLS)]
    found += [flat_comparison(results, mech) for mech in EPOLLS]
    churn = results.series("churn", "epoll-lt", "conns_per_s")
    if churn.xs():
        x0 = churn.xs()[0]
        ratio = rules.CostRatio(
            churn_points(results, "poll", x0), churn_points(results, "epoll-lt", x0)
        )
        found.append(Comparison(10, "time per connection (churn)", ratio, ["poll", "epoll-lt"]))
    a, b = COMPLETION, COMPLETION_BASELINE
    calls, cpu = (
        rules.CostRatio(
            regime_points(results, a, metric), regime_points(results, b, metric), instance=idle_of
        )
        for metric in (SYSCALL_METRIC, COST_METRIC)
    )
    # The CPU decides claim 11 only once the calls are fewer: measure it again only then.
    cpu_open = not cpu.decided and calls.outcome in (rules.CHEAPER, rules.UNDECIDED)
    found.append(Comparison(11, "system calls per message", calls, [a, b]))
    found.append(Comparison(11, "server CPU per message", cpu, [a, b], open_=cpu_open))
    return found


def decided_lines(results, number):
    """How measuring until decided went for a claim (env.json's `decide`, written by the sweep's
    extra rounds): [] for a run that did not measure until decided."""
    decide = results.raw_env.get("decide")
    if not isinstance(decide, dict):
        return []
    entry = (decide.get("claims") or {}).get(str(number))
    if entry is None:
        return ["measured until decided: decided with the planned repeats (no extra round)"]
    text = (
        f"measured until decided: {entry.get('extra_repeats', 0)} extra round(s) of fresh"
        f" instances, {entry.get('looks', 1)} look(s) of at most {decide.get('max_looks')}"
    )
    if entry.get("decided"):
        return [text + ", then decided"]
    return [
        text + f"; still undecided ({', '.join(entry.get('open') or [])}): {entry.get('stopped')}"
    ]


def evaluate(results, anchors=None):
    anchors = anchors or load_anchors()
    return [
        claim1(results),
        linear_cost_claim(results, 2, "select"),
        claim3(results),
        linear_cost_claim(results, 4, "poll"),
        claim5(results),
        claim6(results),
        claim7(results),
        claim8(results),
        claim9(results, anchors),
        claim10(results),
        claim11(results),
    ]
