#!/usr/bin/env python3
"""Write results/<run>/report.md: plots, the claims of SPEC section 6 with verdicts, published figures.

    plot/report.py results/<run>

Stdlib only: the report is written even by a Python without matplotlib (the plots are then
missing and the report says how to draw them). Verdict rules live in rules.py, claims in claims.py.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import claims  # noqa: E402
import compare  # noqa: E402
import rules  # noqa: E402
from figure_list import FIGURES  # noqa: E402
from results_folder import ResultsFolder, scenario_label  # noqa: E402

MATPLOTLIB_HINT = ("matplotlib missing: install it with `sudo apt-get install python3-matplotlib` and run "
                   "plot/plot.py with /usr/bin/python3, the interpreter that sees Debian's packages")


def cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def has_matplotlib():
    import importlib.util

    try:
        return importlib.util.find_spec("matplotlib") is not None
    except (ImportError, ValueError):
        return False


def machine_section(results):
    e = results.env
    keys = [("cpu_model", "CPU"), ("cores", "cores"), ("kernel", "kernel"), ("rlimit_nofile", "RLIMIT_NOFILE"),
            ("compiler", "compiler"), ("flags", "flags"), ("placement", "placement"), ("server_cpu", "server CPU"),
            ("loadgen_cpu", "loadgen CPU"), ("hostname", "host"), ("started_utc", "started (UTC)"),
            ("sweep_duration_s", "sweep duration (s)"), ("git_commit", "git commit")]
    out = ["## The machine and the run", "", "| | |", "|---|---|"]
    for key, label in keys:
        if key in e and e[key] not in (None, ""):
            out.append(f"| {label} | {cell(e[key])} |")
    if not e:
        out.append("| env.json | missing: machine unknown |")
    extra = sorted(set(e) - {k for k, _ in keys} - {"command_line"})
    for key in extra:
        value = e[key]
        if isinstance(value, (str, int, float, bool)):
            out.append(f"| {cell(key)} | {cell(value)} |")
    command = e.get("command_line")
    if command:
        if isinstance(command, list):
            command = " ".join(str(c) for c in command)
        out += ["", "Command line:", "", "```", str(command), "```"]
    inputs = [f"runs.csv ({len(results.runs)} rows)",
              "micro.csv" + (f" ({len(results.micro)} rows)" if results.micro is not None else ": absent"),
              "probe.json" + (": present" if results.probe is not None else ": absent"),
              "env.json" + (": present" if results.env else ": absent")]
    out += ["", "Inputs: " + ", ".join(inputs) + "."]
    for note in results.notes:
        out.append(f"Note: {note}.")
    return out


def how_to_read():
    return ["## How to read this", "",
            "- Each *idle connection* is a real TCP connection the server must watch but that never sends. "
            "select and poll hand the kernel the whole watched set on every call; epoll registers each "
            "descriptor once (`epoll_ctl`) and asks only for the ready ones. So the x axis of the plots is "
            "the number of descriptors that cost something for select/poll and nothing for epoll.",
            "- Lines are medians over repeats, shaded bands the min–max of the repeats: where bands overlap "
            "the difference is not established. A red × at the top of a plot is a point select refused "
            "(descriptor ≥ FD_SETSIZE); a hollow circle at the bottom is a point that failed for another "
            "reason (see *Failed points*).",
            "- The dashed horizontal line on latency plots is the *floor*: two processes doing blocking "
            "send/recv over loopback, no chat server, no multiplexer. No mechanism can beat it.",
            "- Each claim gets a verdict by a rule fixed in code before the run (see *How verdicts are "
            "decided*). *Inconclusive* is an honest outcome: the data did not decide, and the figures "
            "say why.",
            "- Micro-benchmarks (micro.csv) time one system call in isolation; the chat runs (runs.csv) show "
            "what that cost does to a real server. A claim about a system call is judged on both.", ""]


def claims_section(evaluated):
    out = ["## The claims", "", "| # | claim | verdict | figures behind it | why |", "|---|---|---|---|---|"]
    for c in evaluated:
        figures = "<br>".join(cell(f) for f in c.figures) or "–"
        out.append(f"| {c.number} | {cell(c.text)} | **{c.verdict}** | {figures} | {cell(c.explanation)} |")
    counts = {v: sum(1 for c in evaluated if c.verdict == v) for v in (rules.CONFIRMED, rules.REFUTED, rules.INCONCLUSIVE)}
    out += ["", "Summary: " + ", ".join(f"{n} {v}" for v, n in counts.items()) + ".", ""]
    c9 = next(c for c in evaluated if c.number == 9)
    out += ["Claim 9 cannot be seen by timing: an mmap'ed ring and a copy both take time per event. The evidence "
            "used is (a) `mux-probe`: it tries to mmap an epoll descriptor (a shared ring would need one) and calls "
            "epoll_wait with a read-only events buffer (a copy to user memory then faults with EFAULT); (b) the "
            "micro-benchmark of epoll_wait with a fixed watched set and a growing number of ready descriptors — a "
            "fixed cost per ready event is what a copy per event predicts; and (c) the kernel source, cited, not "
            f"measured: {c9.evidence}", ""]
    out += ["Claims 5 and 6 are behaviours, not timings: their evidence is `probe.json`, written by `mux-probe`, "
            "which makes a descriptor ready, does not service it, and waits again (and, for edge-triggered "
            "epoll, waits a second time without new data, then with new data).", ""]
    return out


def plots_section(results):
    out = ["## Plots", ""]
    drawn = False
    for stem, title, text in FIGURES:
        png = os.path.join(results.path, f"{stem}.png")
        if os.path.isfile(png):
            drawn = True
            out += [f"### {title}", "", f"![{title}]({stem}.png)", "", f"{text} ([SVG]({stem}.svg))", ""]
    if not drawn:
        out += [f"No plot found in this folder: run `/usr/bin/python3 plot/plot.py {results.path}` "
                f"(needs python3-matplotlib) and then this script again.", ""]
    others = results.other_scenarios()
    if others:
        out += ["Scenarios in runs.csv not plotted (each mode's most measured scenario is plotted and judged): "
                + "; ".join(scenario_label(s) for s in others) + ".", ""]
    return out


def anchors_section(results, anchors):
    out = ["## Our figures beside the published ones", "",
           "Different decades, machines and workloads: what should agree is the *shape* (which mechanism grows "
           "with N, which stays flat) and, loosely, the order of magnitude. The rules are in the next section.", "",
           "### Wait-call cost against watched descriptors", ""]
    out += compare.kerrisk(results, anchors) + [""]
    out += ["### Throughput lost to idle connections", ""] + compare.gammo(results, anchors) + [""]
    out += ["### Gap to epoll in an event-passing benchmark", ""] + compare.coroio(results, anchors) + [""]
    g = anchors["gammo2004"]
    out += [f"For claim 10: profiling their server at {g['profile_rate_req_s']:,} req/s, Gammo et al. found these "
            "shares of the time: " + ", ".join(f"{k} {v:.2%}" for k, v in g["profile_share"].items())
            + ". Registration costs epoll about what scanning costs select and poll: it is epoll's weak point "
            "under churn. Compare with claim 10's figures above.", ""]
    return out


def rules_section():
    out = ["## How verdicts are decided", "",
           "Fixed in `plot/rules.py` (thresholds) and `plot/claims.py` (which evidence each claim uses); never "
           "tuned to a run.", ""]
    for paragraph in rules.rules_text():
        if paragraph.startswith("**"):
            out.append("")
        out.append(paragraph)
    out += ["", f"The cost claims (2, 4, 8) use server CPU per message from runs.csv in the first of "
            f"{', '.join(claims.COST_MODES)} that was measured (ping-pong makes about one wait call per message, "
            f"so the scan is not divided among many messages), and the one-call timings of micro.csv.", ""]
    return out


def failures_section(results):
    counts = results.status_counts()
    total = len(results.runs)
    failed = sum(counts.values())
    out = ["## Failed points", "", f"{failed} of {total} rows are not ok. A failed point is never plotted as a "
           "figure and never used by a verdict (select's refusals are the evidence of claim 1).", ""]
    if counts:
        out += ["| mechanism | mode | status | rows |", "|---|---|---|---|"]
        for (mech, mode, status), n in sorted(counts.items()):
            out.append(f"| {cell(mech)} | {cell(mode)} | {cell(status)} | {n} |")
        out.append("")
    return out


def build(folder):
    results = ResultsFolder(folder)
    anchors = claims.load_anchors()
    evaluated = claims.evaluate(results, anchors)
    name = os.path.basename(results.path.rstrip("/"))
    lines = [f"# muxbench report — {name}", "",
             "select, poll and epoll chat servers measured with thousands of idle connections; each teaching "
             "claim of the spec gets a verdict from fixed rules. Generated by `plot/report.py`; do not edit by hand.",
             ""]
    lines += machine_section(results) + [""]
    lines += how_to_read()
    lines += claims_section(evaluated)
    lines += plots_section(results)
    lines += anchors_section(results, anchors)
    lines += rules_section()
    lines += failures_section(results)
    sources = [anchors[k]["source"] for k in ("kerrisk2006", "gammo2004", "coroio_libevent_bench")]
    lines += ["## Sources", ""] + [f"- {s}" for s in sources] + [
        "- Linux kernel source, `fs/eventpoll.c` (`epoll_put_uevent`, `__put_user`), for claim 9.", ""]
    return results, evaluated, "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description="Write report.md (claims, verdicts, plots) into a bench results folder.")
    parser.add_argument("folder", help="a results/<run>/ folder holding runs.csv (and env.json, micro.csv, probe.json)")
    args = parser.parse_args()
    results, evaluated, text = build(args.folder)
    path = os.path.join(results.path, "report.md")
    with open(path, "w") as f:
        f.write(text)
    if not has_matplotlib() and not any(os.path.isfile(os.path.join(results.path, f"{s}.png")) for s, _, _ in FIGURES):
        print(f"report.py: {MATPLOTLIB_HINT}", file=sys.stderr)
    print(path)
    for c in evaluated:
        print(f"claim {c.number}: {c.verdict}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
