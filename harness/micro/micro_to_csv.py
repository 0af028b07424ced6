"""Converts mux-micro's Google Benchmark JSON into micro.csv (and micro_fit.csv beside it).

    python3 -m harness.micro.micro_to_csv micro.json micro.csv   (from the muxbench root)

micro.csv: one row per benchmark instance, aggregated over its repetitions. Columns (a contract
with the plots and the report; add at the end, rename none):
  benchmark,family,mechanism,watched,ready,repetitions,ns_per_call_median,ns_per_call_min,
  ns_per_call_max,ns_per_watched_fd,events_per_call,status,ns_per_call_q25,ns_per_call_q75,
  ns_per_call_repeats,sockets,active,writes,label
status is `ok` or Google Benchmark's SkipWithError text (select past FD_SETSIZE, N past the
open-file limit, io_uring unavailable, libevent not installed); a skipped instance has empty
figures.
ns_per_call_q25/q75 are the quartiles of the repetitions, and ns_per_call_repeats every
repetition's figure in run order, separated by `;` (the shape rules in plot/rules.py compute
their intervals from them; a count whose calls fall into two modes shows there, not in the
median). sockets is the shared family's number of distinct sockets behind its N entries.
The chain family (libevent's benchmark method) fills active and writes (bytes in flight,
events per run) and label (which backend ran: "libevent 2.1.12-stable backend poll"); its
ns_per_call is per EVENT and its events_per_call is events per wait call.

micro_fit.csv: one row per fitted family: Google Benchmark's complexity fit (coefficient and RMS;
its oN fit has no constant term) and an ordinary least-squares line with an intercept over the
instance medians, whose slope is the ns per watched descriptor (or per ready descriptor for the
`ready` family) without the fixed cost of the call folded into it.

Benchmark names are FAMILY/MECHANISM/key:value/... with keys `watched`, `ready`, `sockets`,
`active` and `writes`; Google Benchmark appends `/manual_time` (and `_BigO`, `_RMS` to fits).
Python standard library only.
"""

import csv
import os
import statistics
import sys

from harness.common.micro_json import TO_NS, load, ns

COLUMNS = [
    "benchmark",
    "family",
    "mechanism",
    "watched",
    "ready",
    "repetitions",
    "ns_per_call_median",
    "ns_per_call_min",
    "ns_per_call_max",
    "ns_per_watched_fd",
    "events_per_call",
    "status",
    "ns_per_call_q25",
    "ns_per_call_q75",
    "ns_per_call_repeats",
    "sockets",
    "active",
    "writes",
    "label",
]
FIT_COLUMNS = [
    "family",
    "mechanism",
    "fixed",
    "fit_over",
    "big_o",
    "coefficient_ns",
    "rms_pct",
    "ols_slope_ns",
    "ols_intercept_ns",
    "points",
    "benchmark",
]
KEYS = ("watched", "ready", "sockets", "active", "writes")
# the keys a fit runs over (the first one a family's name does not fix); the others are held fixed
FIT_KEYS = ("watched", "ready")


def parse_name(run_name):
    """'wait/select/ready:1/watched:10/manual_time' -> ('wait', 'select', {'ready': 1, 'watched':
    10})."""
    parts = run_name.split("/")
    family = parts[0]
    mechanism = parts[1] if len(parts) > 1 else ""
    keys = {}
    for token in parts[2:]:
        key, sep, value = token.partition(":")
        if sep and key in KEYS:
            try:
                keys[key] = int(value)
            except ValueError:
                pass
    return family, mechanism, keys


def fmt(x):
    if x is None:
        return ""
    return f"{x:.6g}" if isinstance(x, float) else str(x)


