"""Write results/<run>/report.md and report.html: the verdicts first, then the plots that carry
them, where each mechanism wins, the evidence, and the diagnostics.

    python3 -m plot.report results/<run>        (from the muxbench root)

Stdlib only for report.md: the report is written even by a Python without matplotlib (the plots
are then missing and the report says how to draw them); report.html renders its prose with
python3-markdown when present. Verdict rules live in rules.py, claims in claims.py; the sections
are written by report_evidence.py, report_diagnostics.py and report_machine.py into a Document
(document.py), rendered by document.markdown and report_html.html.
"""

import argparse
import os
import sys


from plot import claims
from plot import cross_check
from plot import curves_report
from plot import hostile
from plot import idle_growth
from plot import net_compare
from plot import peers_section
from plot import projection
from plot import report_html
from plot import rules
from plot import wins
from plot.document import Document, Section, Table, Text, from_lines, markdown, slug
from plot.figure_list import FIGURES
from plot.markdown import cell
from plot.numbers import fmt
from harness.common.plotting_python import INSTALL_HINT, has_matplotlib
from plot.report_diagnostics import (
    bound_section,
    drift_and_spread_section,
    failures_section,
    floors_section,
    idle_states_section,
    warning_items,
    warnings_lines,
)
from plot.report_evidence import (
    anchors_section,
    claim_anchor,
    claims_section,
    completion_section,
    figure_blocks,
    how_to_read,
    idle_growth_section,
    no_plot_text,
    plots_section,
    rules_section,
    verdict_counts,
)
from plot.report_machine import machine_section
from plot.results_folder import ResultsFolder

# The plots the answers are read on, drawn right under the verdicts.
STORY = ["latency", "cpu_per_msg"]


def duration_words(seconds):
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def run_line(results):
    """The run in one line: machine, mechanisms, idle counts, repeats, duration."""
    raw, env = results.raw_env, results.env
    parts = [results.machine_caption()]
    mechanisms = results.mechanisms([r for r in results.runs if not r.is_floor])
    parts.append("mechanisms " + (", ".join(mechanisms) or "none"))
    idles = sorted({r.idle for r in results.runs if not r.is_floor})
    parts.append("idle connections " + (", ".join(fmt(i) for i in idles) or "none"))
    repeats = raw.get("repeats") or max((r.repeat or 1 for r in results.runs), default=0)
    parts.append(f"{repeats} repeat(s)")
    seconds = raw.get("duration_s") or env.get("sweep_duration_s")
    if isinstance(seconds, (int, float)):
        parts.append(f"{duration_words(seconds)} in all")
    if raw.get("preset"):
        parts.append(f"preset {raw['preset']}")
    link = f"[machine and run](#{slug('The machine and the run')})"
    return f"**The run:** {cell(' · '.join(parts))} ({link})."


def verdicts_section(evaluated):
    """Claim, verdict, the one headline figure, the link to its evidence."""
    table = Table(
        ["#", "claim", "verdict", "headline figure", "evidence"],
        [
            [
                str(c.number),
                cell(c.text),
                f"**{c.verdict}**",
                cell(c.headline) if c.headline else "–",
                f"[claim {c.number}](#{claim_anchor(c.number)})",
            ]
            for c in evaluated
        ],
    )
    return Section(
        "Verdicts",
        [
            table,
            Text(
                [
                    verdict_counts(evaluated)
                    + f" How they are decided: [the rules](#{slug('How verdicts are decided')}).",
                    "",
                ]
            ),
        ],
    )


def story_section(results):
    blocks, drawn = figure_blocks(results, STORY)
    return Section("The story in two plots", blocks if drawn else [no_plot_text(results)])


def wins_table(found):
    header = ["idle connections"]
    for _, words in found.metrics:
        header += [f"lowest {words}", "next"]
    rows = []
    for idle, places in found.rows:
        row = [fmt(idle)]
        for metric, _ in found.metrics:
            p = places.get(metric)
            if p is None:
                row += ["–", "–"]
                continue
            row.append(f"{'≈ ' if p.tie else ''}**{p.best}** {fmt(p.value)}")
            row.append(
                f"{p.next_best} ×{p.next_value / p.value:.2f}" if p.next_best and p.value else "–"
            )
        rows.append(row)
    return Table(header, rows)


