"""Draw the plots of one bench run: python3 -m plot.plot results/<run> (from the muxbench root)

Writes PNG and SVG files next to runs.csv (see figure_list.py for what each shows). Curves are
medians over repeats with min-max bands; points that failed are never drawn as figures but
marked (select's FD_SETSIZE refusals with an x at the top of the axes).
"""

import argparse
import sys


from plot import claims
from plot import curves_plot
from plot import net_compare
from plot import shape_rules
from plot import series
from plot import results_folder as rf
from plot.results_folder import ResultsFolder, number
from plot.numbers import human

from plot.plot_axes import (  # noqa: F401 (soak.py and compare_runs_plot reach style here)
    CAPACITY_NOTE,
    IdleAxis,
    RELAY_FLOOR_LABEL,
    all_idles,
    caption,
    draw_series,
    fd_setsize_line,
    finish,
    idle_panel,
    import_pyplot,
    legend_note,
    modes_with,
    not_measured,
    panel_title,
    plain_log,
    same_ylim,
    states_note,
    states_of,
    style,
    title_of,
)


def latency_floors(ax, results, mode, metric, placement, state):
    """The floor lines of one latency panel; True when the relay floor was drawn."""
    floor = results.floor(metric, placement, rf.FLOOR, state)
    if floor is not None:
        ax.axhline(
            floor,
            color="black",
            linestyle="--",
            linewidth=1.2,
            label=f"blocking ping-pong floor ({placement or 'same'} placement, same percentile)",
        )
    # The relay floor makes a ping-pong's 4 hops: a reference for round trips, not for one-way
    # latency.
    relay = results.floor(metric, placement, rf.RELAY_FLOOR, state) if mode == "pingpong" else None
    if relay is not None:
        ax.axhline(relay, color="0.35", linestyle="-.", linewidth=1.3, label=RELAY_FLOOR_LABEL)
    return relay is not None


def plot_latency(plt, results, written):
    modes = modes_with(results, "p50_us")
    if not modes:
        return
    axis = IdleAxis(all_idles(results, modes))
    panels = [(mode, state) for mode in modes for state in results.idle_states_of(mode)]
    fig, axes = plt.subplots(len(panels), 2, figsize=(12, 4.2 * len(panels) + 1.6), squeeze=False)
    relay_drawn = False
    for row, (mode, state) in enumerate(panels):
        scenario = results.scenario_with(mode, state)
        placement = scenario[1] or None
        for col, (metric, name) in enumerate((("p50_us", "p50"), ("p99_us", "p99"))):
            ax = axes[row][col]
            idle_panel(ax, results, mode, metric, axis, state)
            relay_drawn |= latency_floors(ax, results, mode, metric, placement, state)
            ax.set_yscale("log")
            plain_log(ax, "y")
            ax.set_ylabel(f"{name} latency (µs, log scale)")
            ax.set_title(panel_title(scenario, f"{name} latency — "), fontsize=10)
    for mode in modes:
        for col in (0, 1):
            same_ylim([axes[i][col] for i, (m, _) in enumerate(panels) if m == mode])
    states_note(axes[0][0], states_of(results, modes), each_mode=True)
    fig.suptitle(title_of("latency"), fontsize=13)
    extra = (
        "Dash-dot line (pingpong panels): the relay floor, a blocking relay over the same 4 hops"
        " and CPUs as a chat ping-pong (same percentile). "
        if relay_drawn
        else ""
    )
    finish(
        fig,
        plt,
        results,
        "latency",
        caption(results, extra + "Refused or failed points are marked, never plotted as figures."),
        written,
    )


def plot_simple(
    plt,
    results,
    written,
    stem,
    metric,
    ylabel,
    log_y=False,
    zero_y=True,
    style_y=None,
    note=None,
    extra=None,
):
    """One panel per mode of `metric` against idle connections (a row per idle-states setting when
    the run measured several). style_y(ax, mode), when given, replaces the default y axis (log or
    from zero); extra(ax, mode, state, axis) draws more into a panel; note is added to the caption.
    """
    modes = modes_with(results, metric)
    if not modes:
        return
    axis = IdleAxis(all_idles(results, modes))
    states = states_of(results, modes)
    fig, axes = plt.subplots(
        len(states),
        len(modes),
        figsize=(6.2 * len(modes) + 0.6, 6.0 + 4.4 * (len(states) - 1)),
        squeeze=False,
    )
    for i, mode in enumerate(modes):
        for j, state in enumerate(states):
            ax = axes[j][i]
            if state is not None and state not in results.idle_states_of(mode):
                not_measured(ax, mode, state)
                continue
            idle_panel(ax, results, mode, metric, axis, state)
            if extra is not None:
                extra(ax, mode, state, axis)
            if style_y is not None:
                style_y(ax, mode)
            elif log_y:
                ax.set_yscale("log")
                plain_log(ax, "y")
            elif zero_y:
                ax.set_ylim(bottom=0)
            ax.set_ylabel(ylabel)
            ax.set_title(panel_title(results.scenario_with(mode, state)), fontsize=10)
        same_ylim(
            [
                axes[j][i]
                for j, state in enumerate(states)
                if state is None or state in results.idle_states_of(mode)
            ]
        )
    states_note(axes[0][0], states)
    fig.suptitle(title_of(stem), fontsize=13)
    finish(fig, plt, results, stem, caption(results, note or ""), written)


