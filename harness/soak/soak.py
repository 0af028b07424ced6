"""muxbench's soak run: every server at once, for N minutes, under a bounded mix of every kind of
load (harness/soak/mix.py), sampled at the start, in and after every round, and at the end once
every client is gone.

Writes OUT/soak.csv (one row per sample and server), OUT/soak-runs.csv (every loadgen run's row),
OUT/soak.md (the verdict per server with its figures), OUT/soak.json (machine, command, plan),
OUT/soak.png and .svg (plot/soak.py) and OUT/logs/. Exit status 0 when every server passes every
check, 1 otherwise (one line per failure on stderr), 2 for usage errors, 130 on Ctrl-C.
"""

import argparse
import csv
import json
import os
import sys
import time

from harness.common import children
from harness.common import environment
from harness.common import mechanisms as mechanism_table
from harness.common.clock import utc_now
from harness.common.output import sayer
from harness.common.plotting_python import plotting_python
from harness.common.signals import EXIT_INTERRUPTED, sigterm_as_interrupt
from harness.common.tools import ToolFailed, python_module, root_on_path, run_tool
from harness.soak import mix
from harness.soak import probe
from harness.soak import verdict

EXIT_FAILED, EXIT_USAGE = 1, 2
LOAD_SAMPLE_AT = 0.3  # of a round: holds, the hostile clients and a measured run are all up
# After the last round, how long the servers get to close what the clients left (FINs and resets
# still in flight, the completion model's close chains) before the end sample is judged.
SETTLE_MAX_S = 15.0
TICK_S = 0.05
SAMPLE_COLUMNS = (
    ["sample", "phase", "round", "elapsed_s", "utc", "mechanism", "pid", "alive"]
    + ["fds", "rss_kib", "rss_peak_kib", "cpu_s", "cpu_pct", "stats_ok"]
    + list(probe.STATS_KEYS)
    + ["stats_error"]
)
RUN_COLUMNS = ["round", "server", "kind", "run_seconds", "run_error"]


say = sayer("soak")


def argument_parser():
    p = argparse.ArgumentParser(
        prog="bench soak",
        description=(
            "Run every chat server at once for N minutes under a bounded mix of flood, broadcast,"
            " churn, pingpong, idle connections coming and going and (when loadgen has --hostile)"
            " slow readers and clients sending garbage and over-long lines; sample each server's"
            " descriptors, RSS, CPU and /stats every round; pass when, with every client gone,"
            " descriptors are back to the baseline, RSS grew at most 10 %% after the first round,"
            " no measured stream had an integrity error and every server still answers /stats."
        ),
    )
    length = p.add_mutually_exclusive_group()
    length.add_argument("--minutes", type=float, help="length of the soak (default 10)")
    length.add_argument("--seconds", type=float, help="length in seconds (CI: 60)")
    p.add_argument("--mechanisms", metavar="LIST", help="comma-separated; default every one")
    p.add_argument(
        "--out", metavar="DIR", help="output folder (default <root>/results/soak-<UTC time>)"
    )
    here = os.path.dirname(os.path.abspath(__file__))
    p.add_argument("--root", metavar="DIR", default=os.path.dirname(os.path.dirname(here)))
    p.add_argument("--bin", metavar="DIR", help="the built binaries (default <root>/build/bin)")
    p.add_argument("--loadgen", metavar="PATH", help="loadgen binary (default <bin>/loadgen)")
    p.add_argument("--no-plot", action="store_true", help="skip plot/soak.py")
    return p


def parse_args(argv):
    p = argument_parser()
    args = p.parse_args(argv)
    args.bin = os.path.abspath(args.bin or os.path.join(args.root, "build", "bin"))
    args.loadgen = args.loadgen or os.path.join(args.bin, "loadgen")
    args.total_s = args.seconds if args.seconds is not None else 60 * (args.minutes or 10)
    try:
        args.rounds, args.round_s = mix.rounds_for(args.total_s)
    except ValueError as e:
        p.error(str(e))
    stamp = utc_now().strftime("%Y-%m-%dT%H%M%SZ")
    args.out = os.path.abspath(args.out or os.path.join(args.root, "results", f"soak-{stamp}"))
    return args


