"""The report's cross-check: our pollers beside libevent's backends under libevent's benchmark
method (micro.csv's `chain` family, harness/micro/ChainBenchmarks.cpp).

Per backend and count of watched pairs: our median cost per event, libevent's, their ratio
(ours / libevent) and a flag when the ratio is beyond ±CROSS_CHECK_TOLERANCE. Both sides run the
same callback over the same sockets; only the event loop differs, so a flagged point says that
something besides the loop differs, and is a finding to explain. A reported fact, never a verdict.
Stdlib only.
"""

from plot import peers
from plot.markdown import cell
from plot.run_row import number
from plot.numbers import fmt
from plot.rules import CROSS_CHECK_TOLERANCE

FAMILY = "chain"
# (our mechanism, libevent's), as plot/peers.py pairs them.
PAIRS = tuple(peers.LIBEVENT.items())
OVERLAP = {True: "yes", False: "no", None: "–"}
TITLE = "## Cross-check: libevent's benchmark method, our pollers beside libevent's"


def _ok(row):
    return (row.get("status") or "ok").strip() in ("ok", "") and (
        number(row.get("ns_per_call_median")) is not None
    )


def _figure(row):
    """(median, min, max) ns per event of one micro.csv row."""
    med = number(row.get("ns_per_call_median"))
    lo, hi = number(row.get("ns_per_call_min")), number(row.get("ns_per_call_max"))
    return med, lo if lo is not None else med, hi if hi is not None else med


def _key(row):
    """(watched, active, writes): the point a chain row measures."""
    return tuple(number(row.get(k)) for k in ("watched", "active", "writes"))


def wait_call(micro, mechanism, watched):
    """The wait family's one call with one ready descriptor at the same watched count, if any."""
    for r in micro:
        if (
            (r.get("family") or "").strip() == "wait"
            and (r.get("mechanism") or "").strip() == mechanism
            and number(r.get("ready")) == 1
            and number(r.get("watched")) == watched
            and _ok(r)
        ):
            return number(r.get("ns_per_call_median"))
    return None


def compare(micro):
    """One dict per (pair, point) where either side has a row: the figures of both sides (None
    when that side was skipped, with its status as why), the ratio ours / libevent, and whether
    it is beyond the tolerance."""
    micro = micro or []
    chain = [r for r in micro if (r.get("family") or "").strip() == FAMILY]
    out = []
    for ours, theirs in PAIRS:
        side = {
            m: {_key(r): r for r in chain if (r.get("mechanism") or "").strip() == m}
            for m in (ours, theirs)
        }
        for key in sorted(
            set(side[ours]) | set(side[theirs]), key=lambda k: tuple(x or 0 for x in k)
        ):
            a, b = side[ours].get(key), side[theirs].get(key)
            fa = _figure(a) if a and _ok(a) else None
            fb = _figure(b) if b and _ok(b) else None
            ratio = fa[0] / fb[0] if fa and fb and fb[0] else None
            overlap = fa[1] <= fb[2] and fb[1] <= fa[2] if ratio is not None else None
            out.append(
                {
                    "backend": ours,
                    "libevent": theirs,
                    "watched": key[0],
                    "active": key[1],
                    "writes": key[2],
                    "ours": fa,
                    "theirs": fb,
                    "ours_status": None if fa else (a or {}).get("status", "not measured"),
                    "theirs_status": None if fb else (b or {}).get("status", "not measured"),
                    "ratio": ratio,
                    "flagged": ratio is not None and abs(ratio - 1) > CROSS_CHECK_TOLERANCE,
                    "overlap": overlap,
                    "wait_call": wait_call(micro, ours, key[0]),
                }
            )
    return out


def _us(figure):
    """'median (min–max)' in µs."""
    med, lo, hi = (x / 1000 for x in figure)
    return f"{fmt(med)} ({fmt(lo)}–{fmt(hi)})"


def _cell(figure, status, notes):
    """The figure, or '– [k]' with k the footnote giving why that side has none."""
    if figure:
        return _us(figure)
    notes.setdefault(status, len(notes) + 1)
    return f"– [{notes[status]}]"


def _counts(rows):
    return ", ".join(fmt(r["watched"]) for r in rows)


def intro(first):
    """What the cross-check measures and how to read its table; first: its first row."""
    return (
        "An independent check of the micro-benchmarks: libevent's own benchmark method"
        " (`chain` family of micro.csv): N socketpairs, the read end of each watched,"
        f" {fmt(first['active'])} byte(s) in flight, each event's callback reads its byte and"
        f" writes one into the next pair, {fmt(first['writes'])} events per run; time per event"
        " with registration outside it. The same callback runs under our chat servers' pollers"
        " and under libevent's backends (forced with `event_config_avoid_method`, checked with"
        " `event_base_get_method`); only the event loop differs. µs per event, median of the"
        " repetitions (min–max). ratio = ours / libevent's; ⚑ marks a ratio beyond"
        f" ±{CROSS_CHECK_TOLERANCE:.0%} (`CROSS_CHECK_TOLERANCE`, plot/rules.py): something"
        " besides the loop differs there. For information, never a verdict. *one wait call* is"
        " the wait family's figure (k = 1 ready) at the same N, when measured: a per-event cost"
        " near it means the wait call is the event's cost. *ranges overlap*: whether the"
        " min–max ranges of the two sides' repetitions overlap."
    )


def section(results):
    rows = compare(results.micro)
    if not rows:
        return []
    compared = [r for r in rows if r["ratio"] is not None]
    flagged = [r for r in compared if r["flagged"]]
    first = rows[0]
    out = [
        TITLE,
        "",
        intro(first),
        "",
        "| backend | N pairs | ours µs/event | libevent µs/event | ratio | ranges overlap |"
        " one wait call µs |",
        "|---|---|---|---|---|---|---|",
    ]
    notes = {}
    neither = {}
    for r in rows:
        if r["ours"] is None and r["theirs"] is None:
            neither.setdefault((r["backend"], r["libevent"]), []).append(r)
            continue
        ratio = "–" if r["ratio"] is None else f"{r['ratio']:.2f}" + (" ⚑" if r["flagged"] else "")
        wait = "–" if r["wait_call"] is None else fmt(r["wait_call"] / 1000)
        out.append(
            f"| {r['backend']} / {r['libevent']} | {fmt(r['watched'])} |"
            f" {_cell(r['ours'], r['ours_status'], notes)} |"
            f" {_cell(r['theirs'], r['theirs_status'], notes)} | {ratio} |"
            f" {OVERLAP[r['overlap']]} | {wait} |"
        )
    out.append("")
    for (ours, theirs), skipped in neither.items():
        why = [_cell(None, skipped[0][k], notes)[2:] for k in ("ours_status", "theirs_status")]
        out.append(
            f"- Measured on neither side: {ours} / {theirs} at N = {_counts(skipped)} (ours"
            f" {why[0]}, libevent {why[1]})."
        )
    for status, k in notes.items():
        out.append(f"- [{k}] {cell(status)}")
    if neither or notes:
        out.append("")
    overlapping = sum(1 for r in flagged if r["overlap"])
    out += [
        (
            f"{len(compared)} points compared, {len(flagged)} beyond ±{CROSS_CHECK_TOLERANCE:.0%}"
            + (
                ": " + ", ".join(f"{r['backend']} at N={fmt(r['watched'])}" for r in flagged)
                if flagged
                else ""
            )
            + (f"; the repetitions' ranges of {overlapping} of them overlap" if flagged else "")
            + "."
        ),
        "",
    ]
    return out
