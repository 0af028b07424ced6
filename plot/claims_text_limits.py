"""Claims 1, 3, 5 and 6 in words: the findings of plot/claims_limits.py (select's FD_SETSIZE,
poll's descriptor limit, level- and edge-triggered reports) turned into the report's Claim."""

from plot import claims_limits as limits
from plot import rules
from plot.claim_common import Claim
from plot.claims_limits import (
    evaluate_claim1,
    evaluate_claim3,
    evaluate_claim5,
    evaluate_claim6,
)
from plot.numbers import fmt
from plot.rules import CONFIRMED, INCONCLUSIVE, REFUTED


def select_rows_lines(rows):
    """The figure lines of a claims_limits.SelectRows."""
    mechanism = rows.mechanism
    if rows.outcome == limits.NO_ROWS:
        return [f"runs.csv: no {mechanism} rows"]
    figures = []
    if rows.served_top is not None:
        figures.append(
            f"{mechanism} served every connection up to {rows.served_top} idle "
            f"(+{rows.served_active} active)"
        )
    if rows.first_refusal is not None:
        idle, status, refused = rows.first_refusal
        figures.append(
            f"first refusal at {idle} idle (status {status}, {refused} connection(s) refused);"
            f" {rows.refused_rows} {mechanism} row(s) refused in all"
        )
    name = "plain select" if mechanism == "select" else mechanism
    figures += {
        limits.PAST_LIMIT: [f"{name} served {rows.beyond_top} idle connections, past FD_SETSIZE"],
        limits.STOPPED_AT_LIMIT: [],
        limits.BELOW_LIMIT: [
            f"refused already at {rows.below_min} descriptors, well below"
            " FD_SETSIZE (another limit than FD_SETSIZE)"
        ],
        limits.NOT_PAST: [f"the sweep did not take {mechanism} past FD_SETSIZE"],
    }[rows.outcome]
    return figures


def select_probe_lines(probe):
    figures = []
    if probe.has_fd_setsize:
        figures.append(f"probe: FD_SETSIZE = {probe.fd_setsize}")
    if probe.macro:
        figures.append(f"probe: FD_SET on a descriptor ≥ FD_SETSIZE: {probe.macro}")
    if probe.kernel_accepts is not None:
        fd = probe.kernel_fd
        figures.append(
            f"probe: the select system call {'accepts' if probe.kernel_accepts else 'rejects'} a"
            f" descriptor ≥ FD_SETSIZE{f' ({fd})' if fd else ''} in a larger hand-made bitmap"
        )
    return figures


def python_probe_lines(python):
    if python is None:
        return []
    return [
        f"probe: Python's select.select ({python.interpreter} {python.version}) on descriptor"
        f" {python.fd}: {python.outcome}"
    ]


def select_dynamic_lines(dynamic):
    if dynamic is None:
        return []
    text = f"select-dynamic (fd_set allocated to size) served {dynamic.top} idle connections"
    if dynamic.cost is not None:
        text += (
            f"; server CPU {fmt(dynamic.cost)} µs/msg at"
            f" {fmt(dynamic.cost_idle)} idle ({dynamic.mode})"
        )
    return [text]


def select_limit_why(found):
    if found.verdict == REFUTED:
        return (
            "A plain-select server watched descriptors past FD_SETSIZE: check how it sizes its"
            " sets."
        )
    if found.verdict != CONFIRMED:
        return "The sweep did not show where select's limit lies."
    why = (
        "Measured: plain select stopped at FD_SETSIZE (see the figures). Explanation, not"
        " measured: glibc's `fd_set` is a fixed 1024-bit array, so a server using it must"
        " refuse descriptor 1024 and up."
    )
    witnesses = found.confirming_witnesses
    if witnesses:
        why += f" So did {' and '.join(witnesses)}, which meet the same limit (docs/peers.md)."
    if found.python_probe is not None and found.python_probe.verdict == CONFIRMED:
        why += (
            f" Python's select.select refused descriptor {found.python_probe.fd} too, with"
            " ValueError (probe)."
        )
    seen = [
        what
        for what, shown in (
            (
                "the select system call took a larger hand-made bitmap (probe)",
                found.probe.kernel_accepts,
            ),
            ("select-dynamic served past it (runs.csv)", found.dynamic is not None),
        )
        if shown
    ]
    if seen:
        why += " The limit is that type's, not the kernel's: here " + " and ".join(seen) + "."
    return why


def render_claim1(found):
    figures = select_rows_lines(found.rows)
    figures += select_probe_lines(found.probe) + python_probe_lines(found.python_probe)
    figures += select_dynamic_lines(found.dynamic)
    for witness in found.witnesses:
        figures += [f"witness {witness.mechanism}: {f}" for f in select_rows_lines(witness)]
    return Claim(1, found.verdict, figures, select_limit_why(found))


def claim1(results):
    return render_claim1(evaluate_claim1(results))


