"""The sweep's executor: runs a planning.SweepPlan. For each idle count, one server per mechanism
is started and a `loadgen --hold` gives each its idle connections once; then every mode runs on
every server, the starting mechanism rotating with the repeat; then the holds are released and
the servers stopped (their counters into servers.jsonl)."""

import dataclasses
import os
import signal
import subprocess
import time

from harness.common import children
from harness.common.clock import utc_now
from harness.sweep import idle_states
from harness.sweep import kernel_memory
from harness.sweep import plan
from harness.sweep.floors import FloorRuns
from harness.sweep.paths import NetPaths
from harness.sweep.progress import say
from harness.sweep.rows import describe, fnum, merge
from harness.sweep.targets import TargetRuns
from plot import curves as plot_curves


class Sweep(FloorRuns, NetPaths, TargetRuns):
    """The runs of one sweep: instances of fresh servers holding fresh idle sets, every point on
    them, the floors (floors.FloorRuns), the paths (paths.NetPaths), the servers and holds
    (targets.TargetRuns); rows into runs.csv, servers into servers.jsonl, progress on stderr."""

    def __init__(self, args, p, out_dir, env, latency_request, topology=None, hosts=None):
        """p: the planning.SweepPlan; topology: the netns.Topology when veth is among the paths;
        hosts: (remote.Host running the servers or None, [remote.Host holding idle connections])
        when another host takes part."""
        self.args = args
        self.mechs = p.mechs
        self.counts = p.counts
        # The offered-load phase's points (harness/sweep/curves.py).
        self.curve_mechs = p.curve_mechs if p.curve_mechs is not None else p.mechs
        self.curve_counts = p.curve_counts if p.curve_counts is not None else p.counts
        self.modes = p.modes
        self.placement = p.placement
        self.server_cpu = p.server_cpu
        self.loadgen_cpu = p.loadgen_cpu
        self.out_dir = out_dir
        self.logs = os.path.join(out_dir, "logs")
        self.env = env
        self.states = p.states  # idle_states values to run, e.g. ["block"] or ["block", "allow"]
        self.loadgen_modes = p.loadgen_modes  # optional loadgen modes its --help lists
        self.histograms = False  # loadgen --histogram-out, when its --help lists it
        self.series_interval = None  # loadgen --interval S --series-out, when on (new_sweep)
        self.kernel = None  # kernel_memory.KernelMeter: bytes per idle connection per side
        self.latency_request = latency_request
        self.state = None
        self.nets = list(args.net_list)
        self.net = self.nets[0]
        self.topology = topology
        self.lg_help = p.lg_help  # loadgen --help, for the options it may lack
        # remote.Host running the servers (None: here) and those holding the idle connections
        # ([]: here).
        self.server_host, self.idle_hosts = hosts or (None, [])
        self.csv = None
        self.run_id = 0
        # (kind, placement, idle_states) -> the ok p50s of the floors measured at the start, and
        # their median, which every row of the sweep carries.
        self.floor_start_p50s = {}
        self.floor_p50 = {}
        self.active_targets = []
        self.current_count = 0
        self.current_repeat = 0
        self.points_total = p.hostile_runs + (
            sum(len(plan.modes_at(p.modes, c)) for c in p.counts)
            * len(args.variants)
            * len(p.mechs)
            * args.repeats
            * len(p.states)
            * len(args.net_list)
        )
        self.hostile = p.hostile  # loadgen --hostile K after each 0-idle ping-pong point
        self.points_done = 0
        self.start = time.monotonic()
        self.est_total = p.est
        self.est_done = 0.0
        self.unavailable = {}  # mechanism -> status, for mechanisms that can never run here
        # (mechanism, count, mode, variant) that the server refused once (select past
        # FD_SETSIZE): the refusal does not depend on the instance, so later repeats skip instead
        # of re-asking.
        self.refused = set()
        self.notes = env.setdefault("notes", [])
        self.servers_log = open(os.path.join(out_dir, "servers.jsonl"), "a")

    def spend(self, estimated_s):
        self.est_done += estimated_s

    def eta(self):
        elapsed = time.monotonic() - self.start
        if self.est_done <= 0:
            left = self.est_total - self.est_done
        else:
            left = (self.est_total - self.est_done) * elapsed / self.est_done
        return elapsed, max(0.0, left)

    def note(self, text):
        say(text)
        self.notes.append(text)

    def use_idle_states(self, state):
        """Switches the PM QoS request; a refused block was already turned into allow at start."""
        if state == self.state:
            return
        if state == idle_states.BLOCK:
            if not self.latency_request.block():
                raise RuntimeError(self.latency_request.why_not)
        else:
            self.latency_request.allow()
        self.state = state

    def base_row(
        self, mechanism, mode, idle, repeat, placement=None, server_cpu=None, loadgen_cpu=None
    ):
        self.run_id += 1
        placement = placement or self.placement
        row = {
            "mechanism": mechanism,
            "mode": mode,
            "idle": idle,
            "warmup_s": self.args.warmup,
            "duration_s": self.args.duration,
            "run_id": self.run_id,
            "repeat": repeat,
            "placement": placement,
            "server_cpu": self.server_cpu if server_cpu is None else server_cpu,
            "loadgen_cpu": self.loadgen_cpu if loadgen_cpu is None else loadgen_cpu,
            "idle_states": self.state,
            "net": self.net,
            "floor_p50_us": self.floor_p50.get(("floor", placement, self.state), ""),
            "started_utc": utc_now().strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
        if mode == "pingpong":
            row["relay_floor_p50_us"] = self.floor_p50.get(
                ("relay-floor", placement, self.state), ""
            )
        return row

    def histogram_args(self, row):
        """One exact latency histogram per run (histograms/run-N.json), when loadgen writes them:
        runs measured by several processes are merged from these by adding counts, never by
        averaging percentiles (plot/histograms.py)."""
        if not self.histograms:
            return []
        name = f"run-{row['run_id']}.json"
        row["histogram_file"] = "histograms/" + name
        return ["--histogram-out", os.path.join(self.out_dir, "histograms", name)]

    def series_args(self, row):
        """The run's per-interval series (series/run-N.csv), when the sweep asks for them."""
        if not self.series_interval:
            return []
        name = f"run-{row['run_id']}.csv"
        row["series_file"] = "series/" + name
        path = os.path.join(self.out_dir, "series", name)
        return ["--interval", f"{self.series_interval:g}", "--series-out", path]

    def loadgen_log(self):
        return os.path.join(self.logs, "loadgen.log")

    def run_timeout(self, duration_s=None):
        return 20.0 + 3.0 * (self.args.warmup + (duration_s or self.args.duration))

    def sweep_count(self, count):
        """Every repeat (and idle-states setting) of one count is an independent instance:
        fresh servers and a fresh idle set, so the spread of repeats holds the
        instance-to-instance variance a rerun will meet. Settings alternate their order per
        repeat, and mechanisms rotate their order within an instance, so that a drift of the
        machine shows as spread rather than as a difference."""
        self.current_count = count
        for repeat in range(1, self.args.repeats + 1):
            self.current_repeat = repeat
            shift = (repeat - 1) % len(self.states)
            for state in self.states[shift:] + self.states[:shift]:
                self.use_idle_states(state)
                # The paths alternate their order per repeat too.
                turn = (repeat - 1) % len(self.nets)
                for net in self.nets[turn:] + self.nets[:turn]:
                    self.use_net(net)
                    self.instance(count, repeat)

    def instance(self, count, repeat):
        t0 = time.monotonic()
        states = f" idle states {self.state}" if len(self.states) > 1 else ""
        states += f" over {self.net}" if len(self.nets) > 1 else ""
        holding = f", holding {count} idle connections on each" if count else ""
        say(
            f"idle={count} rep {repeat}/{self.args.repeats}{states}: starting "
            f"{len(self.mechs)} server(s){holding}"
        )
        targets, failure = self.start_targets(count, self.mechs)
        if failure and len(self.mechs) > 1:
            self.finish(count, targets, quiet=True)
            self.note(
                f"idle={count}: holding all {len(self.mechs)} servers' idle connections at once"
                f" failed ({failure}); running one server at a time for this instance (its"
                " mechanisms then run one after another)"
            )
            for mech in self.mechs:
                targets, failure = self.start_targets(count, [mech])
                if failure:
                    self.note(f"idle={count}: {failure}")
                self.report_setup(count, targets, t0)
                self.run_targets(count, repeat, targets)
                self.finish(count, targets)
            return
        if failure:
            self.note(f"idle={count}: {failure}")
        self.report_setup(count, targets, t0)
        self.run_targets(count, repeat, targets)
        self.finish(count, targets)

    def report_setup(self, count, targets, t0):
        refusals = [f"{t.name} refused {t.hold_refused}" for t in targets if t.hold_refused]
        say(
            f"idle={count}: ready in"
            f" {time.monotonic() - t0:.1f} s{' (' + ', '.join(refusals) + ')' if refusals else ''}"
        )

    def run_targets(self, count, repeat, targets, modes=None, hostile=True):
        """Every mode (or `modes`) on every target; the starting mechanism rotates with the repeat
        among the targets (as the order of the states does)."""
        for t in self.in_turn(targets, repeat):
            for mode in modes or plan.modes_at(self.modes, count):
                for variant in self.args.variants:
                    self.point(count, t, repeat, mode, variant)
                    if (
                        hostile
                        and self.hostile
                        and plan.hostile_phase(self.hostile, [count], [mode])
                    ):
                        with_hostile = dataclasses.replace(variant, hostile=self.hostile)
                        self.point(count, t, repeat, mode, with_hostile)

    def in_turn(self, targets, repeat):
        """The targets in the sweep's mechanism order, the first rotating with the repeat."""
        names = [m.name for m in self.mechs if any(t.mech.name == m.name for t in targets)]
        shift = (repeat - 1) % max(1, len(names))
        order = names[shift:] + names[:shift]
        return sorted(targets, key=lambda t: order.index(t.mech.name))

    def repeat_label(self, repeat):
        if repeat > self.args.repeats:
            return f"extra rep {repeat}"
        return f"rep {repeat}/{self.args.repeats}"

    def extra_round(self, needs, repeat):
        """One round of measuring until decided (harness/sweep/decide.py): at each count of
        `needs` ({count: (mechanism names, modes)}) a fresh instance of only those mechanisms
        running only those modes, in the primary idle-states setting and path (the ones the
        claims judge), without the hostile phase."""
        self.use_primary_setting()
        for count, (names, modes) in needs.items():
            mechs = [m for m in self.mechs if m.name in names]
            self.points_total += len(mechs) * len(modes) * len(self.args.variants)
            targets = self.fresh_instance(
                count, mechs, repeat, f"extra repeat {repeat}", f" for {', '.join(modes)}"
            )
            self.run_targets(count, repeat, targets, modes=modes, hostile=False)
            self.finish(count, targets)

    def use_primary_setting(self):
        """The idle-states setting and path the claims judge: the phases after the sweep's own
        instances (extra rounds, curves) run there."""
        self.use_idle_states(self.states[0])
        self.use_net(self.nets[0])

    def fresh_instance(self, count, mechs, repeat, words, detail=""):
        """Starts a fresh server per mechanism of `mechs` holding a fresh idle set of `count`, for
        a phase after the sweep's own instances; finish() stops them. words: the phase's name for
        the instance (e.g. "extra repeat 4") in what is said."""
        self.current_count, self.current_repeat = count, repeat
        t0 = time.monotonic()
        say(f"idle={count} {words}: starting {', '.join(m.name for m in mechs)}{detail}")
        targets, failure = self.start_targets(count, mechs)
        if failure:
            self.note(f"idle={count} {words}: {failure}")
        self.report_setup(count, targets, t0)
        return targets

    def point(self, count, t, repeat, mode, variant=plan.Variant()):
        """Measures one point (or writes why it cannot be) into runs.csv; returns its row."""
        row = self.base_row(t.name, mode, count, repeat)
        # A row the sweep writes itself (skipped, blocked) says which variant it stands for; a
        # measured row gets these from the loadgen.
        row.update({k: v for k, v in vars(variant).items() if v is not None and k != "tag"})
        if variant.tag is not None:
            row["label"] = variant.tag
        row["idle_refused"] = t.hold_refused if t.hold_refused is not None else ""
        if count:
            row.update(kernel_memory.csv_columns(t.kernel))
            row["kernel_bytes_method"] = self.remote_kernel_memory() or row["kernel_bytes_method"]
            # The loadgen's column is empty with --idle-held: the hold's own opening time.
            row["idle_open_s"] = "" if t.idle_open_s is None else t.idle_open_s
        if t.server is not None:
            row["server_started_utc"] = t.server.started_utc
        if t.blocked is None and t.server is not None and not t.server.alive():
            t.blocked = "server-crashed"
            self.note(
                f"{t.name} at idle={count} exited (status {t.server.proc.returncode}) between runs;"
                " its remaining rows say server-crashed"
            )
        if t.blocked is not None:
            row.update(status=t.blocked, bench_status=t.blocked)
        elif (t.mech.name, count, mode, variant) in self.refused:
            why = "skipped:refused at this count"
            row.update(status=why, bench_status=why)
        else:
            row = self.measure(count, t, mode, row, variant)
        t.run_ids.append(row["run_id"])
        self.csv.append(row)
        self.points_done += 1
        self.spend(
            plan.point_cost(t.mech.name, count, repeat, self.args.warmup, self.args.duration)
        )
        elapsed, left = self.eta()
        done = f"{self.points_done:>{len(str(self.points_total))}}/{self.points_total}"
        state = " " + self.state if len(self.states) > 1 else ""
        state += " " + self.net if len(self.nets) > 1 else ""
        say(
            f"[{done}] idle={count} {self.repeat_label(repeat)}{state} {t.name} {mode}"
            f"{variant.label()}: "
            f"{describe(row)} | {plan.fmt_duration(elapsed)} elapsed, ETA {plan.fmt_duration(left)}"
        )
        return row

    def measure(self, count, t, mode, row, variant=plan.Variant()):
        cmd = self.loadgen_command(count, t, mode, row, variant)
        result = children.run_loadgen(cmd, self.loadgen_log(), self.run_timeout(variant.duration_s))
        crashed = not t.server.alive()
        if result.row is not None:
            row = merge(result.row, row)
            status = row.get("status") or "error:no status"
            row["status"] = status
            if status == "server-died" and not crashed:
                # The loadgen saw the connections drop; the kernel may not have reaped the
                # server yet.
                try:
                    t.server.proc.wait(timeout=2.0)
                except subprocess.TimeoutExpired:
                    pass
                crashed = t.server.proc.poll() is not None
            if crashed:
                bench_status = "server-crashed"
            else:
                bench_status = status
            if status.startswith("refused"):
                self.refused.add((t.mech.name, count, mode, variant))
            # The hold's refusals are the idle connections the server turned away; the row's
            # own are its active connections'.
            if t.hold_refused:
                own = fnum(row.get("refused"))
                row["refused"] = int(t.hold_refused + (own if own and own > 0 else 0))
            calls, fds, events = (
                fnum(row.get("server_wait_calls")),
                fnum(row.get("server_fds_passed")),
                fnum(row.get("server_events")),
            )
            if calls:
                if fds is not None:
                    row["server_fds_per_wait"] = f"{fds / calls:.1f}"
                if events is not None:
                    row["server_events_per_wait"] = f"{events / calls:.3f}"
        else:
            status = "server-crashed" if crashed else "error:" + result.error.replace(",", ";")
            row.update(status=status)
            bench_status = status
        row["bench_status"] = bench_status
        if crashed and t.blocked is None:
            t.blocked = "server-crashed"
            self.note(
                f"{t.name} at idle={count} crashed during a {mode} run (exit status"
                f" {t.server.proc.returncode}; log {t.server.log_path}); its remaining rows at this"
                " count say server-crashed"
            )
        return row

    def loadgen_command(self, count, t, mode, row, variant):
        """The measured loadgen run of one point against t's server."""
        cmd = self.client_wrap() + [
            self.args.loadgen,
            "--mode",
            mode,
            "--host",
            t.server.host,
            "--port",
            str(t.server.port),
            "--cpu",
            str(self.loadgen_cpu),
            "--warmup",
            str(self.args.warmup),
            "--duration",
            str(variant.duration_s or self.args.duration),
            "--csv-header",
        ]
        if self.server_host is None:
            cmd += ["--server-pid", str(t.server.pid)]  # else its CPU comes from its /stats
        cmd += ["--idle-held", str(count)] if count else ["--idle", "0"]
        if mode == "flood" and self.args.flood_window:
            cmd += ["--window", self.args.flood_window]
        if mode == plot_curves.MODE:
            cmd += ["--arrival", self.args.arrival]
        cmd += self.histogram_args(row)
        cmd += self.series_args(row)
        cmd += variant.loadgen_args()
        cmd += self.args.loadgen_arg
        return cmd

    def abort(self):
        """Ctrl-C: release what is held, stop the servers, keep every finished row."""
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            self.finish(self.current_count, self.active_targets, quiet=True, timeout_s=5.0)
        except Exception as e:  # noqa: BLE001 - the children are killed below whatever happened
            say(f"cleanup after interrupt: {e}")
        children.kill_all()
        if self.kernel:
            self.kernel.close()
        if self.csv is not None:
            self.csv.close()
        self.servers_log.close()
