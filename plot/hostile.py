"""The report's section on hostile clients (loadgen --hostile K): the honest clients' latency
without and with misbehaving ones beside them, per mechanism. A reported fact, never a verdict:
ResultsFolder keeps these rows apart (results.hostile_runs), so no claim, plot or comparison
ever reads them."""

import statistics

from plot.markdown import cell
from plot.run_row import scenario_label
from plot.numbers import fmt

# The project's target for hostile clients (issue 13): at 0 idle the honest p99 rises by no more
# than this factor, and no honest client is disconnected or loses a message. Reported, never
# asserted, and never a verdict: one window of a few hundred ms per repeat measures it.
HOSTILE_P99_TARGET = 2.0
# Statuses that mean an honest connection was cut: the server dropped it, died or crashed.
DISCONNECTED = ("error:dropped-by-server", "server-died", "server-crashed")


def spread(values):
    """'median (min–max)', or '–' without values."""
    if not values:
        return "–"
    med = statistics.median(values)
    if len(values) == 1:
        return fmt(med)
    return f"{fmt(med)} ({fmt(min(values))}–{fmt(max(values))})"


def figures(rows, key):
    return [v for v in (r.get(key) for r in rows if r.ok) if v is not None]


def total(rows, key):
    return int(sum(r.get(key) or 0 for r in rows))


def groups(results):
    """(mechanism, scenario, idle) -> (honest rows, hostile rows), in the report's mechanism
    order; honest rows are those of the same point without hostile clients."""
    out = {}
    for r in results.hostile_runs:
        if r.is_floor:
            continue
        out.setdefault((r.mechanism, r.scenario, r.idle), ([], []))[1].append(r)
    for r in results.runs:
        key = (r.mechanism, r.scenario, r.idle)
        if key in out and not r.is_floor:
            out[key][0].append(r)
    order = results.mechanisms(results.runs + results.hostile_runs)
    return dict(sorted(out.items(), key=lambda kv: (order.index(kv[0][0]), kv[0][1], kv[0][2])))


def target_words(ratio, lost, cut):
    """Whether the issue's target was met, and if not, what missed it."""
    misses = []
    if ratio is None:
        misses.append("no p99 to compare")
    elif ratio > HOSTILE_P99_TARGET:
        misses.append(f"p99 × {ratio:.2f}")
    if lost:
        misses.append(f"{lost} lost")
    if cut:
        misses.append(f"{cut} run(s) cut off")
    return "no: " + ", ".join(misses) if misses else "yes"


def row_line(label, honest, hostile):
    p99_without, p99_with = figures(honest, "p99_us"), figures(hostile, "p99_us")
    ratio = (
        statistics.median(p99_with) / statistics.median(p99_without)
        if p99_with and p99_without and statistics.median(p99_without) > 0
        else None
    )
    lost = total(hostile, "lost")
    cut = sum(1 for r in hostile if r.status in DISCONNECTED)
    not_ok = sum(1 for r in hostile if not r.ok and r.status not in DISCONNECTED)
    cut_text = str(cut) + (f" ({not_ok} other not ok)" if not_ok else "")
    return (
        f"| {label} | {spread(figures(honest, 'p50_us'))} | {spread(figures(hostile, 'p50_us'))}"
        f" | {spread(p99_without)} | {spread(p99_with)} |"
        f" {'–' if ratio is None else f'{ratio:.2f}'} | {lost} | {cut_text} |"
        f" {total(hostile, 'hostile_connects')} | {total(hostile, 'hostile_refused')} |"
        f" {total(hostile, 'hostile_dropped')} | {total(hostile, 'hostile_errors')} |"
        f" {len(honest)} / {len(hostile)} | {target_words(ratio, lost, cut)} |"
    )


def section(results):
    """The markdown lines of the section; [] when the run had no hostile phase."""
    found = groups(results)
    if not found:
        return []
    hostile_rows = [r for _, rows in found.values() for r in rows]
    counts = sorted({r.hostile for r in hostile_rows})
    kinds = sorted({r.text("hostile_kinds") for r in hostile_rows} - {""})
    several = len({(scenario, idle) for _, scenario, idle in found}) > 1
    out = [
        "## Hostile clients beside honest ones",
        "",
        f"Each repeat ran the point once as usual and once more right after it, on the same"
        f" server, with {' or '.join(map(str, counts))} hostile clients beside the honest ones"
        f" (`loadgen --hostile`; kinds {', '.join(f'`{k}`' for k in kinds) or 'not recorded'}):"
        " slowloris, never-read, reset mid-line, connect-and-vanish, over-long lines, connect"
        " storms. Latency is the honest clients' only, in µs, median over the repeats"
        " (min–max); *p99 ratio* = median with / median without. *lost* and *cut off* are the"
        " honest clients' (messages lost; runs whose honest connection the server dropped, or"
        " whose server died); the hostile counters are summed over the runs (*dropped*: hostile"
        " connections the server closed, as it should for over-long lines and full output"
        " queues). The hostile clients share the loadgen's CPU with the honest ones, so part of"
        " any rise can be the loadgen's. Target (issue 13, reported, not a verdict): p99 ≤"
        f" {HOSTILE_P99_TARGET:g} × without, no honest message lost, nobody honest cut off.",
        "",
        "| point | p50 without | p50 with | p99 without | p99 with | p99 ratio | lost | cut off |"
        " hostile connects | refused | dropped | errors | runs without / with | target met |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (mech, scenario, idle), (honest, hostile) in found.items():
        label = cell(mech) + (f", {scenario_label(scenario)}, {idle} idle" if several else "")
        out.append(row_line(label, honest, hostile))
    if not several:
        (_, scenario, idle) = next(iter(found))
        out += ["", f"All at {idle} idle connections, {scenario_label(scenario)}."]
    return out + [""]
