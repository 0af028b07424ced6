"""Per-interval series (`loadgen --series-out`, series/run-N.csv): reading them, and the plot.

The plot `series` shows, at the largest idle count that has series, messages per second and p99
per interval for each mechanism, one panel column per mode: drift inside a window, and whether a
mechanism's figure is steady or comes in bursts. Every repeat is one line (thin), in its
mechanism's colour.
"""

import csv
import os

from plot.run_row import number


def load(path):
    """The rows of one series file, numbers as floats (empty cells None)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    out = []
    for row in rows:
        out.append(
            {k: (v if k in ("mechanism", "mode", "label") else number(v)) for k, v in row.items()}
        )
    return out


def runs_with_series(results):
    """(run, rows) for every ok run whose series file exists."""
    out = []
    for r in results.runs:
        name = r.text("series_file")
        if r.is_floor or not r.ok or not name:
            continue
        path = os.path.join(results.path, name)
        if os.path.isfile(path):
            out.append((r, load(path)))
    return out


def plot_series(plt, results, written, style, finish, title):
    """Draws series.png/svg when the run kept series; style/finish/title are plot.py's."""
    found = runs_with_series(results)
    if not found:
        return
    idle = max(r.idle for r, _ in found)
    found = [(r, rows) for r, rows in found if r.idle == idle]
    modes = sorted({r.mode for r, _ in found}, key=lambda m: (m != "pingpong", m))
    fig, axes = plt.subplots(2, len(modes), figsize=(5.5 * len(modes), 7.5), squeeze=False)
    for col, mode in enumerate(modes):
        top, bottom = axes[0][col], axes[1][col]
        labelled = set()
        for r, rows in found:
            if r.mode != mode:
                continue
            color, marker, _ = style(r.mechanism)
            label = r.mechanism if r.mechanism not in labelled else "_" + r.mechanism
            labelled.add(r.mechanism)
            t = [(row["start_s"] + row["end_s"]) / 2 for row in rows]
            rate = [row["msgs_per_s"] for row in rows]
            p99 = [row["p99_us"] for row in rows]
            top.plot(t, rate, color=color, marker=marker, lw=1, ms=3, label=label)
            bottom.plot(t, p99, color=color, marker=marker, lw=1, ms=3)
        top.set_title(f"{mode}, {idle} idle", fontsize=10)
        top.set_ylabel("messages per second")
        bottom.set_ylabel("p99 of the interval (µs, log scale)")
        bottom.set_yscale("log")
        bottom.set_xlabel("seconds into the measuring window")
        for ax in (top, bottom):
            ax.grid(True, alpha=0.3)
        top.set_ylim(bottom=0)
    fig.suptitle(title("series"), fontsize=13)
    finish(
        fig,
        plt,
        results,
        "series",
        f"Machine: {results.machine_caption()}.\nseries/run-N.csv: one line per run (each"
        " repeat), one point per interval at its middle.",
        written,
    )
