"""Our figures beside the published ones of anchors.json, judged by fixed rules (rules.py).

Different decades, machines and workloads: the comparison asks whether the *shape* agrees
(what grows, what stays flat) and whether magnitudes are within an order of magnitude, never
whether the numbers match.
"""

import math

from plot import rules
from plot.numbers import fmt

OURS_EPOLL = "epoll-lt"  # the published epoll figures are level-triggered (the default)


def nearest(xs, target):
    """Our measured x closest to a published one on a log scale, if within a factor 2."""
    if not xs:
        return None
    best = min(xs, key=lambda x: abs(math.log(max(x, 1e-9) / target)))
    return best if 0.5 <= best / target <= 2.0 else None


def published_shape(values):
    values = [v for v in values if v is not None]
    if len(values) < 2 or values[0] <= 0:
        return None
    ratio = values[-1] / values[0]
    if ratio >= rules.PUBLISHED_GROWS_RATIO:
        return "grows"
    if ratio <= rules.PUBLISHED_FLAT_RATIO:
        return "flat"
    return "between"


def our_shape(fit):
    if fit.shape in (rules.GROWS, rules.GROWS_LINEAR):
        return "grows"
    if fit.shape == rules.FLAT:
        return "flat"
    return fit.shape


def same_order(a, b):
    if not a or not b or a <= 0 or b <= 0:
        return None
    return max(a / b, b / a) <= rules.ORDER_OF_MAGNITUDE


def words_shape(theirs, ours):
    if theirs is None or ours is None:
        return "not comparable"
    if theirs == ours and theirs in ("grows", "flat"):
        return "**same shape**"
    if {theirs, ours} == {"grows", "flat"}:
        return "**differs**"
    return "inconclusive"


def words_order(flag):
    return {
        True: "same order of magnitude",
        False: "**differs by more than an order of magnitude**",
        None: "not comparable",
    }[flag]


def kerrisk_finding(pub, a, series, pairs):
    """One line per mechanism: its shape beside the published one, the growth between the
    counts both measured, and the per-call time at the largest; pairs: (N, published µs, our
    µs)."""
    fit = rules.Fit(series)
    theirs_shape = published_shape(a[pub])
    mine = our_shape(fit)
    growth_theirs = a[pub][-1] / a[pub][0]
    first, last = (fmt(series.xs()[0]), fmt(series.xs()[-1])) if series.xs() else ("–", "–")
    text = (
        f"- {pub}: published {theirs_shape} (×{fmt(growth_theirs)} from N = {a['N'][0]} to"
        f" {a['N'][-1]:,}); ours {mine} over N = {first}–{last} →"
        f" {words_shape(theirs_shape, mine)}"
    )
    if len(pairs) >= 2:
        growth_ours = pairs[-1][2] / pairs[0][2]
        published_growth = pairs[-1][1] / pairs[0][1]
        order = words_order(same_order(published_growth, growth_ours))
        text += (
            f"; growth between N = {pairs[0][0]:,} and {pairs[-1][0]:,}: published"
            f" ×{fmt(published_growth)}, ours ×{fmt(growth_ours)} ({order})"
        )
    if pairs:
        text += (
            f"; per-call time at N = {pairs[-1][0]:,}:"
            f" {words_order(same_order(pairs[-1][1], pairs[-1][2]))}"
        )
    return text


def kerrisk(results, anchors):
    a = anchors["kerrisk2006"]
    lines = [
        f"**{a['source']}** — {a['what']}. Converted to µs per call (seconds × 10⁶ /"
        f" {a['calls']:,}); ours: micro.csv, one wait call with one descriptor ready."
    ]
    if results.micro is None:
        return lines + [
            "",
            "Not compared: micro.csv absent (the system calls were not timed alone).",
        ]
    rows = [
        "",
        (
            "| mechanism | N (published / ours) | published µs per call | ours µs per call | ratio"
            " published ÷ ours |"
        ),
        "|---|---|---|---|---|",
    ]
    verdicts = []
    for pub, ours_name in (("select", "select"), ("poll", "poll"), ("epoll", OURS_EPOLL)):
        ready = results.micro_fixed_value("wait", ours_name, "ready", prefer=1.0)
        if ready is None:
            rows.append(f"| {pub} | – | – | not measured | – |")
            continue
        series = results.micro_series("wait", ours_name, "watched", "ready", ready)
        pairs = []
        for n, seconds in zip(a["N"], a[pub]):
            theirs_us = seconds * 1e6 / a["calls"]
            x = nearest(series.xs(), n)
            if x is None:
                rows.append(f"| {pub} | {n:,} / – | {fmt(theirs_us)} | not measured | – |")
                continue
            ours_us = series.median(x) / 1000.0
            pairs.append((n, theirs_us, ours_us))
            rows.append(
                f"| {pub} | {n:,} / {fmt(x)} | {fmt(theirs_us)} | {fmt(ours_us)} |"
                f" {fmt(theirs_us / ours_us)} |"
            )
        verdicts.append(kerrisk_finding(pub, a, series, pairs))
    return lines + rows + [""] + verdicts