def poll_rows_lines(rows):
    if not rows.rows:
        figures = ["runs.csv: no poll rows"]
    elif rows.served_top is not None:
        top = rows.served_top
        figures = [
            f"poll served {top} idle connections, all still open at the end "
            f"({top / rows.fd_setsize:.1f} × FD_SETSIZE)"
        ]
    else:
        figures = []
    if rows.refused_where:
        idle, status, other = rows.refused_where
        figures.append(
            f"poll refused connections at {idle} idle ({status}) where {other} served them"
        )
    return figures


def poll_probe_lines(probe):
    figures = []
    if probe.watched_max is not None:
        figures.append(
            f"probe: one poll call watched {probe.watched_max} descriptors"
            + (f" (RLIMIT_NOFILE {probe.probe_rlimit})" if probe.probe_rlimit is not None else "")
        )
    if probe.over_errno:
        at = probe.at_rlimit_ok
        figures.append(
            "probe: poll with nfds = RLIMIT_NOFILE"
            f" {'accepted' if at else 'refused' if at is False else 'not tried'}; nfds ="
            f" RLIMIT_NOFILE + 1 → {probe.over_errno}"
        )
    if probe.rlimit:
        figures.append(f"RLIMIT_NOFILE here: {probe.rlimit}")
    return figures


def poll_limit_why(found):
    if found.verdict == REFUTED:
        return "poll refused connections another mechanism served: a limit of its own showed."
    if found.verdict != CONFIRMED:
        return (
            f"Neither the sweep nor the probe took poll past {rules.POLL_BEYOND_FACTOR} ×"
            " FD_SETSIZE."
        )
    over = found.probe.over_errno
    return (
        "Measured: poll went past FD_SETSIZE (see the figures). Explanation, not measured:"
        " poll takes an array of any length"
    ) + (
        f". The bound it meets is the process's descriptor limit: past RLIMIT_NOFILE the"
        f" probe's poll returned {over}, not a limit of poll itself."
        if over
        else ", and the bound it meets is the process's descriptor limit (RLIMIT_NOFILE)."
    )


def render_claim3(found):
    figures = poll_rows_lines(found.rows) + poll_probe_lines(found.probe)
    return Claim(3, found.verdict, figures, poll_limit_why(found))


def claim3(results):
    return render_claim3(evaluate_claim3(results))


# What each probe.json flag of claims_limits.LEVEL_TRIGGERED_KEYS and EPOLL_TRIGGER_KEYS says,
# in the figures' words.
FLAG_WORDS = {
    "select_lt_reports_again": "select reports an unserviced ready descriptor again",
    "poll_lt_reports_again": "poll reports an unserviced ready descriptor again",
    "epoll_lt_reports_again": (
        "epoll (default, level-triggered) reports an unserviced descriptor again"
    ),
    "epoll_et_reports_once": "epoll with EPOLLET reports it once",
}


def probe_flag_lines(found):
    if not found.probed:
        return ["not measured: probe.json absent (run mux-probe)"]
    return [
        (
            f"probe: {FLAG_WORDS[key]}: not measured ({key} missing)"
            if value is None
            else f"probe: {FLAG_WORDS[key]}: {'yes' if value else 'no'}"
        )
        for key, value in found.flags
    ]


LEVEL_TRIGGERED_WHY = {
    CONFIRMED: (
        "Measured by mux-probe: both reported an unserviced ready descriptor again."
        " Explanation, not measured: both return the current state of every descriptor at"
        " each call, so readiness that was not consumed is simply seen again."
    ),
    REFUTED: "The probe saw a ready descriptor that was not reported again.",
    INCONCLUSIVE: "Level triggering is a behaviour, not a timing: only mux-probe observes it.",
}


def render_claim5(found):
    return Claim(
        5, found.verdict, probe_flag_lines(found), LEVEL_TRIGGERED_WHY[found.verdict], "probe.json"
    )


def claim5(results):
    return render_claim5(evaluate_claim5(results))


EPOLL_TRIGGERS_WHY = {
    CONFIRMED: (
        "Measured by mux-probe: level-triggered epoll reported an unserviced descriptor"
        " again, EPOLLET once. Explanation, not measured: EPOLLET reports a transition to"
        " ready, so a server must drain each socket until EAGAIN; without it epoll behaves"
        " like poll."
    ),
    REFUTED: "The probe saw epoll behave otherwise than documented.",
    INCONCLUSIVE: "Trigger modes are behaviours, not timings: only mux-probe observes them.",
}


def render_claim6(found):
    figures = probe_flag_lines(found.flags)
    if found.et_new_data is not None:
        figures.append(
            "probe: EPOLLET reports again when new data arrive:"
            f" {'yes' if found.et_new_data else 'no'}"
        )
    figures += [
        f"runs.csv: {mech} served {n} ok point(s) end to end" for mech, n in found.served if n
    ]
    return Claim(6, found.verdict, figures, EPOLL_TRIGGERS_WHY[found.verdict], "probe.json")


def claim6(results):
    return render_claim6(evaluate_claim6(results))