def wins_section(results):
    found = wins.evaluate(results)
    blocks = []
    if found is None or not found.rows:
        blocks.append(Text(["No mode measured server CPU per message: nothing to rank.", ""]))
    else:
        blocks += [
            Text(
                [
                    f"At each idle count of {found.mode} (medians of the ok repeats, the plotted"
                    " scenario), the mechanism with the lowest figure and the next one as a"
                    " multiple of it; ≈ marks a lead within"
                    f" {rules.EQUIVALENCE_MARGIN:.0%}, where no mechanism wins. For"
                    " information, not a test (how far the repeats spread is under [drift and"
                    " spread](#drift-and-spread)): the verdicts above come from the claims'"
                    " rules.",
                    "",
                ]
            ),
            wins_table(found),
        ]
    completion = from_lines(completion_section(results))
    if completion is not None:
        completion.level = 3
        blocks.append(Text(["### " + completion.title, ""]))
        blocks += completion.blocks
    return Section("Where each mechanism wins", blocks)


def drift_section(results):
    """Drift and spread, opened by the warnings in full (the top lists them in one line each)."""
    section = from_lines(drift_and_spread_section(results))
    section.blocks.insert(0, Text(warnings_lines(results)))
    return section


def sources_section(anchors):
    sources = [anchors[k]["source"] for k in ("kerrisk2006", "gammo2004", "coroio_libevent_bench")]
    return Section(
        "Sources",
        [
            Text(
                [f"- {s}" for s in sources]
                + [
                    "- Linux kernel source, `fs/eventpoll.c` (`epoll_put_uevent`, `__put_user`),"
                    " for claim 9.",
                    "",
                ]
            )
        ],
    )


def preamble(results):
    warnings = warning_items(results)
    return [
        Text([run_line(results), ""]),
        Text([f"- {w}" for w in warnings] + [""] if warnings else []),
        Text(
            [
                "select, poll and epoll chat servers measured with thousands of idle connections;"
                " each teaching claim of the spec gets a verdict from fixed rules. Generated by"
                " `plot/report.py`; do not edit by hand.",
                "",
            ]
        ),
    ]


def document(folder, bin_dir=None):
    """(results, evaluated claims, Document): the answers first, then the evidence, then the
    diagnostics in their order of importance (drift, spread, bounds, environment, idle states,
    floors, failed points)."""
    results = ResultsFolder(folder)
    anchors = claims.load_anchors()
    evaluated = claims.evaluate(results, anchors)
    growth = idle_growth.evaluate_folder(results, bin_dir)
    sections = [
        verdicts_section(evaluated),
        story_section(results),
        wins_section(results),
        from_lines(how_to_read(results)),
        claims_section(evaluated),
        from_lines(idle_growth_section(growth)),
        peers_section.section(results, growth.registry),
        from_lines(hostile.section(results)),
        from_lines(curves_report.section(results)),
        from_lines(net_compare.report_lines(results)),
        plots_section(results, shown_above=STORY),
        from_lines(projection.section(results)),
        from_lines(cross_check.section(results)),
        from_lines(anchors_section(results, anchors)),
        from_lines(rules_section()),
        drift_section(results),
        from_lines(bound_section(results)),
        from_lines(machine_section(results) + [""]),
        from_lines(idle_states_section(results)),
        from_lines(floors_section(results)),
        from_lines(failures_section(results)),
        sources_section(anchors),
    ]
    name = os.path.basename(results.path.rstrip("/"))
    doc = Document(f"muxbench report — {name}", preamble(results), [s for s in sections if s])
    return results, evaluated, doc


def build(folder, bin_dir=None):
    """(results, evaluated claims, report.md's text); bin_dir: where a chat-* server lists the
    mechanism registry (idle_growth.bin_dirs)."""
    results, evaluated, doc = document(folder, bin_dir)
    return results, evaluated, markdown(doc)


def main():
    parser = argparse.ArgumentParser(
        description="Write report.md and report.html (claims, verdicts, plots) into a bench"
        " results folder."
    )
    parser.add_argument(
        "folder",
        help="a results/<run>/ folder holding runs.csv (and env.json, micro.csv, probe.json)",
    )
    parser.add_argument(
        "--bin",
        help="a build's bin directory whose chat-* servers list the mechanism registry (default:"
        " $MUXBENCH_BIN, this checkout's build/bin, then the run's own servers)",
    )
    args = parser.parse_args()
    results, evaluated, doc = document(args.folder, args.bin)
    path = os.path.join(results.path, "report.md")
    with open(path, "w") as f:
        f.write(markdown(doc))
    html_path = os.path.join(results.path, "report.html")
    with open(html_path, "w") as f:
        f.write(report_html.page(doc, results.path))
    if not has_matplotlib() and not any(
        os.path.isfile(os.path.join(results.path, f"{s}.png")) for s, _, _ in FIGURES
    ):
        print(f"report.py: matplotlib missing, so no plots: {INSTALL_HINT}", file=sys.stderr)
    if not report_html.has_markdown():
        print(f"report.py: {report_html.MARKDOWN_HINT}", file=sys.stderr)
    print(path)
    print(html_path)
    for c in evaluated:
        print(f"claim {c.number}: {c.verdict}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
