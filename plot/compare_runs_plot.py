"""compare.png and compare.svg: B / A per point of a Comparison (plot/compare_runs.py), with the
threshold band and the significant regressions ringed."""

import math
import os
import sys

from plot import results_folder as rf
from plot import rules
from plot.compare_runs import HIGHER, mechanism_order, scenario_order
from plot.compare_runs_markdown import METRIC_WORDS, scenario_name
from plot.numbers import human
from plot.plot_axes import pyplot_or_none


def plot(comp, out_dir, name_a, name_b):
    """compare.png and .svg; returns the paths, or a reason when matplotlib is missing."""
    plt = pyplot_or_none()
    if plt is None:
        return (
            None,
            (
                f"{sys.executable} has no matplotlib: the plot was not drawn (install "
                "python3-matplotlib and run with /usr/bin/python3)"
            ),
        )
    metrics = [
        m
        for m in rules.COMPARE_WORSE
        if any(m in p.cells and p.cells[m].ratio for p in comp.points)
    ]
    servers = sorted({p.scenario for p in comp.points if not p.is_floor}, key=scenario_order)
    floors = sorted({p.scenario for p in comp.points if p.is_floor}, key=scenario_order)
    columns = [(s, False) for s in servers] + ([(None, True)] if floors else [])
    if not metrics or not columns:
        fig, ax = plt.subplots(figsize=(6, 2))
        ax.axis("off")
        ax.text(0.5, 0.5, "no point measured in both folders", ha="center", va="center")
        return save(fig, plt, out_dir), None
    fig, axes = plt.subplots(
        len(metrics),
        len(columns),
        figsize=(3.6 * len(columns) + 0.6, 2.7 * len(metrics) + 1.4),
        squeeze=False,
    )
    idles = sorted({p.idle for p in comp.points if not p.is_floor})
    zero_at = min([i for i in idles if i > 0] or [1]) / 4.0
    for row, metric in enumerate(metrics):
        for col, (scenario, is_floor) in enumerate(columns):
            draw_panel(
                comp,
                axes[row][col],
                metric,
                scenario if not is_floor else None,
                floors if is_floor else None,
                idles,
                zero_at,
                first_row=row == 0,
                last_row=row == len(metrics) - 1,
            )
    title_and_legend(fig, legend_handles(comp), name_a, name_b)
    return save(fig, plt, out_dir), None


def title_and_legend(fig, handles, name_a, name_b):
    """The title and the legend above the panels, and the panels fitted below them."""
    height = fig.get_figheight()
    fig.suptitle(
        f"B / A per point — A: {name_a}, B: {name_b} (medians of the ok repeats)",
        fontsize=11,
        y=1 - 0.1 / height,
        va="top",
    )
    fig.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, 1 - 0.45 / height),
        ncol=min(5, len(handles)),
        fontsize=8,
        frameon=False,
    )
    fig.tight_layout(rect=(0, 0, 1, 1 - 1.25 / height))


def legend_handles(comp):
    """One line per mechanism, then the markers and bands the panels use."""
    from matplotlib.lines import Line2D

    t = comp.threshold
    handles = [
        Line2D([], [], color=style(m)[0], marker=style(m)[1], linestyle="-", label=m)
        for m in mechanisms_of(comp.points)
    ]
    handles += [
        Line2D(
            [],
            [],
            color="0.3",
            marker="o",
            markerfacecolor="white",
            linestyle="none",
            label=f"hollow: not tested (< {rules.COMPARE_MIN_REPEATS} ok repeats a side)",
        ),
        Line2D(
            [],
            [],
            color="#d62728",
            marker="o",
            markerfacecolor="none",
            markersize=12,
            markeredgewidth=1.8,
            linestyle="none",
            label=f"significant regression (> {t:.0%} worse, p ≤ {rules.COMPARE_ALPHA:g})",
        ),
        Line2D([], [], color="0.75", linewidth=6, label=f"within ±{t:.0%}"),
        Line2D([], [], color="#d62728", linestyle="--", label="regression threshold"),
    ]
    return handles


def draw_panel(comp, ax, metric, scenario, floors, idles, zero_at, first_row, last_row):
    """One metric's B / A in one scenario (or, with floors, the floors): the threshold band,
    the points, the axes."""
    t = comp.threshold
    worse = rules.COMPARE_WORSE[metric]
    is_floor = floors is not None
    pts = [
        p
        for p in comp.points
        if (p.is_floor if is_floor else p.scenario == scenario)
        and metric in p.cells
        and p.cells[metric].ratio
    ]
    if first_row:
        title = "floors (the machine)" if is_floor else scenario_name(scenario, comp.unrecorded)
        ax.set_title(wrap(title, 40), fontsize=9)
    if not pts:
        ax.set_axis_off()
        ax.text(
            0.5,
            0.5,
            f"{METRIC_WORDS[metric]}:\nnot measured in both",
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=8,
            color="0.4",
        )
        return
    ratio_axis(ax, [p.cells[metric].ratio for p in pts], t, worse)
    ax.set_ylabel(f"{METRIC_WORDS[metric]}\nB / A ({worse} is worse)", fontsize=8)
    if is_floor:
        draw_floors(comp, ax, pts, metric, floors)
    else:
        draw_servers(comp, ax, pts, metric, zero_at)
        idle_axis(ax, idles, zero_at)
        if last_row:
            ax.set_xlabel("idle connections (log; 0 at the left)", fontsize=8)
    ax.tick_params(axis="y", labelsize=7)


