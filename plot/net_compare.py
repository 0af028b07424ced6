"""Loopback against the veth path (`./bench --net lo,veth`): the figure net_compare and the
report's section.

Both paths ran every point in one sweep (the runs.csv column `net`). The claims are judged on one
path only (ResultsFolder.judged_net, loopback when measured), so this is the one place the other
path's rows are read: per mechanism, pingpong p50 and p99 and the server CPU per message, each the
median over repeats at the smallest idle count both paths served.
"""

import statistics

from plot.numbers import fixed as fmt
from plot.run_row import KNOWN_NETS, NET_VETH

METRICS = [
    ("p50_us", "pingpong p50 (µs)"),
    ("p99_us", "pingpong p99 (µs)"),
    ("server_cpu_us_per_msg", "server CPU per message (µs)"),
]
MODE = "pingpong"


class Comparison:
    """{mechanism: {net: {metric: median}}} at one idle count, with the repeats behind them."""

    def __init__(self, results):
        self.nets = [n for n in KNOWN_NETS if n in results.nets] + [
            n for n in results.nets if n not in KNOWN_NETS
        ]
        self.judged = results.judged_net
        self.idle = None
        self.values = {}
        self.repeats = {}
        if len(self.nets) < 2:
            return
        rows = [r for r in results.all_runs if not r.is_floor and r.mode == MODE and r.ok]
        both = set.intersection(*({r.idle for r in rows if r.net == n} for n in self.nets))
        if not both:
            return
        self.idle = min(both)
        for mech in results.mechanisms([r for r in rows if r.idle == self.idle]):
            per_net = {}
            for net in self.nets:
                mine = [r for r in rows if r.idle == self.idle and r.mechanism == mech]
                mine = [r for r in mine if r.net == net]
                self.repeats[mech, net] = len(mine)
                per_net[net] = {
                    m: statistics.median(vs) if vs else None
                    for m, vs in (
                        (m, [v for v in (r.get(m) for r in mine) if v is not None])
                        for m, _ in METRICS
                    )
                }
            self.values[mech] = per_net

    def __bool__(self):
        return bool(self.values)


def ratio(a, b):
    return f"{b / a:.2f} ×" if a and b is not None else "–"


def report_lines(results):
    """The report's section (markdown lines); [] when the run measured one path."""
    c = Comparison(results)
    if c.nets == [NET_VETH]:
        return [
            "## Over veth",
            "",
            "Every point of this run was measured over the veth pair between two network"
            " namespaces (`--net veth`; env.json's `net` describes the link), not loopback; the"
            " floors stay on loopback.",
            "",
        ]
    if len(c.nets) < 2:
        return []
    lines = [
        "## Loopback against veth",
        "",
        f"This run measured every point over {' and '.join(c.nets)} (`--net`). **The claims and"
        f" the other plots use the {c.judged} rows only**, so adding a path never changes a"
        " verdict; this section and `net_compare.png` are where the paths meet.",
        "",
    ]
    if not c:
        return lines + [
            f"No {MODE} idle count was served by every mechanism on both paths: nothing to"
            " compare.",
            "",
        ]
    other = [n for n in c.nets if n != c.judged]
    head = "| mechanism |"
    rule = "|---|"
    for _, words in METRICS:
        for net in c.nets:
            head += f" {words.split(' (')[0]} {net} |"
            rule += "---:|"
        head += f" {' / '.join(other)} ÷ {c.judged} |"
        rule += "---:|"
    lines += [
        f"Medians over repeats at {c.idle} idle connections, {MODE} (µs):",
        "",
        head,
        rule,
    ]
    for mech, per_net in c.values.items():
        cells = [mech]
        for metric, _ in METRICS:
            cells += [fmt(per_net[n][metric]) for n in c.nets]
            cells.append(
                ", ".join(ratio(per_net[c.judged][metric], per_net[n][metric]) for n in other)
            )
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "On veth every message crosses a veth pair between two network namespaces (1500-byte MTU,"
        " the link env.json's `net` describes) instead of loopback (65536): the difference is what"
        " a network device adds, not the multiplexer. The floors stay on loopback. The plot"
        " *Loopback against veth* below draws this table.",
        "",
    ]
    return lines


def plot_net_compare(plt, results, written, style, finish, title):
    """Draws net_compare.png/svg when the run measured more than one path."""
    c = Comparison(results)
    if not c:
        return
    mechs = list(c.values)
    fig, axes = plt.subplots(1, len(METRICS), figsize=(5.0 * len(METRICS), 4.6), squeeze=False)
    width = 0.8 / len(c.nets)
    hatches = {"lo": "", "veth": "//"}
    for ax, (metric, words) in zip(axes[0], METRICS):
        for i, net in enumerate(c.nets):
            xs = [k + (i - (len(c.nets) - 1) / 2) * width for k in range(len(mechs))]
            ys = [c.values[m][net][metric] or 0 for m in mechs]
            ax.bar(
                xs,
                ys,
                width,
                color=[style(m)[0] for m in mechs],
                alpha=1.0 if i == 0 else 0.55,
                hatch=hatches.get(net, ".."),
                edgecolor="0.2",
                label=net,
            )
        ax.set_xticks(range(len(mechs)))
        ax.set_xticklabels(mechs, rotation=30, ha="right", fontsize=9)
        ax.set_ylabel(words)
        ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle(f"{title('net_compare')} ({MODE}, {c.idle} idle)", fontsize=13)
    finish(
        fig,
        plt,
        results,
        "net_compare",
        f"Machine: {results.machine_caption()}.\nruns.csv: bars are the median over repeats of"
        f" each path ({', '.join(c.nets)}; solid = {c.nets[0]}, hatched = the other), at the"
        " smallest idle count both served. The claims use the"
        f" {c.judged} rows only.",
        written,
    )
