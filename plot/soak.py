"""The soak plot: python3 -m plot.soak OUT (from the muxbench root), OUT holding soak.csv.

Writes OUT/soak.png and OUT/soak.svg: each server's descriptors (top) and RSS (bottom) against
the minutes of the soak. The solid line joins the quiet samples (the baseline, the end of each
round, the end once every client is gone), where a leak shows as a line that keeps rising; the
hollow markers are the samples taken in the middle of a round, under load.
"""

import argparse
import csv
import os
import sys
from types import SimpleNamespace

from plot.plot import finish, import_pyplot, style
from plot.results_folder import number

QUIET_PHASES = ("baseline", "round", "end")


def load(path):
    """{mechanism: [rows in order]} of a soak.csv, numbers as floats (empty cells None)."""
    out = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            parsed = {
                k: (v if k in ("phase", "mechanism", "utc", "stats_error") else number(v))
                for k, v in row.items()
            }
            out.setdefault(row["mechanism"], []).append(parsed)
    return out


def render(folder):
    series = load(os.path.join(folder, "soak.csv"))
    plt = import_pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 8), sharex=True)
    for mechanism, rows in series.items():
        color, marker, dash = style(mechanism)
        for ax, key, scale in ((top, "fds", 1), (bottom, "rss_kib", 1 / 1024)):
            quiet = [r for r in rows if r["phase"] in QUIET_PHASES and r[key] is not None]
            load_ = [r for r in rows if r["phase"] == "load" and r[key] is not None]
            ax.plot(
                [r["elapsed_s"] / 60 for r in quiet],
                [r[key] * scale for r in quiet],
                color=color,
                marker=marker,
                ls=dash,
                lw=1.2,
                ms=4,
                label=mechanism if ax is top else "_" + mechanism,
            )
            ax.plot(
                [r["elapsed_s"] / 60 for r in load_],
                [r[key] * scale for r in load_],
                color=color,
                marker=marker,
                ls="none",
                ms=5,
                mfc="none",
                label="_load",
            )
    top.set_ylabel("descriptors (/proc/PID/fd, log scale)")
    top.set_yscale("log")
    bottom.set_ylabel("RSS (MiB)")
    bottom.set_ylim(bottom=0)
    bottom.set_xlabel("minutes into the soak")
    for ax in (top, bottom):
        ax.grid(True, alpha=0.3)
    fig.suptitle("Soak: descriptors and RSS of every server over time", fontsize=13)
    written = []
    finish(
        fig,
        plt,
        SimpleNamespace(path=folder),
        "soak",
        "soak.csv: filled markers joined by a line are quiet samples (baseline, the end of each"
        " round, the end with every client gone); hollow markers are samples in the middle of a"
        " round, under load.",
        written,
    )
    return written


def main():
    parser = argparse.ArgumentParser(description="Draw soak.png/svg from a soak folder's soak.csv.")
    parser.add_argument("folder", help="the soak's output folder (holding soak.csv)")
    args = parser.parse_args()
    if not os.path.isfile(os.path.join(args.folder, "soak.csv")):
        print(f"plot.soak: no soak.csv in {args.folder}", file=sys.stderr)
        return 1
    for path in render(args.folder):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
