"""Claims 1, 3, 5 and 6: what select and poll can watch (FD_SETSIZE, no maximum) and how each
mechanism reports readiness (level- and edge-triggered, from probe.json). Each evaluate_claimN
returns plain data; plot/claims_text_limits.py says it in words."""

from dataclasses import dataclass
from typing import Optional

from plot import peers
from plot import rules
from plot.rules import CONFIRMED, INCONCLUSIVE, REFUTED
from plot.results_folder import FLOOR, number
from plot.claim_common import COST_METRIC, EPOLLS
from plot.claims_shape import runs_cost_fit

# How a mechanism's runs.csv rows met FD_SETSIZE (SelectRows.outcome).
NO_ROWS = "no rows"
PAST_LIMIT = "served past FD_SETSIZE"  # refuted
STOPPED_AT_LIMIT = "stopped at FD_SETSIZE"  # confirmed
BELOW_LIMIT = "refused well below FD_SETSIZE"  # another limit
NOT_PAST = "not taken past FD_SETSIZE"


@dataclass(frozen=True)
class SelectRows:
    """Claim 1 from runs.csv's rows of plain select (or of a peer over glibc's fd_set): how far it
    served (served_top idle, with served_active active), its first refusal (idle, status,
    connections refused) and how many rows refused, the largest idle count served past
    FD_SETSIZE, the fewest descriptors refused well below it."""

    mechanism: str
    outcome: str
    verdict: Optional[str]
    served_top: Optional[int] = None
    served_active: int = 0
    first_refusal: Optional[tuple] = None
    refused_rows: int = 0
    beyond_top: Optional[int] = None
    below_min: Optional[int] = None


def select_rows(results, mechanism="select"):
    limit = results.fd_setsize()
    selects = [r for r in results.runs if r.mechanism == mechanism]
    if not selects:
        return SelectRows(mechanism, NO_ROWS, None)

    def needed(r):
        return r.idle + int(r.get("active") or 0)

    refused = [r for r in selects if r.refused_fd_setsize or r.refused_count > 0]
    served = [r for r in selects if r.ok and not r.refused_count > 0]
    first = None
    if refused:
        first = min(refused, key=lambda r: (r.idle, not r.status.startswith("refused")))
        first = (first.idle, first.status, int(first.refused_count))
    below = [needed(r) for r in refused if needed(r) < limit - rules.FD_MARGIN]
    beyond = [
        r.idle
        for r in served
        if watched_idle(r) + int(r.get("active") or 0) >= limit + rules.FD_MARGIN
    ]
    if beyond:
        outcome, verdict = PAST_LIMIT, REFUTED
    elif refused and not below and any(needed(r) < limit - rules.FD_MARGIN for r in served):
        outcome, verdict = STOPPED_AT_LIMIT, CONFIRMED
    elif below:
        outcome, verdict = BELOW_LIMIT, INCONCLUSIVE
    else:
        outcome, verdict = NOT_PAST, None
    return SelectRows(
        mechanism,
        outcome,
        verdict,
        max(r.idle for r in served) if served else None,
        int(served[0].get("active") or 0) if served else 0,
        first,
        len(refused),
        max(beyond) if beyond else None,
        min(below) if below else None,
    )


@dataclass(frozen=True)
class SelectProbe:
    """Claim 1 from probe.json: FD_SETSIZE (has_fd_setsize False: not probed), what FD_SET does
    past it, whether the kernel's select takes a larger hand-made bitmap (and on which fd)."""

    has_fd_setsize: bool = False
    fd_setsize: object = None
    macro: Optional[str] = None
    kernel_accepts: Optional[bool] = None
    kernel_fd: object = None

    @property
    def verdict(self):
        aborts = self.macro and any(w in self.macro for w in ("SIGABRT", "killed", "out of range"))
        return CONFIRMED if aborts else None


