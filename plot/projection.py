"""The report's projection to 100k and 1M idle connections (issue 11).

A projection, not a measurement: every figure extends a measured one linearly past the largest
idle count this machine could hold, and says which.
  - kernel memory: N x the bytes per idle connection measured at the largest idle count
    (runs.csv kernel_bytes_per_idle_*; per side where the run could tell the sides apart);
  - one poll call: the least-squares line of claim 4 (plot/claims.py micro_wait_fit: one poll
    call against watched descriptors, micro.csv), and poll's server CPU per message (claim 4's
    runs.csv fit, runs_cost_fit), evaluated at N with their slope intervals;
  - the time to open N connections: N / the connect rate measured at the largest count
    (idle_open_s);
  - the limits to raise, with commands (harness/common/preflight.py, which checks a machine).
"""

import statistics

from harness.common import preflight
from harness.common.preflight import human_bytes
from plot import claims
from plot.numbers import fmt

TARGETS = [100_000, 1_000_000]


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def kernel_bytes(results):
    """At the largest idle count with kernel memory: {count, server, holders, both, method}."""
    rows = [
        r
        for r in results.runs
        if not r.is_floor and r.idle > 0 and r.get("kernel_bytes_per_idle_both") is not None
    ]
    if not rows:
        return None
    count = max(r.idle for r in rows)
    at = [r for r in rows if r.idle == count]
    methods = sorted({r.text("kernel_bytes_method") for r in at})
    return {
        "count": count,
        "server": _median(r.get("kernel_bytes_per_idle_server") for r in at),
        "holders": _median(r.get("kernel_bytes_per_idle_holders") for r in at),
        "both": _median(r.get("kernel_bytes_per_idle_both") for r in at),
        "method": "; ".join(m for m in methods if m),
    }


def connect_rate(results):
    """(connections per second, idle count) from idle_open_s at the largest count, or None."""
    rows = [
        r
        for r in results.runs
        if not r.is_floor and r.idle > 0 and r.get("idle_open_s") and r.mechanism != "select"
    ]
    if not rows:
        return None
    count = max(r.idle for r in rows)
    rate = _median(count / r.get("idle_open_s") for r in rows if r.idle == count)
    return rate, count


def line_at(fit, n):
    """(value, low, high) of a fitted line at x = n: the slope interval carried to n."""
    if fit is None or fit.slope is None:
        return None
    return (
        fit.intercept + fit.slope * n,
        fit.intercept + fit.slope_low * n,
        fit.intercept + fit.slope_high * n,
    )


def duration(seconds):
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min"


def memory_lines(kb):
    if kb is None:
        return ["- Kernel memory: not measured in this run (no kernel_bytes_per_idle_* columns)."]
    out = []
    for n in TARGETS:
        parts = []
        if kb["server"] is not None and kb["holders"] is not None:
            parts.append(
                f"server {human_bytes(n * kb['server'])}, holders {human_bytes(n * kb['holders'])}"
            )
        parts.append(f"both sides {human_bytes(n * kb['both'])}")
        out.append(f"- Kernel memory at {n:,} idle: " + ", ".join(parts) + ".")
    per = f"{fmt(kb['both'])} B per connection, both sides"
    if kb["server"] is not None:
        per += f" (server {fmt(kb['server'])}, holders {fmt(kb['holders'])})"
    out.append(
        f"  Extends: {per}, measured at {kb['count']:,} idle ({kb['method'] or 'method unknown'})."
    )
    if kb["server"] is None:
        out.append(
            "  Per side: not separable on the machine of this run (both ends of a loopback"
            " connection live in one kernel, and the run could use no cgroup memory accounting;"
            " kernel_bytes_method says why): only the sum is projected."
        )
    return out


def poll_lines(results):
    out = []
    ready, fit = (
        claims.micro_wait_fit(results, "poll") if results.micro is not None else (None, None)
    )
    if fit is not None and fit.slope is not None:
        for n in TARGETS:
            v, lo, hi = line_at(fit, n)
            out.append(
                f"- One poll call watching {n:,} descriptors ({fmt(ready)} ready):"
                f" {fmt(v / 1e6)} ms (slope interval {fmt(lo / 1e6)} … {fmt(hi / 1e6)} ms)."
            )
        out.append(
            f"  Extends: claim 4's fit of one poll call against watched descriptors (micro.csv),"
            f" {fmt(fit.slope)} ns per descriptor (95 % CI {fmt(fit.slope_low)} …"
            f" {fmt(fit.slope_high)}), measured up to {fmt(fit.xs[-1])} watched."
        )
    else:
        out.append("- One poll call: no micro.csv fit in this run (claim 4's micro evidence).")
    mode, rfit = claims.runs_cost_fit(results, "poll")
    if rfit is not None and rfit.slope is not None:
        for n in TARGETS:
            v, lo, hi = line_at(rfit, n)
            out.append(
                f"- poll's server CPU per message ({mode}) at {n:,} idle: {fmt(v / 1e3)} ms"
                f" ({fmt(lo / 1e3)} … {fmt(hi / 1e3)}), i.e. at most {fmt(1e6 / v)} messages/s"
                " on one CPU."
            )
        out.append(
            f"  Extends: claim 4's runs.csv fit, {fmt(rfit.slope * 1e3)} ns per idle connection per"
            f" message, measured up to {fmt(rfit.xs[-1])} idle."
        )
    return out


def open_lines(results):
    rate = connect_rate(results)
    if rate is None:
        return ["- Time to open them: not measured in this run (no idle_open_s)."]
    per_s, count = rate
    out = [f"- Time to open {n:,} idle connections: {duration(n / per_s)}" for n in TARGETS]
    out.append(
        f"  Extends: {fmt(per_s)} connections/s, measured opening {count:,} (idle_open_s), taken"
        " as constant."
    )
    return out


def limit_lines():
    out = []
    for n in TARGETS:
        out.append(
            f"- Limits for {n:,} idle connections (the values needed, whatever a machine has):"
        )
        for c in preflight.requirements(n):
            out.append(f"  - {c.name} ≥ {c.need}: `{c.commands[0].split('   #')[0]}`")
        ports = preflight.port_check(n, (32768, 60999))
        out.append(
            f"  - source and destination addresses: one 4-tuple per connection; with Linux's"
            f" default ephemeral ports ({ports.have}) that is {ports.need} against one server"
            f" address and port (loopback: 127.0.0.2, .3, …; a network: that many source"
            f" addresses, or server ports); fewer with `{ports.commands[0].split('   #')[0]}`"
        )
    out.append(
        "  `./bench --preflight --max-idle N` checks a machine against these and prints only what"
        " it must raise; it changes nothing."
    )
    return out


def section(results):
    """The report's lines."""
    return (
        [
            "## Projection to 100k and 1M idle connections",
            "",
            (
                "**This is a projection, not a measurement.** This machine held at most"
                f" {fmt(results.env.get('largest_idle') or 0)} idle connections per server; each"
                " figure below extends a measured fit or rate linearly, and names it. Caches,"
                " memory bandwidth, the kernel's hash tables and the wait calls' own limits may"
                " bend the lines past what was measured."
            ),
            "",
        ]
        + memory_lines(kernel_bytes(results))
        + poll_lines(results)
        + open_lines(results)
        + limit_lines()
        + [""]
    )