def throughput_at(results, mode, mech, idle_target):
    # A throughput is a capacity only where the server bound it: loadgen- and latency-bound rows
    # (bound_by) measure a round-trip rate instead, and are left out (older runs record no
    # bound_by).
    s = results.series(mode, mech, "throughput_msgs_s", server_bound_only=True)
    x0 = s.xs()[0] if s.xs() else None
    x1 = nearest([x for x in s.xs() if x > 0], idle_target)
    if x0 is None or x1 is None or x0 != 0:
        return None
    return s, x0, x1


def gammo_mode(results):
    """The mode Gammo's comparison reads (the first of flood, pingpong, broadcast with a
    server-bound point, when bound_by is recorded), the modes that record bound_by, and why
    nothing can be compared ("" when something can)."""
    candidates = [m for m in ("flood", "pingpong", "broadcast") if m in results.modes()]
    if not candidates:
        return None, [], "Not compared: no flood, pingpong or broadcast rows in runs.csv."

    def server_bound(m):
        return any(r.ok and r.bound_by == "server" for r in results.scenario_runs(m))

    recorded = [m for m in candidates if results.has_bound_by(results.scenario_runs(m))]
    if recorded and not any(server_bound(m) for m in candidates):
        return (
            None,
            recorded,
            f"Not compared: no {' or '.join(candidates)} point was server-bound in this run"
            " (bound_by: latency or loadgen), so throughput here is a round-trip rate, not the"
            " server's capacity, and says nothing about what idle connections cost it.",
        )
    mode = next((m for m in candidates if m not in recorded or server_bound(m)), candidates[0])
    return mode, recorded, ""


def gammo_losses(results, mode, recorded, idle):
    """Per mechanism, a dict: the throughput at 0 idle (t0) and at the count nearest idle (t1 at
    x1), the loss and its range from the repeats' extremes; or why there is none (why)."""
    out = []
    for mech in results.mechanisms(results.scenario_runs(mode)):
        got = throughput_at(results, mode, mech, idle)
        if got is None:
            measured = len(results.series(mode, mech, "throughput_msgs_s"))
            why = (
                "refused: FD_SETSIZE"
                if results.refused_idles(mode, mech)
                else (
                    "not server-bound at 0 idle or near it"
                    if mode in recorded and measured
                    else "not measured"
                )
            )
            out.append({"mechanism": mech, "why": why})
            continue
        s, x0, x1 = got
        t0, t1 = s.median(x0), s.median(x1)
        out.append(
            {
                "mechanism": mech,
                "t0": t0,
                "t1": t1,
                "x1": x1,
                "loss": 1 - t1 / t0,
                "low": 1 - s.high(x1) / s.low(x0),
                "high": 1 - s.low(x1) / s.high(x0),
            }
        )
    return out


def gammo_rows(losses, a):
    rows = [
        "",
        "| mechanism | throughput at 0 idle (msg/s) | at N idle | loss | published loss |",
        "|---|---|---|---|---|",
    ]
    for p in losses:
        mech = p["mechanism"]
        if "why" in p:
            rows.append(
                f"| {mech} | – | {p['why']} | – |"
                f" {'up to 79%' if mech in ('select', 'poll') else '–'} |"
            )
            continue
        published = (
            f"up to {a['select_poll_throughput_degradation_max']:.0%}"
            if mech in ("select", "poll", "select-dynamic")
            else "–"
        )
        rows.append(
            f"| {mech} | {fmt(p['t0'])} | {fmt(p['t1'])} at {fmt(p['x1'])} | {p['loss']:.0%}"
            f" ({p['low']:.0%} … {p['high']:.0%}) | {published} |"
        )
    return rows


