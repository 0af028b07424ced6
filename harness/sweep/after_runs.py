"""What runs after the sweep's rows: mux-probe, mux-micro and micro_to_csv, the plots and the
report, then the final env.json and the summary line."""

import json
import os
import time

from harness.common import children
from harness.common.clock import utc_now
from harness.common.signals import EXIT_INTERRUPTED
from harness.common.tools import ToolFailed, python_module, root_on_path, run_tool
from harness.sweep import plan
from harness.sweep.env_json import write_env
from harness.sweep.progress import say


def after_runs(args, p, sweep, env, out_dir):
    """The micro-benchmarks, the plots and the report, the final env.json and the summary."""
    try:
        # The micro-benchmarks run under the first setting (blocked when it could be).
        sweep.use_idle_states(p.states[0])
        if p.micro:
            env["micro"] = micro_and_probe(args, out_dir, p.server_cpu, env, p.quick_micro)
        elif not args.no_micro:
            env["micro"] = {"micro": f"not built ({args.micro})"}
        write_env(out_dir, env)
        if p.plots:
            env["plots"] = plots_and_report(args, out_dir)
    except KeyboardInterrupt:
        children.kill_all()
        env["interrupted"] = True
        write_env(out_dir, env)
        say(f"interrupted after the sweep: runs.csv is complete in {out_dir}")
        return EXIT_INTERRUPTED
    env["finished_utc"] = utc_now().strftime("%Y-%m-%dT%H:%M:%SZ")
    env["duration_s"] = round(time.monotonic() - sweep.start, 1)
    write_env(out_dir, env)
    bad = [r for r in sweep.csv.rows if r.get("bench_status") != "ok"]
    say(
        f"done in {plan.fmt_duration(env['duration_s'])}: {len(sweep.csv.rows)} rows"
        f" ({len(bad)} not ok) in {os.path.join(out_dir, 'runs.csv')}"
    )
    report = os.path.join(out_dir, "report.md")
    html = os.path.join(out_dir, "report.html")
    if os.path.exists(html):
        say(f"report in a browser: file://{html}")
    print(report if os.path.exists(report) else os.path.join(out_dir, "runs.csv"))
    return 0


def tool_problem(cmd, log_path, timeout_s, **options):
    """run_tool for the helpers whose outcome env.json records: None when it went well, else why
    not."""
    try:
        run_tool(cmd, log_path, timeout_s, **options)
    except (ToolFailed, OSError) as e:
        return str(e)
    return None


def micro_and_probe(args, out_dir, server_cpu, env, quick):
    logs = os.path.join(out_dir, "logs")
    results = {}
    if os.access(args.probe, os.X_OK):
        say("mux-probe -> probe.json")
        problem = tool_problem(
            [args.probe],
            os.path.join(logs, "probe.log"),
            60,
            stdout_path=os.path.join(out_dir, "probe.json"),
        )
        results["probe"] = problem or "ok"
        if problem:
            say(f"mux-probe failed: {problem} (log logs/probe.log)")
    else:
        results["probe"] = f"not built ({args.probe})"
    results["python_select_probe"] = python_select_probe(args, out_dir)
    if not os.access(args.micro, os.X_OK):
        results["micro"] = f"not built ({args.micro})"
        say(f"no micro-benchmarks: {args.micro} is not built")
        return results
    micro_json = os.path.join(out_dir, "micro.json")
    cmd = (
        [args.micro]
        + (["--quick"] if quick else [])
        + list(getattr(getattr(args, "preset", None), "micro_args", ()))
        + ["--benchmark_out=" + micro_json, "--benchmark_out_format=json"]
    )
    say(
        f"mux-micro{' --quick' if quick else ''} pinned to CPU {server_cpu} -> micro.json (about"
        f" {plan.fmt_duration(plan.MICRO_QUICK_S if quick else plan.MICRO_FULL_S)})"
    )
    t0 = time.monotonic()
    problem = tool_problem(
        cmd, os.path.join(logs, "micro.log"), 600 if quick else 3600, cpu=server_cpu
    )
    results["micro"] = problem or "ok"
    results["micro_seconds"] = round(time.monotonic() - t0, 1)
    if problem:
        say(f"mux-micro failed: {problem} (log logs/micro.log)")
    if not os.path.exists(micro_json):
        return results
    converter = os.path.join(args.root, "harness", "micro", "micro_to_csv.py")
    if not os.path.exists(converter):
        results["micro_csv"] = f"no micro_to_csv.py under {args.root}/harness"
        return results
    problem = tool_problem(
        python_module(args.python, "harness.micro.micro_to_csv")
        + [micro_json, os.path.join(out_dir, "micro.csv")],
        os.path.join(logs, "micro.log"),
        120,
        env=root_on_path(args.root),
    )
    results["micro_csv"] = problem or "ok"
    if problem:
        say(f"micro_to_csv.py failed: {problem} (log logs/micro.log)")
    return results


def interpreter_of(script):
    """The interpreter a script's shebang names (py-select's: the one the tutorial's servers run
    under), or None."""
    try:
        with open(script, "rb") as f:
            first = f.readline().decode("utf-8", "replace")
    except OSError:
        return None
    return first[2:].split()[0] if first.startswith("#!") and first[2:].split() else None


def python_select_probe(args, out_dir):
    """Python's own words for a descriptor >= FD_SETSIZE (harness/micro/python_select_probe.py),
    run under py-select's interpreter and kept in probe.json as `python_select_ge_fdsetsize`:
    claim 1's witness from the tutorial's side. Returns what env.json records: "ok" or why not."""
    interpreter = interpreter_of(os.path.join(args.bin, "py-select"))
    if interpreter is None or not os.access(interpreter, os.X_OK):
        return f"skipped: no py-select built in {args.bin} naming a runnable interpreter"
    probe_json = os.path.join(out_dir, "probe.json")
    fragment = os.path.join(out_dir, "logs", "python_select_probe.json")
    problem = tool_problem(
        python_module(interpreter, "harness.micro.python_select_probe"),
        os.path.join(out_dir, "logs", "probe.log"),
        30,
        stdout_path=fragment,
        env=root_on_path(args.root),
    )
    if problem:
        return problem
    try:
        with open(fragment) as f:
            found = json.load(f)
        with open(probe_json) as f:
            probe = json.load(f)
    except (OSError, ValueError) as e:
        return f"not merged into probe.json: {e}"
    probe["python_select_ge_fdsetsize"] = found
    with open(probe_json, "w") as f:
        json.dump(probe, f, separators=(",", ":"))
        f.write("\n")
    return "ok"


def plots_and_report(args, out_dir):
    logs = os.path.join(out_dir, "logs")
    results = {}
    for script in ("plot.py", "report.py"):
        path = os.path.join(args.root, "plot", script)
        if not os.path.exists(path):
            results[script] = f"not found ({path})"
            continue
        say(f"plot/{script} {out_dir}")
        module = "plot." + script[: -len(".py")]
        problem = tool_problem(
            python_module(args.python, module) + [out_dir],
            os.path.join(logs, "plots.log"),
            300,
            env=root_on_path(args.root),
        )
        results[script] = problem or "ok"
        if problem:
            say(f"plot/{script} failed: {problem} (log logs/plots.log); runs.csv is complete")
    return results