class LoadgenProcess:
    """One loadgen run in the background: started now, polled until its row or its timeout."""

    def __init__(self, cmd, log_path, timeout_s):
        self.started = time.monotonic()
        self.deadline = self.started + timeout_s
        self.timeout_s = timeout_s
        self.log_path = log_path
        with open(log_path, "ab") as log:
            log.write(("$ " + " ".join(cmd) + "\n").encode())
            log.flush()
            self.proc = children.spawn(cmd, stderr=log)

    def poll(self, now):
        """The RunResult once finished (or killed at its timeout); None while it runs."""
        if self.proc.poll() is None and now < self.deadline:
            return None
        timed_out = self.proc.poll() is None
        children.kill_group(self.proc)
        out = self.proc.stdout.read() or b""
        self.proc.stdout.close()
        seconds = now - self.started
        if timed_out:
            return children.RunResult(
                error=f"timeout: no result within {self.timeout_s:.0f} s", seconds=seconds
            )
        return children.parse_loadgen_output(out, self.proc.returncode, self.log_path, seconds)


class Lane:
    """One server's load for one round: its holds, its measured sequence and the runs beside."""

    def __init__(self, server, plan, round_no, start, args, logs):
        self.server, self.plan, self.round_no, self.start = server, plan, round_no, start
        self.args, self.logs = args, logs
        self.holds = list(plan.holds)
        self.hold = None  # (children.Hold, its plan)
        self.sequence = list(plan.sequence)
        self.beside = list(plan.beside)
        self.running = []  # (LoadgenProcess, mix.Run, in_sequence)
        self.records = []

    def log(self, kind):
        return os.path.join(self.logs, f"{self.server.name}-{kind}.log")

    def record(self, kind, error="", row=None, seconds=0.0):
        self.records.append(
            {"round": self.round_no, "server": self.server.name, "kind": kind}
            | {"error": error, "row": row, "seconds": round(seconds, 2)}
        )

    def launch(self, run, in_sequence):
        cmd = [self.args.loadgen, "--host", self.server.host, "--port", str(self.server.port)]
        cmd += run.args + ["--server-pid", str(self.server.pid), "--csv-header"]
        cmd += ["--label", f"soak-r{self.round_no}-{run.kind}"]
        self.running.append(
            (LoadgenProcess(cmd, self.log(run.kind), run.timeout_s), run, in_sequence)
        )

    def tick(self, now):
        t = now - self.start
        self.tick_holds(t)
        while self.beside:
            self.launch(self.beside.pop(0), in_sequence=False)
        if self.sequence and not any(seq for _, _, seq in self.running):
            self.launch(self.sequence.pop(0), in_sequence=True)
        still = []
        for process, run, seq in self.running:
            result = process.poll(now)
            if result is None:
                still.append((process, run, seq))
            else:
                self.record(run.kind, result.error or "", result.row, result.seconds)
        self.running = still

    def tick_holds(self, t):
        if self.hold is not None and t >= self.hold[1].stop_s:
            self.release()
        if self.hold is None and self.holds and t >= self.holds[0].start_s:
            planned = self.holds.pop(0)
            hold = children.Hold(self.args.loadgen, self.server, planned.idle, self.log("hold"))
            try:
                hold.wait_holding(timeout_s=10)
                self.hold = (hold, planned)
            except children.StartError as e:
                self.record("idle-hold", error=f"hold of {planned.idle}: {e}")

    def release(self):
        hold, planned = self.hold
        self.hold = None
        released = hold.release()
        problem = ""
        if released.get("open") != planned.idle or released.get("refused", 0):
            problem = (
                f"hold of {planned.idle}: released {released or 'nothing'} (idle connections"
                " lost or refused)"
            )
        self.record("idle-hold", error=problem)

    def done(self):
        return not (self.hold or self.holds or self.sequence or self.beside or self.running)

    def abandon(self):
        if self.hold is not None:
            self.hold[0].abandon()
        for process, _, _ in self.running:
            children.kill_group(process.proc)