def select_probe(results):
    probe = results.probe or {}
    macro = probe.get("fd_set_macro_ge_fdsetsize")
    return SelectProbe(
        "fd_setsize" in probe,
        probe.get("fd_setsize"),
        macro if isinstance(macro, str) and macro else None,
        probe.get("select_syscall_accepts_fd_ge_fdsetsize"),
        probe.get("select_syscall_fd"),
    )


@dataclass(frozen=True)
class PythonSelectProbe:
    """Claim 1's interpreter witness from probe.json (harness/micro/python_select_probe.py): what
    Python's select.select did with descriptor fd (>= FD_SETSIZE), under which interpreter (the one
    py-select runs with). Confirms when it raised ValueError; any other outcome is shown, not
    counted (an interpreter built with a larger FD_SETSIZE says nothing of the kernel's select)."""

    interpreter: str
    version: str
    fd: object
    outcome: str

    @property
    def verdict(self):
        return CONFIRMED if self.outcome.startswith("raised ValueError") else None


def python_select_probe(results):
    found = (results.probe or {}).get("python_select_ge_fdsetsize")
    if not isinstance(found, dict) or not isinstance(found.get("outcome"), str):
        return None
    return PythonSelectProbe(
        str(found.get("interpreter", "?")),
        str(found.get("version", "?")),
        found.get("fd"),
        found["outcome"],
    )


@dataclass(frozen=True)
class SelectDynamic:
    """Claim 1 from select-dynamic (fd_set allocated to size): the largest idle count it served,
    and its server CPU per message at its largest idle count in the cost mode (None: not
    measured)."""

    top: int
    mode: Optional[str] = None
    cost: Optional[float] = None
    cost_idle: object = None


def select_dynamic(results):
    mode, _ = runs_cost_fit(results, "select-dynamic")
    dyn_rows = [r for r in results.runs if r.mechanism == "select-dynamic" and r.ok]
    if not dyn_rows:
        return None
    top = max(r.idle for r in dyn_rows)
    cost = results.series(mode, "select-dynamic", COST_METRIC) if mode else None
    if cost is None or not cost.xs():
        return SelectDynamic(top)
    return SelectDynamic(top, mode, cost.median(cost.xs()[-1]), cost.xs()[-1])


@dataclass(frozen=True)
class SelectLimit:
    """Claim 1: plain select's rows, the probe, select-dynamic (None: no ok row), and the peers
    over select the run measured (a SelectRows each: witnesses, docs/peers.md)."""

    verdict: str
    rows: SelectRows
    probe: SelectProbe
    dynamic: Optional[SelectDynamic]
    witnesses: tuple
    python_probe: Optional[PythonSelectProbe] = None

    @property
    def confirming_witnesses(self):
        return [w.mechanism for w in self.witnesses if w.verdict == CONFIRMED]


def evaluate_claim1(results):
    rows = select_rows(results)
    probe = select_probe(results)
    witnesses = tuple(
        select_rows(results, peer)
        for peer in peers.peers_of("select")
        if peer in results.mechanisms()
    )
    verdicts = [v for v in [rows.verdict, probe.verdict] if v is not None]
    verdicts += [w.verdict for w in witnesses if w.verdict is not None]
    python = python_select_probe(results)
    if python is not None and python.verdict is not None:
        verdicts.append(python.verdict)
    return SelectLimit(
        rules.combine(verdicts), rows, probe, select_dynamic(results), witnesses, python
    )


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


@dataclass(frozen=True)
class PollRows:
    """Claim 3 from runs.csv's poll rows: how many, the largest idle count served with every
    connection open (against FD_SETSIZE), and the first refusal where another mechanism served
    (idle, status, that mechanism)."""

    rows: int
    fd_setsize: int
    served_top: Optional[int] = None
    refused_where: Optional[tuple] = None

    @property
    def verdicts(self):
        out = []
        if self.served_top is not None and self.served_top >= (
            rules.POLL_BEYOND_FACTOR * self.fd_setsize
        ):
            out.append(CONFIRMED)
        return out + ([REFUTED] if self.refused_where else [])