def median_or_none(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def spread(calls):
    """Quartiles (statistics' inclusive method: within min..max even for 2 values) and every
    repetition's figure, `;`-separated in run order."""
    calls = [c for c in calls if c is not None]
    out = {"ns_per_call_repeats": ";".join(fmt(c) for c in calls)}
    if len(calls) >= 2:
        q1, _, q3 = statistics.quantiles(calls, n=4, method="inclusive")
        out["ns_per_call_q25"], out["ns_per_call_q75"] = q1, q3
    elif calls:
        out["ns_per_call_q25"] = out["ns_per_call_q75"] = calls[0]
    return out


def instance_rows(benchmarks):
    order, runs, aggregates = [], {}, {}
    for b in benchmarks:
        name = b.get("run_name", b.get("name", ""))
        if b.get("run_type", "iteration") == "iteration":
            if name not in runs:
                runs[name] = []
                if name not in aggregates:
                    order.append(name)
            runs[name].append(b)
        elif b.get("aggregate_name") == "median":
            if name not in runs and name not in aggregates:
                order.append(name)
            aggregates[name] = b
    rows = []
    for name in order:
        family, mechanism, keys = parse_name(name)
        reps = runs.get(name, [])
        errors = [r.get("error_message") or "error" for r in reps if r.get("error_occurred")]
        ok = [r for r in reps if not r.get("error_occurred")]
        row = {
            "benchmark": name,
            "family": family,
            "mechanism": mechanism,
            "watched": keys.get("watched"),
            "ready": keys.get("ready"),
            "sockets": keys.get("sockets"),
            "active": keys.get("active"),
            "writes": keys.get("writes"),
            "repetitions": len(ok),
            "status": errors[0] if errors else "ok",
            "label": next((r.get("label") for r in ok if r.get("label")), None),
        }
        if ok:
            calls = [ns(r, "ns_per_call") for r in ok]
            row["ns_per_call_median"] = median_or_none(calls)
            row["ns_per_call_min"] = min(c for c in calls if c is not None)
            row["ns_per_call_max"] = max(c for c in calls if c is not None)
            row.update(spread(calls))
            row["ns_per_watched_fd"] = median_or_none([ns(r, "ns_per_watched_fd") for r in ok])
            row["events_per_call"] = median_or_none([ns(r, "events_per_call") for r in ok])
        elif name in aggregates and not errors:
            # --benchmark_report_aggregates_only: medians without the repetitions behind them.
            agg = aggregates[name]
            row["repetitions"] = agg.get("repetitions", "")
            row["ns_per_call_median"] = ns(agg, "ns_per_call")
            row["ns_per_watched_fd"] = ns(agg, "ns_per_watched_fd")
            row["events_per_call"] = ns(agg, "events_per_call")
        if (
            row.get("ns_per_watched_fd") is None
            and row.get("ns_per_call_median") is not None
            and family != "ctl"
            and row["watched"]
        ):
            row["ns_per_watched_fd"] = row["ns_per_call_median"] / row["watched"]
        rows.append(row)
    return rows


def ols(points):
    if len(points) < 2:
        return None, None
    mx = statistics.fmean(x for x, _ in points)
    my = statistics.fmean(y for _, y in points)
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        return None, None
    slope = sum((x - mx) * (y - my) for x, y in points) / sxx
    return slope, my - slope * mx


def fit_rows(benchmarks, rows):
    fits, order = {}, []
    for b in benchmarks:
        agg = b.get("aggregate_name")
        if agg not in ("BigO", "RMS"):
            continue
        prefix = b.get("run_name", "").removesuffix("/manual_time")
        if prefix not in fits:
            fits[prefix] = {}
            order.append(prefix)
        if agg == "BigO":
            unit = TO_NS.get(b.get("time_unit", "ns"), 1.0)
            fits[prefix]["big_o"] = b.get("big_o", "")
            fits[prefix]["coefficient_ns"] = float(b.get("real_coefficient", 0.0)) * unit
        else:
            fits[prefix]["rms_pct"] = float(b.get("rms", 0.0)) * 100
    out = []
    for prefix in order:
        family, mechanism, fixed = parse_name(prefix)
        over = next((k for k in FIT_KEYS if k not in fixed), "watched")
        points = []
        for r in rows:
            if r["family"] != family or r["mechanism"] != mechanism or r["status"] != "ok":
                continue
            if any(r.get(k) != v for k, v in fixed.items()):
                continue
            if r.get(over) is not None and r.get("ns_per_call_median") is not None:
                points.append((float(r[over]), r["ns_per_call_median"]))
        slope, intercept = ols(points)
        out.append(
            {
                "family": family,
                "mechanism": mechanism,
                "fixed": "/".join(f"{k}:{v}" for k, v in fixed.items()),
                "fit_over": over,
                "ols_slope_ns": slope,
                "ols_intercept_ns": intercept,
                "points": len(points),
                "benchmark": prefix,
                **fits[prefix],
            }
        )
    return out


def write_csv(path, columns, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(columns)
        for r in rows:
            w.writerow([fmt(r.get(c)) for c in columns])


def main(argv):
    if len(argv) != 3:
        print("usage: micro_to_csv.py micro.json micro.csv", file=sys.stderr)
        return 2
    src, dst = argv[1], argv[2]
    try:
        doc, truncated = load(src)
    except (OSError, ValueError) as e:
        print(f"micro_to_csv.py: {e}", file=sys.stderr)
        return 1
    benchmarks = doc.get("benchmarks", [])
    rows = instance_rows(benchmarks)
    write_csv(dst, COLUMNS, rows)
    fit_path = os.path.join(os.path.dirname(os.path.abspath(dst)), "micro_fit.csv")
    write_csv(fit_path, FIT_COLUMNS, fit_rows(benchmarks, rows))
    skipped = sum(1 for r in rows if r["status"] != "ok")
    note = " (the JSON was cut short: recovered the complete entries)" if truncated else ""
    print(
        (
            f"micro_to_csv.py: {len(rows)} instances ({skipped} skipped) -> {dst}, fits -> "
            f"{fit_path}{note}"
        ),
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
