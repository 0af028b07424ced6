"""A run's row in runs.csv: its figures read back, the one-line summary the progress line shows,
and the loadgen's row merged with the bench's columns."""


def fnum(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def describe(row):
    """A short summary of a run for the progress line."""
    status = row.get("bench_status") or row.get("status") or "?"
    parts = []
    if not fnum(row.get("msgs")):
        return status
    p50, p99, tput = (
        fnum(row.get("p50_us")),
        fnum(row.get("p99_us")),
        fnum(row.get("throughput_msgs_s")),
    )
    cpu = fnum(row.get("server_cpu_us_per_msg"))
    offered = fnum(row.get("rate"))
    if row.get("mode") == "rate" and offered and tput is not None:
        parts.append(f"offered {offered:.0f}, achieved {tput:.0f} msg/s")
        if p99 is not None:
            parts.append(f"p99 {p99:.1f} us")
    elif row.get("mode") in ("pingpong", "floor", "relay-floor") and p50 is not None:
        parts.append(f"p50 {p50:.1f} us" + (f" p99 {p99:.1f} us" if p99 else ""))
    elif tput is not None:
        parts.append(f"{tput:.0f} msg/s")
    if cpu is not None:
        parts.append(f"server {cpu:.2f} us/msg")
    parts.append(status)
    return ", ".join(parts)


def merge(loadgen_row, bench_row):
    """The loadgen's row with the bench's columns; the loadgen's own figures win."""
    merged = dict(loadgen_row)
    for k, v in bench_row.items():
        if k in ("mechanism", "mode", "idle", "warmup_s", "duration_s") and merged.get(k):
            continue
        merged[k] = v
    return merged
