"""What every plot of plot.py shares: each mechanism's style, the idle-connection axis (0 drawn
left of the smallest count, log scale), median curves with min-max bands, failure marks, captions
and the writing of PNG and SVG."""

import os
import sys
import textwrap


from plot.figure_list import FIGURES
from harness.common.plotting_python import INSTALL_HINT
from plot import run_row
from plot.run_row import scenario_label
from plot.numbers import human


# colour-blind-safe colours; ET shares LT's family but not its dash, and io_uring's completion
# model its poll model's, so both of a pair read apart in grey
STYLE = {
    "select": ("#d62728", "o", "-"),
    "select-dynamic": ("#ff7f0e", "D", "--"),
    "poll": ("#9467bd", "s", "-"),
    "epoll-lt": ("#1f77b4", "^", "-"),
    "epoll-et": ("#17becf", "v", "--"),
    "uring": ("#2ca02c", "P", "-"),
    "uring-completion": ("#2ca02c", "X", "--"),
    "poll-shared": ("#9467bd", "s", ":"),  # the shared family: poll's colour, dotted
    "epoll-ctl-add": ("#8c564b", "o", "-"),
    "epoll-ctl-mod": ("#e377c2", "s", "--"),
    "epoll-ctl-del": ("#7f7f7f", "v", ":"),
}
SPARE = ["#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"]
ZERO_FACTOR = 4.0  # idle = 0 is drawn this factor left of the smallest positive idle count
HOLLOW_NOTE = "hollow marker: latency- or loadgen-bound point (filled: server-bound)"
CAPACITY_NOTE = "dotted, same colour: server capacity (10⁶ / server CPU µs per message)"
RELAY_FLOOR_LABEL = "relay floor (4 hops, no multiplexer)"


def style(mechanism):
    if mechanism not in STYLE:
        STYLE[mechanism] = (SPARE[len(STYLE) % len(SPARE)], "*", "-.")
    return STYLE[mechanism]