def gammo_findings(losses, a):
    degrade = {p["mechanism"]: (p["loss"], p["low"], p["high"]) for p in losses if "loss" in p}
    at_zero = {p["mechanism"]: p["t0"] for p in losses if "t0" in p}
    findings = []
    for mech in [m for m in ("select", "select-dynamic", "poll") if m in degrade]:
        loss, lo, _ = degrade[mech]
        degrades = lo >= rules.DEGRADES_REL
        published = a["select_poll_throughput_degradation_max"]
        findings.append(
            f"- {mech} {'degrades' if degrades else 'does not clearly degrade'} (loss {loss:.0%}, "
            f"low end {lo:.0%}) → {'**same shape**' if degrades else '**differs**'} as the"
            " published select/poll; magnitude against 79%:"
            f" {words_order(same_order(max(loss, 1e-9), published))}"
        )
    for mech in ("epoll-lt", "epoll-et"):
        if mech in degrade:
            loss, lo, hi = degrade[mech]
            findings.append(
                f"- {mech}: loss {loss:.0%} ({lo:.0%} … {hi:.0%}): "
                + (
                    "stays within the threshold, as the paper's epoll"
                    if hi < rules.DEGRADES_REL
                    else "degrades too"
                    if lo >= rules.DEGRADES_REL
                    else "unclear"
                )
            )
    if OURS_EPOLL in at_zero:
        for mech in ("select", "poll"):
            if mech in at_zero:
                ratio = at_zero[mech] / at_zero[OURS_EPOLL]
                comparable = abs(ratio - 1) <= rules.DEGRADES_REL
                findings.append(
                    f"- at 0 idle {mech} delivers {ratio:.2f} × epoll-lt's throughput: "
                    + (
                        "comparable, as published"
                        if comparable
                        else "not comparable, unlike the paper"
                    )
                )
    return findings


def gammo(results, anchors):
    """Throughput lost to idle connections beside Gammo et al. 2004 (markdown lines)."""
    a = anchors["gammo2004"]
    lines = [
        f"**{a['source']}** — {a['setup']}: “{a['degradation_quote']}”;"
        f" “{a['no_idle_comparable']}”."
    ]
    mode, recorded, why_not = gammo_mode(results)
    if why_not:
        return lines + ["", why_not]
    lines.append(
        f"Ours: {mode} throughput at the idle count nearest {a['idle']:,} against 0 idle "
        "(median over repeats; range from the repeats' extremes)"
        + (
            ", server-bound points only (bound_by = server): where the loadgen or the round trip"
            " bound a point, its throughput is not the server's capacity."
            if mode in recorded
            else "."
        )
    )
    losses = gammo_losses(results, mode, recorded, a["idle"])
    return lines + gammo_rows(losses, a) + [""] + gammo_findings(losses, a)


def coroio(results, anchors):
    a = anchors["coroio_libevent_bench"]
    lines = [
        f"**{a['source']}**. Ours: micro.csv, one wait call with one descriptor ready; the ratio to"
        " epoll removes most of the machine's speed from the comparison."
    ]
    if results.micro is None:
        return lines + ["", "Not compared: micro.csv absent."]
    epoll_ready = results.micro_fixed_value("wait", OURS_EPOLL, "ready", prefer=1.0)
    if epoll_ready is None:
        return lines + ["", "Not compared: no epoll wait timings in micro.csv."]
    epoll = results.micro_series("wait", OURS_EPOLL, "watched", "ready", epoll_ready)
    findings = []
    for mech in ("select", "poll"):
        ready = results.micro_fixed_value("wait", mech, "ready", prefer=1.0)
        if ready is None:
            continue
        s = results.micro_series("wait", mech, "watched", "ready", ready)
        pairs = []
        for n, theirs, theirs_epoll in zip(a["N"], a[mech], a["epoll"]):
            x = nearest(sorted(set(s.xs()) & set(epoll.xs())), n)
            if x is None or theirs is None:
                continue
            pairs.append((n, x, theirs / theirs_epoll, s.median(x) / epoll.median(x)))
        if not pairs:
            findings.append(
                f"- {mech}: no measurement near N = {', '.join(f'{n:,}' for n in a['N'])}"
                + (" (select stops at FD_SETSIZE)" if mech == "select" else "")
            )
            continue
        text = f"- {mech} ÷ epoll: " + "; ".join(
            f"N = {n:,}: published ×{fmt(p)}, ours ×{fmt(o)} at"
            f" {fmt(x)} ({words_order(same_order(p, o))})"
            for n, x, p, o in pairs
        )
        if len(pairs) >= 2:
            theirs_grows = pairs[-1][2] >= 2 * pairs[0][2]
            ours_grows = pairs[-1][3] >= 2 * pairs[0][3]
            text += " → " + (
                "**same shape** (the gap widens with N)"
                if theirs_grows == ours_grows
                else "**differs**"
            )
        findings.append(text)
    return lines + [""] + findings