def ratio_axis(ax, ratios, t, worse):
    """The B / A axis: the ±t band, 1, the regression threshold on the worse side, log scale
    with spaced plain ticks."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ax.axhspan(1 - t, 1 + t, color="0.88", zorder=0)
    ax.axhline(1, color="0.45", linewidth=0.8, zorder=1)
    ax.axhline(
        1 + t if worse == HIGHER else 1 - t,
        color="#d62728",
        linestyle="--",
        linewidth=0.9,
        zorder=1,
    )
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    low = min(ratios + [1 - 1.5 * t])
    high = max(ratios + [1 + 1.5 * t])
    ax.set_ylim(low / 1.08, high * 1.08)
    ax.set_yticks(
        spaced_ticks([1.0, 1 - t, 1 + t, round(low, 2), round(high, 2)], low / 1.08, high * 1.08)
    )


def idle_axis(ax, idles, zero_at):
    """Idle connections on a log axis, 0 drawn at zero_at on the left."""
    from matplotlib.ticker import NullFormatter

    ax.set_xscale("log")
    ax.set_xlim(zero_at / 1.6, max(idles + [10]) * 1.6)
    ticks = [zero_at] + [
        10.0**e for e in range(0, 8) if zero_at * 1.5 < 10.0**e <= max(idles + [10]) * 1.6
    ]
    ax.set_xticks(ticks)
    ax.set_xticklabels(["0"] + [human(v) for v in ticks[1:]], fontsize=7)
    ax.xaxis.set_minor_formatter(NullFormatter())


def draw_servers(comp, ax, pts, metric, zero_at):
    for mech in mechanisms_of(pts):
        mine = sorted((p for p in pts if p.mechanism == mech), key=lambda p: p.idle)
        colour, marker, dash = style(mech)
        xs = [zero_at if p.idle == 0 else p.idle for p in mine]
        ys = [p.cells[metric].ratio for p in mine]
        ax.plot(xs, ys, color=colour, linestyle=dash, linewidth=1.1, zorder=2)
        marks(ax, xs, [p.cells[metric] for p in mine], colour, marker)


def draw_floors(comp, ax, pts, metric, floors):
    order = {s: i for i, s in enumerate(floors)}
    xs = [order[p.scenario] for p in pts]
    marks(ax, xs, [p.cells[metric] for p in pts], "black", "o")
    ax.set_xlim(-0.6, len(floors) - 0.4)
    ax.set_xticks(range(len(floors)))
    ax.set_xticklabels([floor_tick(s) for s in floors], fontsize=7)


def marks(ax, xs, cells, colour, marker):
    for x, c in zip(xs, cells):
        ax.plot(
            [x],
            [c.ratio],
            marker=marker,
            markersize=5,
            linestyle="none",
            color=colour,
            zorder=3,
            markerfacecolor=colour if c.tested else "white",
            markeredgecolor=colour,
        )
        if c.regressed:
            ax.plot(
                [x],
                [c.ratio],
                marker="o",
                markersize=12,
                markerfacecolor="none",
                markeredgecolor="#d62728",
                markeredgewidth=1.8,
                linestyle="none",
                zorder=4,
            )


def save(fig, plt, out_dir):
    paths = []
    for ext in ("png", "svg"):
        path = os.path.join(out_dir, f"compare.{ext}")
        fig.savefig(
            path,
            dpi=110 if ext == "png" else None,
            metadata={"Date": None} if ext == "svg" else None,
        )
        paths.append(path)
    plt.close(fig)
    return paths


def mechanisms_of(points):
    return sorted({p.mechanism for p in points if not p.is_floor}, key=mechanism_order)


STYLE = {}


def style(mechanism):
    """plot.py's colour, marker and dash of a mechanism, so the comparison reads like the run's
    plots."""
    if not STYLE:
        try:
            from plot import plot as plotmod

            STYLE.update({m: plotmod.style(m) for m in rf.KNOWN_MECHANISMS})
            STYLE["_style"] = plotmod.style
        except Exception:  # plot.py changed shape: fall back to matplotlib's cycle
            STYLE["_style"] = None
    if mechanism not in STYLE:
        fn = STYLE.get("_style")
        spare = [
            "#1f77b4",
            "#ff7f0e",
            "#2ca02c",
            "#d62728",
            "#9467bd",
            "#8c564b",
            "#e377c2",
            "#7f7f7f",
        ]
        STYLE[mechanism] = fn(mechanism) if fn else (spare[(len(STYLE) - 1) % len(spare)], "o", "-")
    return STYLE[mechanism]


def spaced_ticks(candidates, bottom, top, gap=0.07):
    """The candidates (first ones first) that lie at least `gap` of the log axis from every tick
    kept."""
    span = math.log(top / bottom)
    kept = []
    for v in candidates:
        if v > 0 and bottom <= v <= top and all(abs(math.log(v / k)) >= gap * span for k in kept):
            kept.append(v)
    return sorted(kept)


def floor_tick(scenario):
    mode, placement = scenario[0], scenario[1]
    parts = ["relay" if mode == rf.RELAY_FLOOR else "floor"]
    if placement:
        parts.append(placement)
    if scenario[5]:
        parts.append(scenario[5])
    return "\n".join(parts)


def wrap(text, width):
    import textwrap

    return "\n".join(textwrap.wrap(text, width)) or text