def pyplot_or_none():
    """matplotlib.pyplot set up for files (Agg, stable SVG ids), or None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        matplotlib.rcParams["svg.hashsalt"] = "muxbench"
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def import_pyplot():
    plt = pyplot_or_none()
    if plt is None:
        sys.exit(
            f"plot.py: {sys.executable} has no matplotlib; this script needs matplotlib:"
            f" {INSTALL_HINT}"
        )
    return plt


class IdleAxis:
    """A log x axis that can still show idle = 0, drawn at a labelled position left of the rest."""

    def __init__(self, idles):
        positive = sorted(x for x in idles if x > 0)
        self.has_zero = 0 in idles
        self.zero_at = (positive[0] if positive else 1.0) / ZERO_FACTOR
        self.top = positive[-1] if positive else 10.0

    def pos(self, x):
        return self.zero_at if x == 0 else x

    def apply(self, ax, label="idle connections"):
        from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

        ax.set_xscale("log")
        ax.set_xlim(
            self.zero_at / 1.6 if self.has_zero else self.zero_at * ZERO_FACTOR / 1.6,
            self.top * 1.6,
        )
        ticks = [10.0**k for k in range(0, 8) if self.zero_at * 1.5 < 10.0**k <= self.top * 1.6]
        if self.has_zero:
            ticks = [self.zero_at] + ticks
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(
            FuncFormatter(lambda v, _: "0" if self.has_zero and v == self.zero_at else human(v))
        )
        ax.set_xlabel(
            label + (" (log scale; 0 drawn at the left)" if self.has_zero else " (log scale)")
        )


def plain_log(ax, which):
    """Log axis ticks as plain numbers (20, 1k) instead of 2×10^1: read at a glance."""
    from matplotlib.ticker import FuncFormatter, LogFormatter

    class PlainMinor(LogFormatter):
        # LogFormatter picks which minor ticks deserve a label on a short axis; we only change how
        # it reads.
        def __call__(self, x, pos=None):
            return human(x) if super().__call__(x, pos) else ""

    axis = ax.xaxis if which == "x" else ax.yaxis
    axis.set_major_formatter(FuncFormatter(lambda v, _: human(v)))
    axis.set_minor_formatter(PlainMinor(labelOnlyBase=False, minor_thresholds=(1.2, 0.5)))


def draw_series(ax, series, mechanism, xpos=lambda x: x, label=None):
    """The median line with a min–max band. A point whose repeats were mostly latency- or
    loadgen-bound (bound_by) gets a hollow marker; server-bound and unrecorded points are filled."""
    xs = series.xs()
    if not xs:
        return False
    colour, marker, dash = style(mechanism)
    px = [xpos(x) for x in xs]
    medians = [series.median(x) for x in xs]
    order = list(STYLE).index(mechanism)
    zorder = 3 + 0.1 * (len(STYLE) - order)
    filled = [series.server_bound(x) is not False for x in xs]
    ax.plot(
        px,
        medians,
        color=colour,
        marker=marker,
        linestyle=dash,
        linewidth=1.6,
        markersize=5,
        label=label or mechanism,
        zorder=zorder,
        markevery=None if all(filled) else [i for i, f in enumerate(filled) if f],
    )
    hollow = [i for i, f in enumerate(filled) if not f]
    if hollow:
        ax.plot(
            [px[i] for i in hollow],
            [medians[i] for i in hollow],
            linestyle="none",
            marker=marker,
            markersize=5,
            markerfacecolor="white",
            markeredgecolor=colour,
            markeredgewidth=1.3,
            zorder=zorder + 0.05,
            label="_hollow",
        )
    ax.fill_between(
        px,
        [series.low(x) for x in xs],
        [series.high(x) for x in xs],
        color=colour,
        alpha=0.18,
        linewidth=0,
    )
    return True


def legend_note(ax, label, **kw):
    """An entry that only explains a convention: drawn nowhere, shown once in the figure legend."""
    ax.plot([], [], label=label, **kw)


def mark_failures(ax, results, mode, mechanism, axis, idle_states=None):
    """Refused points as an x at the top of the axes, other failures as a hollow circle at the
    bottom."""
    import matplotlib.transforms as transforms

    colour = style(mechanism)[0]
    trans = transforms.blended_transform_factory(ax.transData, ax.transAxes)
    marks = (
        (
            results.refused_idles,
            0.96,
            {"marker": "x", "markersize": 9, "markeredgewidth": 2},
            f"{mechanism} refused: FD_SETSIZE",
        ),
        (
            results.failed_idles,
            0.04,
            {"marker": "o", "markerfacecolor": "none", "markersize": 8},
            f"{mechanism} failed (see report)",
        ),
    )
    for idles_of, height, marker, label in marks:
        idles = idles_of(mode, mechanism, idle_states)
        if idles:
            ax.plot(
                [axis.pos(x) for x in idles],
                [height] * len(idles),
                transform=trans,
                linestyle="none",
                color=colour,
                clip_on=False,
                label=label,
                **marker,
            )


def fd_setsize_line(ax, results):
    limit = results.fd_setsize()
    ax.axvline(limit, color="0.35", linestyle=":", linewidth=1.4, label=f"FD_SETSIZE = {limit}")


def idle_panel(ax, results, mode, metric, axis, idle_states=None):
    drawn = False
    bound = False
    for mech in results.mechanisms(results.scenario_runs(mode, idle_states)):
        series = results.series(mode, mech, metric, idle_states)
        drawn |= draw_series(ax, series, mech, axis.pos)
        bound |= bool(series.bound)
        mark_failures(ax, results, mode, mech, axis, idle_states)
    if bound:
        legend_note(
            ax,
            HOLLOW_NOTE,
            linestyle="none",
            marker="o",
            markerfacecolor="white",
            markeredgecolor="0.3",
        )
    fd_setsize_line(ax, results)
    axis.apply(ax)
    ax.grid(True, which="major", alpha=0.3)
    return drawn


def caption(results, extra="", micro=False):
    if micro:
        how = (
            "micro.csv: lines are the median of Google Benchmark repetitions; bands their min–max. "
        )
    else:
        repeats = max((r.repeat for r in results.runs), default=0)
        how = f"runs.csv: lines are the median of {repeats} repeat(s); bands their min–max. "
    return f"Machine: {results.machine_caption()}.\n{how}{extra}"


def legend_width(labels, columns):
    """Inches a legend of 9 pt labels takes in `columns` columns, filled column by column as
    matplotlib
    does (about 0.075 in per character, plus the handle and the gap, 0.75 in, per column)."""
    rows = -(-len(labels) // columns)
    chunks = [labels[i : i + rows] for i in range(0, len(labels), rows)]
    return sum(0.075 * max(len(lab) for lab in chunk) + 0.75 for chunk in chunks if chunk)


def finish(fig, plt, results, stem, text, written):
    """One legend for the whole figure, under the panels, then the caption; save PNG and SVG."""
    handles, labels = [], []
    for ax in fig.axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels and not lab.startswith("_"):
                handles.append(h)
                labels.append(lab)
    width, height = fig.get_size_inches()
    # About 15 characters of 8 pt text per inch: wrap the caption to the figure instead of clipping
    # it.
    lines = [
        part for line in text.split("\n") for part in textwrap.wrap(line, int(width * 15)) or [""]
    ]
    caption_in = 0.14 * len(lines) + 0.08
    columns = max(2, min(4, int(width / 3.2)))
    while columns > 1 and legend_width(labels, columns) > width * 0.98:
        columns -= 1  # long notes (the conventions) would run off the figure's edges
    legend_in = 0.24 * -(-len(handles) // columns) + 0.1 if handles else 0.0
    if handles:
        fig.legend(
            handles,
            labels,
            loc="lower center",
            ncol=columns,
            fontsize=9,
            frameon=False,
            bbox_to_anchor=(0.5, caption_in / height),
        )
    fig.text(0.01, 0.01, "\n".join(lines), fontsize=8, va="bottom", ha="left", color="0.25")
    fig.tight_layout(rect=(0, (caption_in + legend_in + 0.1) / height, 1.0, 0.95))
    for ext in ("png", "svg"):
        path = os.path.join(results.path, f"{stem}.{ext}")
        # No date in the SVG and fixed element ids: re-plotting a committed run changes no byte.
        fig.savefig(
            path,
            dpi=110 if ext == "png" else None,
            metadata={"Date": None} if ext == "svg" else None,
        )
        written.append(path)
    plt.close(fig)


def title_of(stem):
    return next(t for s, t, _ in FIGURES if s == stem)


def modes_with(results, metric, skip=("churn",)):
    out = []
    for mode in results.modes():
        if mode in skip:
            continue
        if any(
            len(results.series(mode, m, metric))
            for m in results.mechanisms(results.scenario_runs(mode))
        ) or any(
            results.refused_idles(mode, m) for m in results.mechanisms(results.scenario_runs(mode))
        ):
            out.append(mode)
    return out


def all_idles(results, modes):
    return {
        r.idle
        for mode in modes
        for s in results.idle_states_of(mode)
        for r in results.scenario_runs(mode, s)
    }


def states_of(results, modes):
    """The idle-states settings to draw, primary first: one row of panels each (block above
    allow)."""
    seen = []
    for mode in modes:
        for s in results.idle_states_of(mode):
            if s not in seen:
                seen.append(s)
    return seen or [None]


def states_note(ax, states, each_mode=False):
    """Says in the legend which row of panels holds which idle-states setting."""
    if len(states) > 1:
        if each_mode:
            words = [
                f"{'first' if i == 0 else 'second' if i == 1 else f'row {i + 1}'} row of each mode"
                for i in range(len(states))
            ]
        else:
            words = [
                f"{'upper' if i == 0 else 'lower' if i == len(states) - 1 else f'row {i + 1}'} row"
                for i in range(len(states))
            ]
        legend_note(
            ax,
            "panels: "
            + "; ".join(f"{w} = {run_row.idle_states_words(s)}" for w, s in zip(words, states)),
            linestyle="none",
        )


def panel_title(scenario, prefix=""):
    """A panel's scenario; its idle-states setting, when recorded, on a line of its own."""
    text = scenario_label(scenario[:5])
    if len(scenario) > 5 and scenario[5]:
        text += "\n" + run_row.idle_states_words(scenario[5])
    return prefix + text


def same_ylim(axes):
    """Rows of one metric share their y range, so that block and allow read against each other."""
    axes = [ax for ax in axes if ax.get_visible()]
    if len(axes) > 1:
        low = min(ax.get_ylim()[0] for ax in axes)
        high = max(ax.get_ylim()[1] for ax in axes)
        for ax in axes:
            ax.set_ylim(low, high)


def not_measured(ax, mode, state):
    ax.text(
        0.5,
        0.5,
        f"{mode}: not measured with {run_row.idle_states_words(state)}",
        ha="center",
        va="center",
        transform=ax.transAxes,
        fontsize=9,
        color="0.4",
    )
    ax.set_xticks([])
    ax.set_yticks([])
