"""The soak's pass/fail rules, per server, on its samples and the records of its loadgen runs.

A sample is a dict with at least `phase` (baseline, load, round, end), `round`, `alive`, `fds`,
`rss_kib`, `stats_ok` and `stats_error`; a run record a dict with `kind`, `round`, `error` (why
the run gave no row, or "") and `row` (the loadgen's CSV row, or None); a hold's record has
kind `idle-hold` and its error says how many idle connections were lost.
"""

from dataclasses import dataclass

# The bound on RSS growth after the first round. What it is measured from: the highest
# RSS the server had reached by the end of the first round (VmHWM), not its RSS at that moment.
# Under this load the peak is mostly the largest output queues (two never-read clients' queues
# fill to --max-outbuf, 1 MiB each, with 4000-byte lines). Once they are dropped glibc returns
# part of that memory to the kernel and keeps the rest for later allocations, and which part it
# keeps depends on where the freed blocks lie in the heap: on our VM, in a 10-minute soak with
# hostile clients, chat-uring's RSS at the end of a round went 5.2 -> 10.4 -> 9.4 MiB with
# nothing lost, under peaks of 9.6-12.7 MiB. A leak raises RSS above what the first round's
# queues needed; it cannot be seen below that, since the allocator hands the memory it kept to
# the leaking allocations first. The quiet-to-quiet and peak-to-peak growths are printed beside
# the verdict.
RSS_GROWTH_MAX = 0.10
# A run's status other than these fails the soak: integrity-errors, server-died,
# error:dropped-by-server, refused:..., error:... . loadgen-bound says who was the bottleneck on
# a shared machine, not that anything was wrong.
OK_STATUSES = ("ok", "loadgen-bound")
INTEGRITY_COLUMNS = ("lost", "duplicated", "reordered", "corrupted")
CHECKS = ("descriptors", "rss", "integrity", "stats")


@dataclass
class Check:
    mechanism: str
    check: str  # one of CHECKS
    passed: bool
    figures: str


def integrity_errors(row):
    """lost + duplicated + reordered + corrupted of a loadgen row (empty cells count 0)."""
    return sum(int(float(row.get(c) or 0)) for c in INTEGRITY_COLUMNS)


def run_problem(record):
    """Why one run record fails the soak, or None."""
    where = f"round {record['round']} {record['kind']}"
    if record.get("error"):
        return f"{where}: {record['error']}"
    row = record.get("row")
    if row is None:
        return None  # a hold: its error is the whole story
    errors = integrity_errors(row)
    status = row.get("status", "")
    if errors or status not in OK_STATUSES:
        counts = ", ".join(f"{c} {row.get(c) or 0}" for c in INTEGRITY_COLUMNS)
        return f"{where}: status {status} ({counts})"
    return None


def _pick(samples, phase, round_no=None):
    for s in samples:
        if s["phase"] == phase and (round_no is None or s["round"] == round_no):
            return s
    return None


def descriptors_check(mechanism, samples):
    base, end = _pick(samples, "baseline"), _pick(samples, "end")
    if base is None or end is None or base.get("fds") is None or end.get("fds") is None:
        return Check(mechanism, "descriptors", False, "no baseline or end sample of /proc/PID/fd")
    figures = f"baseline {base['fds']}, end {end['fds']}"
    return Check(mechanism, "descriptors", end["fds"] == base["fds"], figures)


def rss_growth(first, end):
    return end / first - 1.0


def rss_check(mechanism, samples):
    first, end = _pick(samples, "round", 1), _pick(samples, "end")
    base = _pick(samples, "baseline")
    if first is None or end is None or not first.get("rss_peak_kib") or not end.get("rss_kib"):
        return Check(mechanism, "rss", False, "no RSS sample after round 1 or at the end")
    reference = first["rss_peak_kib"]
    growth = rss_growth(reference, end["rss_kib"])
    figures = (
        f"end {end['rss_kib']:,} KiB against the peak by the end of round 1 {reference:,} KiB"
        f" ({growth * 100:+.1f} %, bound +{RSS_GROWTH_MAX * 100:.0f} %)"
    )
    if first.get("rss_kib"):
        quiet = rss_growth(first["rss_kib"], end["rss_kib"]) * 100
        figures += (
            f"; RSS at the end of round 1 {first['rss_kib']:,} KiB ({quiet:+.1f} % to the end)"
        )
    if end.get("rss_peak_kib"):
        peak = rss_growth(reference, end["rss_peak_kib"]) * 100
        figures += f"; peak at the end {end['rss_peak_kib']:,} KiB ({peak:+.1f} %)"
    if base is not None and base.get("rss_kib"):
        figures += f"; baseline {base['rss_kib']:,} KiB"
    # Compared in KiB, not as a ratio, so that exactly +10 % is not lost to rounding.
    passed = end["rss_kib"] - reference <= RSS_GROWTH_MAX * reference
    return Check(mechanism, "rss", passed, figures)


def integrity_check(mechanism, runs):
    problems = [p for p in (run_problem(r) for r in runs) if p]
    rows = [r["row"] for r in runs if r.get("row")]
    errors = sum(integrity_errors(row) for row in rows)
    msgs = sum(int(float(row.get("msgs") or 0)) for row in rows)
    figures = (
        f"{len(runs)} runs and holds, {msgs:,} messages checked, {errors} integrity errors,"
        f" {len(problems)} failed"
    )
    if not runs:
        return Check(mechanism, "integrity", False, "no loadgen run was recorded")
    if problems:
        shown = "; ".join(problems[:3]) + ("; …" if len(problems) > 3 else "")
        figures += f": {shown}"
    return Check(mechanism, "integrity", not problems, figures)


def stats_check(mechanism, samples):
    end = _pick(samples, "end")
    answered = sum(1 for s in samples if s.get("stats_ok"))
    figures = f"answered {answered} of {len(samples)} samples"
    if end is None:
        return Check(mechanism, "stats", False, figures + "; no end sample")
    if not end.get("stats_ok"):
        why = end.get("stats_error") or ("process gone" if not end.get("alive") else "no answer")
        return Check(mechanism, "stats", False, f"{figures}; at the end: {why}")
    return Check(mechanism, "stats", True, figures)


def judge(mechanism, samples, runs):
    """The four checks of one server, in CHECKS order."""
    return [
        descriptors_check(mechanism, samples),
        rss_check(mechanism, samples),
        integrity_check(mechanism, runs),
        stats_check(mechanism, samples),
    ]


def failure_lines(checks):
    return [f"FAIL {c.mechanism} {c.check}: {c.figures}" for c in checks if not c.passed]