def poll_refusal(results, polls):
    for r in [r for r in polls if not r.ok]:
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
            return (r.idle, r.status, others[0].mechanism)
    return None


def poll_rows(results):
    polls = [r for r in results.runs if r.mechanism == "poll"]
    served = [r for r in polls if r.ok and intact(r)]
    top = max(r.idle for r in served) if served else None
    return PollRows(len(polls), results.fd_setsize(), top, poll_refusal(results, polls))


@dataclass(frozen=True)
class PollProbe:
    """Claim 3 from probe.json: one poll call's largest watched set, what nfds = RLIMIT_NOFILE and
    RLIMIT_NOFILE + 1 returned, and the descriptor limit (the probe's, else env.json's)."""

    fd_setsize: int
    watched_max: Optional[int] = None
    probe_rlimit: object = None
    over_errno: object = None
    at_rlimit_ok: Optional[bool] = None
    rlimit: object = None

    @property
    def verdicts(self):
        limit = rules.POLL_BEYOND_FACTOR * self.fd_setsize
        return [CONFIRMED] if self.watched_max is not None and self.watched_max >= limit else []


def poll_probe(results):
    probe = results.probe or {}
    watched = number(probe.get("poll_watched_max"))
    return PollProbe(
        results.fd_setsize(),
        int(watched) if watched else None,
        probe.get("rlimit_nofile"),
        probe.get("poll_nfds_over_rlimit_errno"),
        probe.get("poll_nfds_at_rlimit_ok"),
        probe.get("rlimit_nofile") or results.env.get("rlimit_nofile"),
    )


@dataclass(frozen=True)
class PollLimit:
    """Claim 3: poll's rows and the probe."""

    verdict: str
    rows: PollRows
    probe: PollProbe


def evaluate_claim3(results):
    rows, probe = poll_rows(results), poll_probe(results)
    return PollLimit(rules.combine(rows.verdicts + probe.verdicts), rows, probe)


@dataclass(frozen=True)
class ProbeFlags:
    """probe.json booleans that must all be true for a claim: (key, value) per key, value None when
    the key is missing; probed False when probe.json is absent."""

    verdict: str
    probed: bool
    flags: tuple = ()


def probe_flags(results, keys):
    probe = results.probe
    if probe is None:
        return ProbeFlags(INCONCLUSIVE, False)
    flags = tuple((key, bool(probe[key]) if key in probe else None) for key in keys)
    seen = [value for _, value in flags if value is not None]
    if seen and not all(seen):
        verdict = REFUTED
    elif len(seen) == len(keys):
        verdict = CONFIRMED
    else:
        verdict = INCONCLUSIVE
    return ProbeFlags(verdict, True, flags)


LEVEL_TRIGGERED_KEYS = ("select_lt_reports_again", "poll_lt_reports_again")


EPOLL_TRIGGER_KEYS = ("epoll_lt_reports_again", "epoll_et_reports_once")


def evaluate_claim5(results):
    return probe_flags(results, LEVEL_TRIGGERED_KEYS)


@dataclass(frozen=True)
class EpollTriggers:
    """Claim 6: the probe's flags, whether EPOLLET reports again on new data (None: not probed),
    and how many ok points each epoll served end to end."""

    verdict: str
    flags: ProbeFlags
    et_new_data: Optional[bool]
    served: tuple


def evaluate_claim6(results):
    flags = probe_flags(results, EPOLL_TRIGGER_KEYS)
    probe = results.probe or {}
    key = "epoll_et_reports_new_data"
    new_data = bool(probe[key]) if key in probe else None
    served = tuple(
        (mech, sum(1 for r in results.runs if r.mechanism == mech and r.ok)) for mech in EPOLLS
    )
    return EpollTriggers(flags.verdict, flags, new_data, served)
