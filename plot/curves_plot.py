"""The offered-load plots (plot/curves.py reads the rows): p99 against achieved msg/s per idle
count, and the capacity at the latency objective against idle connections. Drawn by plot.py's
render when the run has curves (the sweep's --curves)."""

from plot.curves import Curves
from plot.numbers import fmt
from plot.plot_axes import IdleAxis, finish, plain_log, style, title_of

LOADGEN_NOTE = "hollow marker: offered beyond the loadgen's own measured open-loop capacity"


def plot_curves(plt, results, written):
    """curves.png/svg and capacity.png/svg, when the run measured curves."""
    curves = Curves(results)
    if not curves:
        return
    latency_throughput(plt, results, curves, written)
    capacity_vs_idle(plt, results, curves, written)


def latency_throughput(plt, results, curves, written):
    idles = curves.idles()
    columns = min(3, len(idles))
    rows = -(-len(idles) // columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(5.2 * columns, 4.2 * rows + 1.6), squeeze=False
    )
    for k, idle in enumerate(idles):
        ax = axes[k // columns][k % columns]
        for mech in curves.mechanisms():
            steps = [s for s in curves.curve(mech, idle) if s.measured]
            if not steps:
                continue
            colour, marker, line = style(mech)
            ax.plot(
                [s.achieved for s in steps],
                [s.p99 for s in steps],
                color=colour,
                linestyle=line,
                label=mech,
            )
            for s in steps:
                beyond = curves.beyond_loadgen(s)
                ax.plot(
                    [s.achieved],
                    [s.p99],
                    marker=marker,
                    color=colour,
                    markerfacecolor="white" if beyond else colour,
                    linestyle="none",
                    label=LOADGEN_NOTE if beyond else "_",
                )
        ax.axhline(
            curves.slo_p99_us,
            color="black",
            linestyle="--",
            linewidth=1.2,
            label=f"objective: p99 ≤ {fmt(curves.slo_p99_us)} µs",
        )
        ax.set_xscale("log")
        ax.set_yscale("log")
        plain_log(ax, "x")
        plain_log(ax, "y")
        ax.set_title(f"{fmt(idle)} idle connections", fontsize=11)
        ax.set_xlabel("achieved messages per second (log scale)")
        ax.set_ylabel("p99 latency, µs (log scale)")
        ax.grid(True, which="both", alpha=0.3)
    for k in range(len(idles), rows * columns):
        axes[k // columns][k % columns].set_visible(False)
    fig.suptitle(title_of("curves"), fontsize=13)
    finish(fig, plt, results, "curves", caption_text(results, curves, "curve"), written)


def capacity_vs_idle(plt, results, curves, written):
    fig, ax = plt.subplots(1, 1, figsize=(8.0, 5.4))
    axis = IdleAxis(curves.idles())
    for mech in curves.mechanisms():
        colour, marker, line = style(mech)
        xs, ys, below, above = [], [], [], []
        for idle in curves.idles(mech):
            cap = curves.capacity(mech, idle)
            band = cap.interval()
            if cap.mean is None:
                continue
            xs.append(axis.pos(idle))
            ys.append(cap.mean)
            below.append(cap.mean - band[0] if band else 0.0)
            above.append(band[1] - cap.mean if band else 0.0)
        if not xs:
            continue
        ax.errorbar(
            xs,
            ys,
            yerr=[below, above],
            color=colour,
            marker=marker,
            linestyle=line,
            capsize=4,
            label=mech,
        )
    axis.apply(ax)
    ax.set_yscale("log")
    plain_log(ax, "y")
    ax.set_ylabel(f"capacity at p99 ≤ {fmt(curves.slo_p99_us)} µs, msg/s (log scale)")
    ax.grid(True, which="both", alpha=0.3)
    fig.suptitle(title_of("capacity"), fontsize=13)
    finish(fig, plt, results, "capacity", caption_text(results, curves, "capacity"), written)


def caption_text(results, curves, what):
    if what == "curve":
        how = (
            "runs.csv, mode rate: each point one open-loop run at a scheduled offered rate (repeat"
            " 1), p99 from the intended send time; a curve stops when the server no longer"
            " carries the load or its p99 exploded."
        )
    else:
        how = (
            "runs.csv, mode rate: per point the mean over fresh-instance repeats of the highest"
            " offered rate with achieved ≥ 99 % of it and p99 within the objective (bisection);"
            " bars: 95 % interval (Student t, plus the bisection's resolution)."
        )
    if curves.loadgen_capacity:
        how += (
            f" The loadgen's own open-loop capacity: {fmt(curves.loadgen_capacity)} msg/s"
            f" ({curves.loadgen_words or curves.loadgen_limit})."
        )
    return f"Machine: {results.machine_caption()}.\n{how}"