def capacity_lines(results):
    """extra= for the throughput plot: each mechanism's server capacity (server_capacity_msgs_s,
    10⁶ / server CPU µs per message) beside what it delivered, dotted in the same colour."""

    def draw(ax, mode, state, axis):
        drawn = False
        for mech in results.mechanisms(results.scenario_runs(mode, state)):
            s = results.series(mode, mech, "server_capacity_msgs_s", state)
            xs = s.xs()
            if xs:
                drawn = True
                ax.plot(
                    [axis.pos(x) for x in xs],
                    [s.median(x) for x in xs],
                    color=style(mech)[0],
                    linestyle=":",
                    linewidth=1.3,
                    label="_capacity",
                    zorder=2.5,
                )
        if drawn:
            legend_note(ax, CAPACITY_NOTE, color="0.3", linestyle=":", linewidth=1.3)

    return draw


def plot_fds_per_event(plt, results, written):
    from matplotlib.ticker import FuncFormatter

    def symlog_y(ax, mode):
        # symlog keeps epoll's honest 0 on the axis while select/poll span decades.
        ax.set_yscale("symlog", linthresh=1.0)
        ax.set_ylim(0, max(2.0, ax.get_ylim()[1] * 2.5))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: human(v)))
        epolls = [
            m for m in results.mechanisms(results.scenario_runs(mode)) if m.startswith("epoll")
        ]
        if epolls:
            ax.annotate(
                "epoll hands no descriptors per call:\nits interest list lives in the kernel",
                xy=(0.03, 0.06),
                xycoords="axes fraction",
                fontsize=8,
                color=style(epolls[0])[0],
            )

    plot_simple(
        plt,
        results,
        written,
        "fds_per_event",
        "fds_per_event",
        "descriptors passed per ready event (symlog)",
        style_y=symlog_y,
        note="y: symlog (linear from 0 to 1, logarithmic above) so that 0 stays on the axis.",
    )


def log_log(ax, xlabel, ylabel):
    ax.set_xscale("log")
    ax.set_yscale("log")
    plain_log(ax, "x")
    plain_log(ax, "y")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.3)


def mark_skipped(ax, results, mech):
    """Skipped micro.csv wait instances (e.g. select past FD_SETSIZE), marked with an x at the
    top of the axes where they would have been."""
    skipped = sorted(
        {
            number(m.get("watched"))
            for m in results.micro or []
            if (m.get("family") or "").strip() == "wait"
            and (m.get("mechanism") or "").strip() == mech
            and (m.get("status") or "ok").strip() not in ("ok", "")
            and number(m.get("watched"))
        }
    )
    if skipped:
        import matplotlib.transforms as transforms

        trans = transforms.blended_transform_factory(ax.transData, ax.transAxes)
        ax.plot(
            skipped,
            [0.96] * len(skipped),
            transform=trans,
            linestyle="none",
            marker="x",
            markersize=9,
            markeredgewidth=2,
            color=style(mech)[0],
            clip_on=False,
            label=f"{mech} not measurable (skipped)",
        )