class Soak:
    def __init__(self, args, servers, out_dir):
        self.args, self.servers, self.out_dir = args, servers, out_dir
        self.logs = os.path.join(out_dir, "logs")
        self.t0 = time.monotonic()
        self.samples = {s.name: [] for s in servers}
        self.records = {s.name: [] for s in servers}
        self.sample_no = 0
        self.csv_file = open(os.path.join(out_dir, "soak.csv"), "w", newline="")
        # Plain \n line ends, as runs.csv (docs/results.md, "Line endings").
        self.csv = csv.DictWriter(
            self.csv_file, SAMPLE_COLUMNS, extrasaction="ignore", lineterminator="\n"
        )
        self.csv.writeheader()
        self.lanes = []

    def elapsed(self):
        return time.monotonic() - self.t0

    def sample(self, phase, round_no):
        self.sample_no += 1
        for server in self.servers:
            row = {"sample": self.sample_no, "phase": phase, "round": round_no}
            row |= {"elapsed_s": round(self.elapsed(), 2), "mechanism": server.name}
            row |= {"utc": utc_now().strftime("%Y-%m-%dT%H:%M:%SZ"), "pid": server.pid}
            row |= self.read_server(server)
            previous = self.samples[server.name][-1] if self.samples[server.name] else None
            if previous and row.get("cpu_s") is not None and previous.get("cpu_s") is not None:
                span = row["elapsed_s"] - previous["elapsed_s"]
                if span > 0:
                    row["cpu_pct"] = round(100 * (row["cpu_s"] - previous["cpu_s"]) / span, 1)
            self.samples[server.name].append(row)
            self.csv.writerow(row)
        self.csv_file.flush()

    def read_server(self, server):
        alive = server.alive()
        row = {"alive": int(alive), "stats_ok": 0}
        if alive:
            try:
                row |= probe.process(server.pid)
            except OSError:
                row["alive"] = 0
        # /stats after /proc, so that its own connection is not among the descriptors counted.
        stats, error = probe.ask_stats(server.host, server.port)
        if stats is not None:
            row["stats_ok"] = 1
            row |= {k: stats.get(k) for k in probe.STATS_KEYS}
        row["stats_error"] = error or ""
        return row

    def run_rounds(self, hostile):
        plan = mix.round_plan(self.args.round_s, hostile)
        for round_no in range(1, self.args.rounds + 1):
            start = max(time.monotonic(), self.t0 + (round_no - 1) * self.args.round_s)
            while time.monotonic() < start:
                time.sleep(TICK_S)
            self.run_round(plan, round_no, start)
            self.sample("round", round_no)
            self.say_round(round_no)

    def run_round(self, plan, round_no, start):
        self.lanes = [Lane(s, plan, round_no, start, self.args, self.logs) for s in self.servers]
        load_sampled = False
        while not all(lane.done() for lane in self.lanes):
            now = time.monotonic()
            for lane in self.lanes:
                lane.tick(now)
            if not load_sampled and now - start >= LOAD_SAMPLE_AT * plan.round_s:
                self.sample("load", round_no)
                load_sampled = True
            time.sleep(TICK_S)
        for lane in self.lanes:
            self.records[lane.server.name].extend(lane.records)
        self.lanes = []
        self.write_runs()

    def say_round(self, round_no):
        parts = []
        for server in self.servers:
            s = self.samples[server.name][-1]
            bad = sum(
                1
                for r in self.records[server.name]
                if r["round"] == round_no and verdict.run_problem(r)
            )
            rss = f"{s['rss_kib'] / 1024:.1f} MiB" if s.get("rss_kib") else "?"
            parts.append(f"{server.name} fds {s.get('fds', '?')} rss {rss} failed runs {bad}")
        say(
            f"round {round_no}/{self.args.rounds} done at {self.elapsed():.0f} s: "
            + "; ".join(parts)
        )

    def settle(self):
        """Waits until every server is back to its baseline descriptor count, or SETTLE_MAX_S."""
        deadline = time.monotonic() + SETTLE_MAX_S
        start = time.monotonic()
        while time.monotonic() < deadline:
            if all(self.settled(s) for s in self.servers):
                break
            time.sleep(0.2)
        return time.monotonic() - start

    def settled(self, server):
        try:
            return probe.descriptors(server.pid) <= self.samples[server.name][0]["fds"]
        except (OSError, KeyError, TypeError):
            return True  # gone or never measured: waiting will not change it

    def write_runs(self):
        header = []
        for records in self.records.values():
            for r in records:
                for k in r["row"] or {}:
                    if k not in header:
                        header.append(k)
        with open(os.path.join(self.out_dir, "soak-runs.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, RUN_COLUMNS + header, extrasaction="ignore", lineterminator="\n")
            w.writeheader()
            for records in self.records.values():
                for r in records:
                    fields = {"round": r["round"], "server": r["server"], "kind": r["kind"]}
                    fields |= {"run_seconds": r["seconds"], "run_error": r["error"]}
                    w.writerow(fields | (r["row"] or {}))

    def abandon(self):
        for lane in self.lanes:
            lane.abandon()

    def close(self):
        self.csv_file.close()


def start_servers(args, mechs, logs):
    """(servers, skipped {name: why}, failed {name: why}); servers alternate over the CPUs."""
    cpus = sorted(os.sched_getaffinity(0))
    servers, skipped, failed = [], {}, {}
    for i, mech in enumerate(mechs):
        log = os.path.join(logs, f"server-{mech.name}.log")
        try:
            servers.append(children.Server(mech, args.bin, cpus[i % len(cpus)], log))
        except children.StartError as e:
            if e.exit_code == mechanism_table.EXIT_UNAVAILABLE:
                skipped[mech.name] = str(e)
            else:
                failed[mech.name] = str(e)
    return servers, skipped, failed


def figures_row(name, samples, runs):
    """One server's headline figures for soak.md: descriptors, RSS, load served."""
    base = next((s for s in samples if s["phase"] == "baseline"), {})
    after = next((s for s in samples if s["phase"] == "round" and s["round"] == 1), {})
    end = next((s for s in samples if s["phase"] == "end"), {})
    msgs = sum(int(float(r["row"].get("msgs") or 0)) for r in runs if r.get("row"))

    def mib(s, key="rss_kib"):
        return f"{s[key] / 1024:.2f}" if s.get(key) else "?"

    growth = "?"
    if after.get("rss_peak_kib") and end.get("rss_kib"):
        growth = f"{verdict.rss_growth(after['rss_peak_kib'], end['rss_kib']) * 100:+.1f} %"
    cells = [name, f"{base.get('fds', '?')} → {end.get('fds', '?')}", mib(base), mib(after)]
    cells += [mib(after, "rss_peak_kib"), mib(end), growth, mib(end, "rss_peak_kib")]
    cells.append(f"{end.get('accepted') or 0:,}")
    return "| " + " | ".join(cells + [f"{msgs:,}"]) + " |"


def write_summary(args, run, checks, info):
    hostile = (
        f"yes (--hostile {mix.HOSTILE})" if info["hostile"] else "no (loadgen has no --hostile)"
    )
    lines = ["# Soak run", ""]
    lines.append(
        f"{info['started_utc']}, {args.total_s:g} s in {args.rounds} rounds of"
        f" {args.round_s:g} s, {len(info['servers'])} servers at once; loads per round:"
        f" {', '.join(info['kinds'])}. Hostile clients: {hostile}. Settled"
        f" {info['settle_s']:.1f} s after the last round. Wall time {info['wall_s']:.0f} s."
    )
    lines += ["", "| server | descriptors baseline → end | RSS (MiB) baseline | end of round 1 |"]
    lines[-1] += " peak by then | end | end vs that peak | peak at the end | connections accepted |"
    lines[-1] += " messages checked |"
    lines.append("|---" * 10 + "|")
    for name in info["servers"]:
        lines.append(figures_row(name, run.samples[name], run.records[name]))
    lines += ["", "| server | check | verdict | figures |", "|---|---|---|---|"]
    for c in checks:
        lines.append(
            f"| {c.mechanism} | {c.check} | {'pass' if c.passed else 'FAIL'} | {c.figures} |"
        )
    for name, why in info["skipped"].items():
        lines.append(f"| {name} | — | skipped | unavailable here: {why} |")
    for name, why in info["failed"].items():
        lines.append(f"| {name} | start | FAIL | {why} |")
    failures = verdict.failure_lines(checks) + [
        f"FAIL {n} start: {why}" for n, why in info["failed"].items()
    ]
    lines += ["", f"**{'FAILED' if failures else 'PASSED'}**", ""]
    with open(os.path.join(args.out, "soak.md"), "w") as f:
        f.write("\n".join(lines))
    return failures


def draw_plot(args, out_dir):
    try:
        run_tool(
            python_module(plotting_python(args.root), "plot.soak") + [out_dir],
            os.path.join(out_dir, "logs", "plot.log"),
            120,
            env=root_on_path(args.root),
        )
    except (ToolFailed, OSError) as problem:
        say(f"plot/soak.py failed: {problem} (logs/plot.log)")
        return
    say("plot: soak.png, soak.svg")


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        mechs = mechanism_table.find(args.bin, args.loadgen, args.mechanisms)
    except ValueError as e:
        say(str(e))
        return EXIT_USAGE
    logs = os.path.join(args.out, "logs")
    os.makedirs(logs, exist_ok=True)
    sigterm_as_interrupt()
    try:
        return soak(args, mechs, logs)
    except KeyboardInterrupt:
        say("interrupted: clients and servers stopped; what was sampled is in soak.csv")
        return EXIT_INTERRUPTED
    finally:
        children.kill_all()


def soak(args, mechs, logs):
    started = utc_now()
    hostile = "--hostile" in mechanism_table.help_text(args.loadgen)
    plan = mix.round_plan(args.round_s, hostile)
    servers, skipped, failed = start_servers(args, mechs, logs)
    say_start(args, plan, hostile, servers, skipped, failed)
    info = {"started_utc": started.strftime("%Y-%m-%d %H:%M UTC"), "hostile": hostile}
    info |= {"kinds": mix.kinds(plan), "skipped": skipped, "failed": failed}
    info["servers"] = [s.name for s in servers]
    write_json(args, plan, info)
    run = Soak(args, servers, args.out)
    try:
        run.sample("baseline", 0)
        run.run_rounds(hostile)
        info["settle_s"] = run.settle()
        run.sample("end", args.rounds)
    finally:
        run.abandon()
        run.close()
    info["wall_s"] = run.elapsed()
    stop_servers(run, servers)
    return judge(args, plan, run, info)


def say_start(args, plan, hostile, servers, skipped, failed):
    if not hostile:
        say(
            f"{args.loadgen} has no --hostile: the soak runs without slow readers, garbage and"
            " over-long lines (they come from loadgen --hostile)"
        )
    for name, why in skipped.items():
        say(f"{name} skipped: unavailable on this machine ({why})")
    for name, why in failed.items():
        say(f"{name} did not start: {why}")
    say(
        f"{len(servers)} servers, {args.rounds} rounds of {args.round_s:g} s, each round per"
        f" server: {', '.join(mix.kinds(plan))}; at most {mix.peak_connections(plan)} connections"
        f" per server at once (chat-select's limit is {mix.FD_SETSIZE} descriptors); out {args.out}"
    )


def stop_servers(run, servers):
    """SIGTERM and the counters line; a server that does not stop cleanly fails its integrity."""
    for server in servers:
        problem = server.stop()
        if problem:
            run.records[server.name].append(
                {"round": run.args.rounds, "server": server.name, "kind": "server-stop"}
                | {"error": f"server stop: {problem}", "row": None, "seconds": 0}
            )


def judge(args, plan, run, info):
    checks = []
    for name in info["servers"]:
        checks += verdict.judge(name, run.samples[name], run.records[name])
    run.write_runs()
    write_json(args, plan, info)
    failures = write_summary(args, run, checks, info)
    for c in checks:
        say(f"{'pass' if c.passed else 'FAIL'} {c.mechanism} {c.check}: {c.figures}")
    if not args.no_plot:
        draw_plot(args, args.out)
    say(f"{'FAILED' if failures else 'passed'} in {info['wall_s']:.0f} s: {args.out}/soak.md")
    for line in failures:
        print(line, file=sys.stderr)
    return EXIT_FAILED if failures else 0


def write_json(args, plan, info):
    doc = {
        "command": sys.argv,
        "total_s": args.total_s,
        "rounds": args.rounds,
        "round_s": args.round_s,
        "plan": {
            "holds": [vars(h) for h in plan.holds],
            "sequence": [r.args for r in plan.sequence],
            "beside": [r.args for r in plan.beside],
            "peak_connections": mix.peak_connections(plan),
        },
        "info": info,
        "machine": environment.machine(),
        "git": environment.git_state(args.root),
    }
    with open(os.path.join(args.out, "soak.json"), "w") as f:
        json.dump(doc, f, indent=2, default=str)
        f.write("\n")
