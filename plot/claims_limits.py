"""Claims 1, 3, 5 and 6: what select and poll can watch (FD_SETSIZE, no maximum) and how each
mechanism reports readiness (level- and edge-triggered, from probe.json)."""


from plot import peers
from plot import rules
from plot.rules import CONFIRMED, INCONCLUSIVE, REFUTED, fmt
from plot.results_folder import FLOOR, number
from plot.claim_common import COST_METRIC, EPOLLS, Claim
from plot.claims_shape import runs_cost_fit


def select_rows_evidence(results, mechanism="select"):
    """Claim 1 from runs.csv's rows of plain select (or of a peer over glibc's fd_set: a witness):
    where it served and where it refused, against FD_SETSIZE. Returns (figures, verdicts)."""
    limit = results.fd_setsize()
    selects = [r for r in results.runs if r.mechanism == mechanism]
    name = "plain select" if mechanism == "select" else mechanism
    figures, verdicts = [], []

    def needed(r):
        return r.idle + int(r.get("active") or 0)

    refused = [r for r in selects if r.refused_fd_setsize or r.refused_count > 0]
    served = [r for r in selects if r.ok and not r.refused_count > 0]
    if not selects:
        figures.append(f"runs.csv: no {mechanism} rows")
    else:
        if served:
            figures.append(
                f"{mechanism} served every connection up to {max(r.idle for r in served)} idle "
                f"(+{int(served[0].get('active') or 0)} active)"
            )
        if refused:
            first = min(refused, key=lambda r: (r.idle, not r.status.startswith("refused")))
            figures.append(
                f"first refusal at {first.idle} idle (status {first.status},"
                f" {int(first.refused_count)} connection(s) refused); {len(refused)} {mechanism}"
                " row(s) refused in all"
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
                f"{name} served {max(r.idle for r in beyond)} idle connections, past FD_SETSIZE"
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
            figures.append(f"the sweep did not take {mechanism} past FD_SETSIZE")
    return figures, verdicts


def probe_evidence(results):
    """Claim 1 from probe.json: FD_SETSIZE, what FD_SET does past it, whether the kernel's select
    takes a larger bitmap. Returns (figures, verdicts, whether the kernel accepts one)."""
    figures, verdicts = [], []
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
    return figures, verdicts, kernel_accepts


def select_dynamic_evidence(results):
    """Claim 1 from select-dynamic (fd_set allocated to size): how far it served. Returns
    (figures, its ok rows)."""
    figures = []
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
    return figures, dyn_rows


def witness_evidence(results):
    """Claim 1 from the peers over select (libevent's select backend, Python's select.select;
    docs/peers.md) that the run measured: their rows, read as plain select's. Returns (figures,
    verdicts, the witnesses that confirmed)."""
    figures, verdicts, confirming = [], [], []
    for peer in [p for p in peers.peers_of("select") if p in results.mechanisms()]:
        peer_figures, peer_verdicts = select_rows_evidence(results, peer)
        figures += [f"witness {peer}: {f}" for f in peer_figures]
        verdicts += peer_verdicts
        if CONFIRMED in peer_verdicts:
            confirming.append(peer)
    return figures, verdicts, confirming


def claim1(results):
    figures, verdicts = select_rows_evidence(results)
    probe_figures, probe_verdicts, kernel_accepts = probe_evidence(results)
    dyn_figures, dyn_rows = select_dynamic_evidence(results)
    witness_figures, witness_verdicts, witnesses = witness_evidence(results)
    figures += probe_figures + dyn_figures + witness_figures
    verdicts += probe_verdicts + witness_verdicts
    verdict = rules.combine(verdicts)
    if verdict == CONFIRMED:
        why = (
            "Measured: plain select stopped at FD_SETSIZE (see the figures). Explanation, not"
            " measured: glibc's `fd_set` is a fixed 1024-bit array, so a server using it must"
            " refuse descriptor 1024 and up."
        )
        if witnesses:
            why += f" So did {' and '.join(witnesses)}, which meet the same limit (docs/peers.md)."
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


def poll_rows_evidence(results):
    """Claim 3 from runs.csv's poll rows: how far poll served with every connection open, and
    whether it refused where another mechanism served. Returns (figures, verdicts)."""
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
    return figures, verdicts


def poll_probe_evidence(results):
    """Claim 3 from probe.json: one poll call's largest watched set and what nfds past
    RLIMIT_NOFILE returns. Returns (figures, verdicts)."""
    limit = results.fd_setsize()
    figures, verdicts = [], []
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
    return figures, verdicts


def claim3(results):
    figures, verdicts = poll_rows_evidence(results)
    probe_figures, probe_verdicts = poll_probe_evidence(results)
    figures += probe_figures
    verdicts += probe_verdicts
    probe = results.probe or {}
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