def plot_micro_wait(plt, results, written):
    mechs = results.micro_mechanisms("wait")
    if not mechs:
        return
    fig, ax = plt.subplots(figsize=(10.5, 7.0))
    readies = set()
    for mech in mechs:
        ready = results.micro_fixed_value("wait", mech, "ready", prefer=1.0)
        readies.add(ready)
        draw_series(ax, results.micro_series("wait", mech, "watched", "ready", ready), mech)
        mark_skipped(ax, results, mech)
    for mech in results.micro_mechanisms("build"):
        ready = results.micro_fixed_value("build", mech, "ready", prefer=1.0)
        s = results.micro_series("build", mech, "watched", "ready", ready)
        colour = style(mech)[0]
        if s.xs():
            ax.plot(
                s.xs(),
                [s.median(x) for x in s.xs()],
                color=colour,
                linestyle=":",
                marker=".",
                label=f"{mech}: building the set (user space)",
            )
    for mech in results.micro_mechanisms("uring"):
        ready = results.micro_fixed_value("uring", mech, "ready", prefer=1.0)
        draw_series(
            ax,
            results.micro_series("uring", mech, "watched", "ready", ready),
            mech,
            label=f"{mech} (io_uring, armed polls)",
        )
    fd_setsize_line(ax, results)
    log_log(ax, "watched descriptors (log scale)", "ns per call (log scale)")
    ready_text = ", ".join(human(r) for r in sorted(x for x in readies if x is not None))
    ax.set_title(f"one wait call with {ready_text} descriptor(s) ready", fontsize=10)
    fig.suptitle(title_of("micro_wait"), fontsize=13)
    finish(
        fig,
        plt,
        results,
        "micro_wait",
        caption(
            results,
            (
                "Log-log: a line of slope 1 is linear growth; x marks instances the benchmark "
                "skipped (select past FD_SETSIZE)."
            ),
            micro=True,
        ),
        written,
    )


def per_fd_series(points, scale=1.0):
    """A Series of the cost each descriptor adds, (cost − mean cost at the smallest count) / (N −
    that count), one value per repeat (the shape rule's figure, shape_rules.PerFdShape), and the
    shape."""
    shape = shape_rules.PerFdShape(points)
    s = rf.Series("per descriptor")
    for x, values in sorted(points.items()):
        if shape.x0 is None or x == shape.x0:
            continue
        for i, v in enumerate(values):
            s.add(x, (v - shape.est[shape.x0].mean) / (x - shape.x0) * scale, i + 1)
    return s, shape


def per_fd_panel(ax, curves, xlabel, ylabel):
    """curves: [(mechanism, points, scale, label)]; a flat line is linear growth of the cost."""
    drawn = False
    for mech, points, scale, label in curves:
        if points:
            series, _ = per_fd_series(points, scale)
            drawn |= draw_series(ax, series, mech, label=label)
    ax.set_xscale("log")
    plain_log(ax, "x")
    ax.axhline(0, color="0.5", linewidth=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.3)
    return drawn


def per_fd_curves(results):
    """The curves of plot_per_fd, [(mechanism, points, scale, label)] each, only those measured:
    micro.csv's (the wait call and the shared family) and runs.csv's in the cost mode."""
    micro = [
        (m, claims.micro_cost_points(results, "wait", m), 1.0, m)
        for m in results.micro_mechanisms("wait")
    ]
    for d in sorted({number(r.get("sockets")) for r in results.micro_rows("shared")} - {None}):
        micro.append(
            (
                "poll-shared",
                claims.micro_cost_points(results, claims.SHARED_FAMILY, "poll", d),
                1.0,
                f"poll, N entries naming {human(d)} sockets",
            )
        )
    mode = claims.cost_mode(results)
    runs = [
        (m, claims.runs_cost_points(results, m)[1], 1000.0, m)
        for m in (results.mechanisms(results.scenario_runs(mode)) if mode else [])
    ]
    return [c for c in micro if c[1]], [c for c in runs if c[1]], mode


def plot_per_fd(plt, results, written):
    """Cost per watched descriptor against watched descriptors (claims 2, 4, 8): micro.csv's wait
    call and the shared family (left), runs.csv's server CPU per message per idle connection
    (right)."""
    micro, runs, mode = per_fd_curves(results)
    if not micro and not runs:
        return
    # (curves, x axis, y axis, title) of the two same-shape panels; an empty side is left out.
    panels = [
        (
            micro,
            "watched descriptors (log scale)",
            "ns added per watched descriptor, one call",
            "micro.csv: one wait call, 1 ready",
        ),
        (
            runs,
            "idle connections (log scale)",
            "server CPU added per idle connection, ns per message",
            f"runs.csv: {mode}",
        ),
    ]
    panels = [p for p in panels if p[0]]
    fig, axes = plt.subplots(1, len(panels), figsize=(6.4 * len(panels) + 0.6, 6.4), squeeze=False)
    for ax, (curves, xlabel, ylabel, title) in zip(axes[0], panels):
        per_fd_panel(ax, curves, xlabel, ylabel)
        fd_setsize_line(ax, results)
        ax.set_title(title, fontsize=10)
    fig.suptitle(title_of("per_fd"), fontsize=13)
    finish(
        fig,
        plt,
        results,
        "per_fd",
        caption(
            results,
            "Cost per descriptor = (cost at N − cost at the smallest N) ÷ (N − smallest N): a"
            " flat line is a cost that grows linearly (claims 2, 4), a line on 0 one that does"
            " not grow (claim 8). Lines: medians; bands: min–max of repetitions (left) and"
            " repeats (right).",
            micro=bool(micro),
        ),
        written,
    )


