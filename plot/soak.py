"""The soak plot: python3 -m plot.soak OUT (from the muxbench root), OUT holding soak.csv.

Writes OUT/soak.png and OUT/soak.svg against the minutes of the soak, one line per server: its
descriptors above the baseline at the quiet samples (the baseline, the end of each round, the end
once every client is gone), where a leak shows as a line that keeps rising; its descriptors under
load (30 % into each round); and its RSS (quiet samples joined, samples under load hollow).
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


def draw_server(leak, busy, rss, mechanism, rows, dodge):
    """One server's lines on the three panels, drawn `dodge` minutes apart."""
    color, marker, dash = style(mechanism)
    quiet = [r for r in rows if r["phase"] in QUIET_PHASES and r["fds"] is not None]
    loaded = [r for r in rows if r["phase"] == "load"]
    base = quiet[0]["fds"] if quiet and quiet[0]["phase"] == "baseline" else None
    line = dict(color=color, marker=marker, ls=dash, lw=1.2, ms=4)
    hollow = dict(color=color, marker=marker, ls="none", ms=5, mfc="none")
    minutes = lambda rows: [r["elapsed_s"] / 60 + dodge for r in rows]  # noqa: E731
    if base is not None:
        leak.plot(minutes(quiet), [r["fds"] - base for r in quiet], label=mechanism, **line)
    with_fds = [r for r in loaded if r["fds"] is not None]
    busy.plot(minutes(with_fds), [r["fds"] for r in with_fds], **line)
    quiet_rss = [r for r in rows if r["phase"] in QUIET_PHASES and r["rss_kib"] is not None]
    loaded_rss = [r for r in loaded if r["rss_kib"] is not None]
    rss.plot(minutes(quiet_rss), [r["rss_kib"] / 1024 for r in quiet_rss], **line)
    rss.plot(minutes(loaded_rss), [r["rss_kib"] / 1024 for r in loaded_rss], **hollow)
    peaks = [r for r in rows if r.get("rss_peak_kib") is not None]
    rss.plot(minutes(peaks), [r["rss_peak_kib"] / 1024 for r in peaks], color=color, ls=":", lw=1)


def render(folder):
    series = load(os.path.join(folder, "soak.csv"))
    plt = import_pyplot()
    fig, (leak, busy, rss) = plt.subplots(3, 1, figsize=(9, 10), sharex=True)
    span = max((r["elapsed_s"] or 0) / 60 for rows in series.values() for r in rows) or 1.0
    for i, (mechanism, rows) in enumerate(series.items()):
        # Servers whose figures are equal would hide each other: each is drawn a little apart.
        draw_server(leak, busy, rss, mechanism, rows, (i - (len(series) - 1) / 2) * span * 0.004)
    from matplotlib.ticker import MaxNLocator

    leak.set_ylabel("descriptors above the baseline\n(quiet samples)")
    low, high = leak.get_ylim()
    leak.set_ylim(min(low, -1.5), max(high, 3.5))  # room to see a leak of one descriptor
    leak.yaxis.set_major_locator(MaxNLocator(integer=True))
    busy.set_ylabel("descriptors under load\n(30 % into each round)")
    busy.set_ylim(0, busy.get_ylim()[1] * 1.15)
    rss.plot(
        [],
        [],
        color="0.4",
        ls=":",
        lw=1,
        label="peak RSS so far (VmHWM): the rss check's reference",
    )
    rss.set_ylabel("RSS (MiB)")
    rss.set_ylim(bottom=0)
    rss.set_xlabel("minutes into the soak")
    for ax in (leak, busy, rss):
        ax.grid(True, alpha=0.3)
    fig.suptitle("Soak: descriptors and RSS of every server over time", fontsize=13)
    written = []
    finish(
        fig,
        plt,
        SimpleNamespace(path=folder),
        "soak",
        "soak.csv (/proc/PID/fd, VmRSS). Quiet samples (filled, joined): the baseline, the end of"
        " each round, the end with every client gone; a leak is a line that keeps rising. Samples"
        " under load: 30 % into each round (hollow on the RSS panel). Servers are drawn slightly"
        " apart in time so that equal figures stay visible.",
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