def plot_micro_ready(plt, results, written):
    ready_mechs = results.micro_mechanisms("ready")
    ctl_mechs = results.micro_mechanisms("ctl")
    if not ready_mechs and not ctl_mechs:
        return
    panels = (1 if ready_mechs else 0) + (1 if ctl_mechs else 0)
    fig, axes = plt.subplots(1, panels, figsize=(6.2 * panels + 0.6, 6.0), squeeze=False)
    i = 0
    if ready_mechs:
        ax = axes[0][i]
        i += 1
        watched_values = set()
        for mech in ready_mechs:
            watched = results.micro_fixed_value("ready", mech, "watched")
            watched_values.add(watched)
            draw_series(ax, results.micro_series("ready", mech, "ready", "watched", watched), mech)
        log_log(ax, "ready descriptors per call (log scale)", "ns per wait call (log scale)")
        ax.set_title(
            "one wait call, "
            + ", ".join(human(w) for w in sorted(watched_values))
            + " watched, k ready",
            fontsize=10,
        )
    if ctl_mechs:
        ax = axes[0][i]
        for mech in ctl_mechs:
            draw_series(ax, results.micro_series("ctl", mech, "watched"), mech)
        ax.set_xscale("log")
        plain_log(ax, "x")
        ax.set_ylim(bottom=0)
        ax.set_xlabel("descriptors already registered (log scale)")
        ax.set_ylabel("ns per epoll_ctl call")
        ax.grid(True, which="major", alpha=0.3)
        ax.set_title("registration: one epoll_ctl call", fontsize=10)
    fig.suptitle(title_of("micro_ready"), fontsize=13)
    finish(fig, plt, results, "micro_ready", caption(results, micro=True), written)


def plot_churn(plt, results, written):
    if "churn" not in results.modes():
        return
    if not any(r.mode == "churn" and r.get("conns_per_s") is not None for r in results.runs):
        return
    states = results.idle_states_of("churn")
    axis = IdleAxis(all_idles(results, ["churn"]))
    if len(states) == 1:
        fig, ax = plt.subplots(figsize=(10.5, 6.6))
        axes = [ax]
    else:
        fig, grid = plt.subplots(
            1, len(states), figsize=(6.2 * len(states) + 0.6, 6.6), squeeze=False
        )
        axes = list(grid[0])
    for ax, state in zip(axes, states):
        idle_panel(ax, results, "churn", "conns_per_s", axis, state)
        ax.set_ylim(bottom=0)
        ax.set_ylabel("connections per second")
        ax.set_title(panel_title(results.scenario_with("churn", state)), fontsize=10)
    same_ylim(axes)
    if len(states) > 1:
        legend_note(
            axes[0],
            "panels: "
            + "; ".join(
                f"{'left' if i == 0 else 'right' if i == len(states) - 1 else f'panel {i + 1}'}"
                f" = {rf.idle_states_words(s)}"
                for i, s in enumerate(states)
            ),
            linestyle="none",
        )
    fig.suptitle(title_of("churn"), fontsize=13)
    finish(fig, plt, results, "churn", caption(results), written)


def render(folder):
    plt = import_pyplot()
    results = ResultsFolder(folder)
    written = []
    plot_latency(plt, results, written)
    # Log y: with thousands of idle connections select/poll fall (or rise) by orders of magnitude,
    # and on a linear axis epoll's line would be flattened into the x axis.
    plot_simple(
        plt,
        results,
        written,
        "throughput",
        "throughput_msgs_s",
        "messages per second (log scale)",
        log_y=True,
        extra=capacity_lines(results),
    )
    plot_simple(
        plt,
        results,
        written,
        "cpu_per_msg",
        "server_cpu_us_per_msg",
        "server CPU per message (µs, log scale)",
        log_y=True,
    )
    plot_fds_per_event(plt, results, written)
    plot_micro_wait(plt, results, written)
    plot_micro_ready(plt, results, written)
    plot_per_fd(plt, results, written)
    plot_churn(plt, results, written)
    series.plot_series(plt, results, written, style, finish, title_of)
    net_compare.plot_net_compare(plt, results, written, style, finish, title_of)
    curves_plot.plot_curves(plt, results, written)
    return written


def main():
    parser = argparse.ArgumentParser(
        description="Draw the plots of one bench run into its folder (PNG and SVG)."
    )
    parser.add_argument(
        "folder",
        help="a results/<run>/ folder holding runs.csv (and env.json, micro.csv, probe.json)",
    )
    args = parser.parse_args()
    written = render(args.folder)
    if not written:
        print(f"plot.py: {args.folder}: runs.csv has no plottable rows", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
