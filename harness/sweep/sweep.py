"""muxbench's sweep: every server mechanism x idle-connection count x mode x repeat.

For each idle count, one server per mechanism is started and a `loadgen --hold` gives each its
idle connections once; then the repeats run, interleaved across mechanisms (the starting
mechanism rotates each repeat), so that a drift of the machine shows as spread within a
mechanism rather than as a difference between mechanisms. Idle servers sit blocked in their wait
call and cost the server under test nothing but a share of the CPU caches.

Writes results/<UTC time>-<host>/: runs.csv, env.json, servers.jsonl, logs/, and (when the tools
exist) probe.json, micro.json, micro.csv, the plots and report.md. Python standard library only:
plotting is a separate script run afterwards.
"""

import argparse
import dataclasses
import datetime
import json
import os
import signal
import statistics
import subprocess
import sys
import time


from harness.sweep import children
from harness.sweep import decide
from harness.sweep import environment
from harness.sweep import idle_states
from harness.sweep import kernel_memory
from harness.sweep import mechanisms as mechanism_table
from harness.sweep import netns
from harness.sweep import plan
from harness.sweep import preflight
from harness.sweep import remote
from harness.sweep.runs_csv import RunsCsv, merged_columns
from plot import rules
from plot.plotting_python import plotting_python

EXIT_INTERRUPTED = 130


def say(text):
    print("sweep: " + text, file=sys.stderr, flush=True)


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def parse_args(argv):
    p = argument_parser()
    args = p.parse_args(argv)
    resolve_args(p, args)
    return args


def argument_parser():
    p = argparse.ArgumentParser(
        prog="bench",
        description=(
            "Sweep every chat server mechanism over idle-connection counts that straddle select's "
            "FD_SETSIZE (1024), for pingpong latency and flood throughput, and write runs.csv, "
            "env.json, micro.csv, plots and report.md to a new results folder."
        ),
        epilog=(
            "Presets: default = counts 0,100,500,1000,2000,5000,10000,max, 3 repeats, "
            "0.15 s warm-up + 0.5 s window (about 6 min on 2 cores, plus extra rounds for "
            "undecided claims within --decide-budget); --quick = counts 100,2000, 1 "
            "repeat, 0.1 + 0.3 s (< 1 min); --full = 14 counts, 5 repeats, 0.3 + 1 s, plus "
            "broadcast and churn modes when loadgen offers them. Explicit options override "
            "the preset. Ctrl-C stops cleanly: finished runs stay in runs.csv (exit 130)."
        ),
    )
    add_run_options(p)
    add_machine_options(p)
    add_output_options(p)
    add_tool_options(p)
    add_host_options(p)
    return p


def add_run_options(p):
    """What runs: the preset, mechanisms, counts, repeats, modes, windows, loadgen's options."""
    size = p.add_mutually_exclusive_group()
    size.add_argument(
        "--quick",
        action="store_true",
        help="every mechanism, one count each side of 1024, one repeat, short windows",
    )
    size.add_argument("--full", action="store_true", help="more counts, repeats and modes")
    p.add_argument(
        "--mechanisms",
        metavar="LIST",
        help=(
            "comma-separated mechanisms to sweep, and groups to add with +GROUP: +libraries "
            "(libevent-select, libevent-poll, libevent-epoll, libuv), +python (py-select, "
            "py-poll, py-epoll); e.g. 'epoll-lt,+python' (default: our own servers found, "
            "select, poll, epoll-lt, epoll-et, ...; --full adds every group)"
        ),
    )
    p.add_argument(
        "--counts",
        metavar="LIST",
        help=(
            "comma-separated idle-connection counts; 'max' = the largest the open-file limit allows"
        ),
    )
    p.add_argument(
        "--max-idle",
        type=int,
        default=plan.DEFAULT_MAX_IDLE,
        metavar="N",
        help="ceiling for 'max' when the open-file limit is larger (default %(default)s)",
    )
    p.add_argument("--repeats", type=int, metavar="R", help="runs per point (default 3)")
    p.add_argument(
        "--decide-budget",
        type=float,
        metavar="SECONDS",
        help=(
            "after the planned repeats, extra rounds of fresh instances for the claims whose"
            " interval is still undecided (only the mechanisms, modes and counts that feed them),"
            " within this many seconds (default: 120 for the default sweep, 0 for --quick, 600 for"
            " --full; 0 = none)"
        ),
    )
    p.add_argument(
        "--modes", metavar="LIST", help="comma-separated loadgen modes (default pingpong,flood)"
    )
    p.add_argument("--warmup", type=float, metavar="S", help="warm-up seconds per run")
    p.add_argument("--duration", type=float, metavar="S", help="measuring window per run, seconds")
    p.add_argument(
        "--active",
        type=int,
        metavar="K",
        help="active connections per run (default: loadgen's per mode)",
    )
    p.add_argument(
        "--active-counts",
        metavar="LIST",
        help=(
            "comma-separated active connection counts: every point runs once per count (e.g."
            " 2,64,512 for where batching pays: claim 11); the largest is kept free of the idle"
            " count's descriptor budget"
        ),
    )
    p.add_argument(
        "--sizes",
        metavar="LIST",
        help="comma-separated message sizes in bytes (loadgen --size, 49 to 4000): every point"
        " runs once per size (e.g. 64,4000)",
    )
    # Not `auto` by default: its doubling steps last warm-up/12 (12 ms in the default sweep),
    # too short to tell a gain from noise, so the chosen window (and with it the throughput)
    # varied tenfold between repeats of one point.
    p.add_argument(
        "--flood-window",
        metavar="W|auto",
        help=(
            "flood runs' messages in flight per sender (default: loadgen's, 16); auto lets loadgen "
            "grow it during the warm-up until a side saturates (use warm-ups of 1 s or more)"
        ),
    )
    p.add_argument(
        "--interval",
        type=float,
        metavar="S",
        help=(
            "write every run's per-interval series (series/run-N.csv: messages, p50, p99, loadgen"
            " and server CPU per S seconds); default: 1 s intervals for --full and for windows"
            " longer than 10 s only"
        ),
    )
    p.add_argument(
        "--hostile",
        type=int,
        default=plan.DEFAULT_HOSTILE,
        metavar="K",
        help=(
            "after every 0-idle ping-pong point, one more run on the same server with K"
            " misbehaving clients beside the measured ones (loadgen --hostile K; 0: no hostile"
            " phase; default %(default)s, 2 of each kind)"
        ),
    )
    p.add_argument(
        "--preflight",
        action="store_true",
        help=(
            "check this machine against --max-idle N idle connections and print what to raise,"
            " with the commands (changes nothing, runs nothing)"
        ),
    )
    p.add_argument(
        "--loadgen-arg",
        action="append",
        default=[],
        metavar="ARG",
        help=(
            "extra argument passed to every measured loadgen run (repeatable, "
            "e.g. --loadgen-arg=--size=64)"
        ),
    )


def add_machine_options(p):
    """How the machine is set: CPU idle states and the CPUs of the server and the loadgen."""
    p.add_argument(
        "--idle-states",
        default="block",
        metavar="LIST",
        help=(
            "block: hold /dev/cpu_dma_latency at 0 for the whole sweep, which makes idle CPUs poll "
            "where the cpuidle driver lists a polling state (needs root; the default; env.json "
            "idle_states_effect says what it did); allow: the machine's own idle behaviour; "
            "block,allow: both, interleaved per repeat, as the runs.csv column idle_states"
        ),
    )
    p.add_argument(
        "--placement",
        choices=["split", "shared"],
        default="split",
        help=(
            "split: server and loadgen on different CPUs (default); shared: the same "
            "CPU (no cross-CPU wake-up in each round trip)"
        ),
    )
    p.add_argument("--server-cpu", type=int, metavar="N", help="override the server's CPU")
    p.add_argument(
        "--net",
        default=netns.NET_LO,
        metavar="LIST",
        help=(
            "the path between loadgen and servers: lo (loopback, the default), veth (two network"
            " namespaces joined by a veth pair, 198.18.0.0/15, no route out; needs root), or"
            " lo,veth (every point on both, as the runs.csv column net)"
        ),
    )
    p.add_argument(
        "--netem",
        metavar="ARGS",
        help='tc netem arguments for both veth ends, e.g. "delay 100us" (with --net veth)',
    )
    p.add_argument("--loadgen-cpu", type=int, metavar="N", help="override the loadgen's CPU")


def add_output_options(p):
    """Where the results go and what besides runs.csv is written."""
    p.add_argument("--out", metavar="DIR", help="results root (default <root>/results)")
    p.add_argument("--name", metavar="NAME", help="results folder name (default <UTC time>-<host>)")
    p.add_argument(
        "--no-micro", action="store_true", help="skip mux-probe and the mux-micro micro-benchmarks"
    )
    p.add_argument("--no-plots", action="store_true", help="skip plot/plot.py and plot/report.py")
    p.add_argument(
        "--dry-run", action="store_true", help="print the plan and estimate, run nothing"
    )
    p.add_argument(
        "--bin", metavar="DIR", help="directory of the built binaries (default <root>/build/bin)"
    )


def add_host_options(p):
    """Servers and idle holders on other hosts, through ssh (remote.py)."""
    p.add_argument(
        "--server-host",
        metavar="HOST",
        help="run the chat servers on HOST (an ssh destination); measured runs stay local",
    )
    p.add_argument(
        "--server-address",
        metavar="ADDR",
        help="the address clients reach --server-host's servers at (default: HOST)",
    )
    p.add_argument(
        "--idle-hosts",
        metavar="LIST",
        help="comma-separated ssh destinations that hold the idle connections, split evenly",
    )
    p.add_argument(
        "--remote-bin",
        metavar="DIR",
        help="the muxbench binaries on the remote hosts (default: the same path as --bin)",
    )
    p.add_argument(
        "--ssh-option",
        action="append",
        default=[],
        metavar="OPT",
        help="passed to ssh as -o OPT (repeatable, e.g. Port=2222, IdentityFile=KEY)",
    )
    p.add_argument("--ssh-config", metavar="FILE", help="passed to ssh as -F FILE")


def add_tool_options(p):
    """Where the source tree, the binaries and the plotting Python are."""
    here = os.path.dirname(os.path.abspath(__file__))
    default_root = os.path.dirname(os.path.dirname(here))
    p.add_argument(
        "--root",
        metavar="DIR",
        default=default_root,
        help="the muxbench source tree (default: two levels above this script)",
    )
    p.add_argument("--loadgen", metavar="PATH", help="loadgen binary (default <bin>/loadgen)")
    p.add_argument("--micro", metavar="PATH", help="mux-micro binary (default <bin>/mux-micro)")
    p.add_argument("--probe", metavar="PATH", help="mux-probe binary (default <bin>/mux-probe)")
    p.add_argument(
        "--python",
        metavar="PATH",
        default=None,
        help=(
            "Python with matplotlib for micro_to_csv.py and the plots (default: this "
            "one if it has matplotlib, else /usr/bin/python3)"
        ),
    )


def resolve_args(p, args):
    """Fills in the defaults that depend on other options and the preset; exits on nonsense."""
    args.root = os.path.abspath(args.root)
    args.python = args.python or plotting_python(args.root)
    args.bin = os.path.abspath(args.bin or os.path.join(args.root, "build", "bin"))
    args.loadgen = args.loadgen or os.path.join(args.bin, "loadgen")
    args.micro = args.micro or os.path.join(args.bin, "mux-micro")
    args.probe = args.probe or os.path.join(args.bin, "mux-probe")
    preset = plan.PRESETS["quick" if args.quick else "full" if args.full else "default"]
    args.preset_name = "quick" if args.quick else "full" if args.full else "default"
    args.count_list = plan.parse_counts(args.counts) if args.counts else list(preset.counts)
    args.repeats = args.repeats if args.repeats is not None else preset.repeats
    if args.decide_budget is None:
        args.decide_budget = preset.decide_budget_s
    if args.decide_budget < 0:
        p.error("--decide-budget must be >= 0 seconds")
    args.warmup = args.warmup if args.warmup is not None else preset.warmup_s
    args.duration = args.duration if args.duration is not None else preset.duration_s
    args.mode_list = [m.strip() for m in args.modes.split(",") if m.strip()] if args.modes else None
    try:
        args.variants = plan.variants(args.active, args.active_counts, args.sizes)
    except ValueError as e:
        p.error(str(e))
    args.preset = preset
    try:
        args.idle_state_list = idle_states.parse(args.idle_states)
    except ValueError as e:
        p.error(str(e))
    if args.repeats < 1:
        p.error("--repeats must be at least 1")
    if args.warmup < 0 or args.duration <= 0:
        p.error("--warmup must be >= 0 and --duration > 0")
    if args.interval is not None and args.interval <= 0:
        p.error("--interval must be > 0 seconds")
    if args.hostile < 0:
        p.error("--hostile must be >= 0 (0: no hostile phase)")
    try:
        args.net_list = netns.parse_nets(args.net)
    except ValueError as e:
        p.error(str(e))
    if args.netem and netns.NET_VETH not in args.net_list:
        p.error("--netem shapes the veth link: use it with --net veth or --net lo,veth")
    args.idle_host_list = [h.strip() for h in (args.idle_hosts or "").split(",") if h.strip()]
    if (args.server_host or args.idle_host_list) and args.net_list != [netns.NET_LO]:
        p.error("--server-host/--idle-hosts measure a real network: use them without --net veth")
    args.remote_bin = args.remote_bin or args.bin
    if args.idle_host_list and not args.server_host and not args.server_address:
        p.error(
            "--idle-hosts with the servers on this machine: pass --server-address ADDR, this"
            " machine's address as the idle hosts reach it (the servers then bind 0.0.0.0)"
        )


def fnum(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def describe(row):
    """A short summary of a run for the progress line."""
    status = row.get("bench_status") or row.get("status") or "?"
    parts = []
    if not fnum(row.get("msgs")):
        return status
    p50, p99, tput = (
        fnum(row.get("p50_us")),
        fnum(row.get("p99_us")),
        fnum(row.get("throughput_msgs_s")),
    )
    cpu = fnum(row.get("server_cpu_us_per_msg"))
    if row.get("mode") in ("pingpong", "floor", "relay-floor") and p50 is not None:
        parts.append(f"p50 {p50:.1f} us" + (f" p99 {p99:.1f} us" if p99 else ""))
    elif tput is not None:
        parts.append(f"{tput:.0f} msg/s")
    if cpu is not None:
        parts.append(f"server {cpu:.2f} us/msg")
    parts.append(status)
    return ", ".join(parts)


def merge(loadgen_row, bench_row):
    """The loadgen's row with the bench's columns; the loadgen's own figures win."""
    merged = dict(loadgen_row)
    for k, v in bench_row.items():
        if k in ("mechanism", "mode", "idle", "warmup_s", "duration_s") and merged.get(k):
            continue
        merged[k] = v
    return merged


class Target:
    """One mechanism in one instance (idle count, repeat, idle states): its server, its hold,
    and why it cannot run (if so)."""

    def __init__(self, mech):
        self.mech = mech
        self.name = mech.name
        self.server = None
        self.hold = None
        self.blocked = None  # the status of every remaining row, when nothing can run
        self.run_ids = []
        self.hold_refused = None
        # The hold's `holding` line: idle, open, refused, and the source and destination
        # addresses its connections were spread over.
        self.holding = None
        self.kernel = None  # what its idle connections cost the kernel (kernel_memory.py)
        self.idle_open_s = None  # from starting its hold to the `holding` line


class Sweep:
    def __init__(
        self,
        args,
        mechs,
        counts,
        modes,
        placement,
        server_cpu,
        loadgen_cpu,
        out_dir,
        env,
        states,
        latency_request,
    ):
        self.args = args
        self.mechs = mechs
        self.counts = counts
        self.modes = modes
        self.placement = placement
        self.server_cpu = server_cpu
        self.loadgen_cpu = loadgen_cpu
        self.out_dir = out_dir
        self.logs = os.path.join(out_dir, "logs")
        self.env = env
        self.states = states  # idle_states values to run, e.g. ["block"] or ["block", "allow"]
        self.loadgen_modes = set()  # optional loadgen modes found in its --help (relay-floor)
        self.histograms = False  # loadgen --histogram-out, when its --help lists it
        self.series_interval = None  # loadgen --interval S --series-out, when on (new_sweep)
        self.kernel = None  # kernel_memory.KernelMeter: bytes per idle connection per side
        self.latency_request = latency_request
        self.state = None
        self.nets = list(args.net_list)
        self.net = self.nets[0]
        self.topology = None  # netns.Topology, when veth is among the nets
        self.lg_help = ""  # loadgen --help, for the options it may lack (new_sweep)
        self.server_host = None  # remote.Host running the servers, or None (local)
        self.idle_hosts = []  # remote.Host list holding the idle connections ([]: local)
        self.csv = None
        self.run_id = 0
        # (kind, placement, idle_states) -> the ok p50s of the floors measured at the start, and
        # their median, which every row of the sweep carries.
        self.floor_start_p50s = {}
        self.floor_p50 = {}
        self.active_targets = []
        self.current_count = 0
        self.current_repeat = 0
        self.points_total = (
            sum(len(plan.modes_at(modes, c)) for c in counts)
            * len(args.variants)
            * len(mechs)
            * args.repeats
            * len(states)
            * len(args.net_list)
        )
        self.hostile = 0  # loadgen --hostile K after each 0-idle ping-pong point (0: none)
        self.points_done = 0
        self.start = time.monotonic()
        self.est_total = 0.0
        self.est_done = 0.0
        self.unavailable = {}  # mechanism -> status, for mechanisms that can never run here
        # (mechanism, count, mode, variant) that the server refused once (select past
        # FD_SETSIZE): the refusal does not depend on the instance, so later repeats skip instead
        # of re-asking.
        self.refused = set()
        self.notes = env.setdefault("notes", [])
        self.servers_log = open(os.path.join(out_dir, "servers.jsonl"), "a")

    # -- bookkeeping -------------------------------------------------------------------------

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

    def hold(self, t, count, log):
        """Opens t's idle connections and measures what they cost the kernel (snapshots before
        and after, with t's server running): returns the `holding` line's values."""
        kernel = None if self.remote_kernel_memory() else self.kernel
        before = kernel.snapshot() if kernel else None
        t0 = time.monotonic()
        if self.idle_hosts:
            t.hold = remote.HoldGroup(self.args.loadgen, t.server, count, log, self.idle_hosts)
            held = t.hold.wait_holding(30.0 + count * 2e-3)
            t.idle_open_s = round(time.monotonic() - t0, 3)
            return held
        t.hold = children.Hold(
            self.args.loadgen,
            t.server,
            count,
            log,
            extra_args=self.spread_args(),
            cgroup_procs=kernel.procs_file("holders") if kernel else None,
            wrap=self.client_wrap(),
        )
        held = t.hold.wait_holding(30.0 + count * 2e-3)
        t.idle_open_s = round(time.monotonic() - t0, 3)
        if kernel:
            t.kernel = kernel.measure(before, held.get("open"))
        return held

    # -- the path: loopback or the veth pair (netns.py) ----------------------------------------

    def use_net(self, net):
        # kernel_memory's counters need nothing per path: the cgroups follow the processes, and
        # sockstat's TCP `mem` is the global tcp_memory_allocated in every namespace's view.
        self.net = net

    def client_wrap(self):
        return self.topology.client_exec() if self.net == netns.NET_VETH else []

    def server_placement(self):
        """(wrap, bind, host) of a server on the current path."""
        if self.server_host is not None:
            return (
                remote.server_wrap(self.server_host),
                "0.0.0.0",
                self.args.server_address or self.server_host.address,
            )
        if self.idle_hosts:
            return [], "0.0.0.0", self.args.server_address
        if self.net != netns.NET_VETH:
            return [], None, None
        # Every server address accepts, so that holders can spread over them.
        return self.topology.server_exec(), "0.0.0.0", self.topology.server_addresses[0]

    def spread_args(self):
        """Idle holders spread over every client and server address of the veth link, when the
        loadgen offers it; otherwise the loadgen's default (the kernel's source, --host)."""
        if self.net != netns.NET_VETH or "--idle-sources" not in self.lg_help:
            return []
        topo = self.topology
        return [
            "--idle-sources",
            ",".join(topo.client_addresses),
            "--idle-destinations",
            ",".join(topo.server_addresses),
        ]

    def remote_kernel_memory(self):
        """Why kernel memory is not measured with a remote side (None when every side is here)."""
        far = ([self.server_host.name] if self.server_host else []) + [
            h.name for h in self.idle_hosts
        ]
        if not far:
            return None
        return (
            f"unavailable: {', '.join(far)} on another host (its counters and cgroups are"
            " there, not here)"
        )

    def loadgen_log(self):
        return os.path.join(self.logs, "loadgen.log")

    def run_timeout(self):
        return 20.0 + 3.0 * (self.args.warmup + self.args.duration)

    # -- the floors --------------------------------------------------------------------------

    def floors(self, when, placements):
        """Both blocking floors under every idle-states setting: the 2-hop echo (floor) and the
        4-hop relay that matches a chat ping-pong's hops and CPUs (relay-floor)."""
        for state in self.states:
            self.use_idle_states(state)
            for placement, server_cpu, loadgen_cpu in placements:
                own = placement == self.placement
                suffix = when if own else placement
                # Each start and end floor is the median of FLOOR_REPEATS runs, the two kinds
                # interleaved: one 0.5 s floor moved by up to ±30 % from run to run on our
                # shared-host VM, which alone would make the drift check cry wolf.
                for n in range(1, (plan.FLOOR_REPEATS if own else 1) + 1):
                    for kind, prefix in (("floor", "floor"), ("relay-floor", "relay")):
                        if kind == "relay-floor" and "relay-floor" not in self.loadgen_modes:
                            continue
                        self.floor(
                            kind,
                            f"{prefix}-{suffix}",
                            placement,
                            server_cpu,
                            loadgen_cpu,
                            n,
                            starting=when == "start",
                        )

    def floor(self, kind, label, placement, server_cpu, loadgen_cpu, repeat, starting=False):
        row = self.base_row("floor", kind, 0, repeat, placement, server_cpu, loadgen_cpu)
        row.pop("relay_floor_p50_us", None)
        # The floors are the loadgen and its own peer, always over loopback.
        row["net"] = netns.NET_LO
        cmd = [
            self.args.loadgen,
            "--mode",
            kind,
            "--cpu",
            str(loadgen_cpu),
            "--peer-cpu",
            str(server_cpu),
            "--warmup",
            str(self.args.warmup),
            "--duration",
            str(self.args.duration),
            "--csv-header",
            "--label",
            label,
        ]
        cmd += self.histogram_args(row)
        result = children.run_loadgen(cmd, self.loadgen_log(), self.run_timeout())
        if result.row is not None:
            row = merge(result.row, row)
            row["status"] = row.get("status") or "error:no status"
            row["bench_status"] = row["status"]
        else:
            row.update(status="error:" + result.error, bench_status="error:" + result.error)
        if self.csv is None:
            self.csv = RunsCsv(
                os.path.join(self.out_dir, "runs.csv"), merged_columns(result.header)
            )
            self.env["runs_csv_columns"] = self.csv.columns
        key = (kind, placement, self.state)
        p50 = fnum(row.get("p50_us"))
        if p50 is not None and row.get("status") == "ok" and starting:
            self.floor_start_p50s.setdefault(key, []).append(p50)
            # Three decimals, as loadgen prints its figures (no float noise, no lost digits).
            median = statistics.median(self.floor_start_p50s[key])
            self.floor_p50[key] = f"{median:.3f}".rstrip("0").rstrip(".")
        row["floor_p50_us"] = self.floor_p50.get(("floor", placement, self.state), "")
        row["idle_open"] = row.get("idle_open") or 0
        self.csv.append(row)
        self.spend(plan.run_cost(self.args.warmup, self.args.duration))
        self.env.setdefault("floors", []).append(
            {
                "label": label,
                "kind": kind,
                "idle_states": self.state,
                "placement": placement,
                "server_cpu": server_cpu,
                "loadgen_cpu": loadgen_cpu,
                "p50_us": row.get("p50_us"),
                "p99_us": row.get("p99_us"),
                "status": row.get("bench_status"),
            }
        )
        say(
            f"{kind} ({label}, {placement} placement, CPUs {loadgen_cpu}<->{server_cpu}, idle"
            f" states {self.state}): {describe(row)}"
        )

    # -- one instance: fresh servers and a fresh idle set -----------------------------------

    def start_targets(self, count, mechs):
        """Starts a server (and a hold when count > 0) per mechanism; returns (targets, failure).

        failure is the reason a hold could not be established (None when all are up), which
        makes the caller retry one server at a time.
        """
        targets = [Target(m) for m in mechs]
        self.active_targets = targets
        for t in targets:
            if t.mech.name in self.unavailable:
                t.blocked = self.unavailable[t.mech.name]
                continue
            log = os.path.join(self.logs, f"server-{t.name}-idle{count}.log")
            wrap, bind, host = self.server_placement()
            try:
                t.server = children.Server(
                    t.mech,
                    self.args.remote_bin if self.server_host else self.args.bin,
                    self.server_cpu,
                    log,
                    cgroup_procs=(
                        self.kernel.procs_file("server")
                        if self.kernel and not self.server_host
                        else None
                    ),
                    wrap=wrap,
                    bind=bind,
                    host=host,
                    stop_by_eof=self.server_host is not None,
                )
                if self.server_host is not None:
                    remote.reachable(t.server.host, t.server.port, self.server_host.name)
                t.name = t.server.name
            except children.StartError as e:
                reason = str(e)
                if e.exit_code == mechanism_table.EXIT_UNAVAILABLE:
                    t.blocked = "unavailable"
                    self.unavailable[t.mech.name] = "unavailable"
                    self.note(f"{t.name} is unavailable on this machine: {reason}")
                else:
                    t.blocked = "error:server-start"
                    self.note(f"{t.name} at idle={count} did not start: {reason} (log {log})")
            self.spend(plan.SERVER_START_S)
        if count == 0:
            return targets, None
        failure = None
        # One hold after another, each between two kernel-memory snapshots.
        for t in targets:
            if t.server is None:
                continue
            log = os.path.join(self.logs, f"hold-{t.name}-idle{count}.log")
            try:
                held = self.hold(t, count, log)
                t.hold_refused = held.get("refused")
                t.holding = held
            except children.StartError as e:
                t.hold = None
                t.blocked = "error:hold"
                failure = failure or f"{t.name}: {e}"
            self.spend(count * plan.PER_IDLE_CONNECTION_S)
        return targets, failure

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
        names = [m.name for m in self.mechs if any(t.mech.name == m.name for t in targets)]
        shift = (repeat - 1) % max(1, len(names))
        order = names[shift:] + names[:shift]
        for t in sorted(targets, key=lambda t: order.index(t.mech.name)):
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

    def repeat_label(self, repeat):
        if repeat > self.args.repeats:
            return f"extra rep {repeat}"
        return f"rep {repeat}/{self.args.repeats}"

    def extra_round(self, needs, repeat):
        """One round of measuring until decided (harness/sweep/decide.py): at each count of
        `needs` ({count: (mechanism names, modes)}) a fresh instance of only those mechanisms
        running only those modes, in the primary idle-states setting and path (the ones the
        claims judge), without the hostile phase."""
        self.use_idle_states(self.states[0])
        self.use_net(self.nets[0])
        self.current_repeat = repeat
        for count, (names, modes) in needs.items():
            mechs = [m for m in self.mechs if m.name in names]
            self.current_count = count
            self.points_total += len(mechs) * len(modes) * len(self.args.variants)
            t0 = time.monotonic()
            say(
                f"idle={count} extra repeat {repeat}: starting {', '.join(m.name for m in mechs)}"
                f" for {', '.join(modes)}"
            )
            targets, failure = self.start_targets(count, mechs)
            if failure:
                self.note(f"idle={count} extra repeat {repeat}: {failure}")
            self.report_setup(count, targets, t0)
            self.run_targets(count, repeat, targets, modes=modes, hostile=False)
            self.finish(count, targets)

    def point(self, count, t, repeat, mode, variant=plan.Variant()):
        row = self.base_row(t.name, mode, count, repeat)
        # A row the sweep writes itself (skipped, blocked) says which variant it stands for; a
        # measured row gets these from the loadgen.
        row.update({k: v for k, v in vars(variant).items() if v is not None})
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

    def measure(self, count, t, mode, row, variant=plan.Variant()):
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
            str(self.args.duration),
            "--csv-header",
        ]
        if self.server_host is None:
            cmd += ["--server-pid", str(t.server.pid)]  # else its CPU comes from its /stats
        cmd += ["--idle-held", str(count)] if count else ["--idle", "0"]
        if mode == "flood" and self.args.flood_window:
            cmd += ["--window", self.args.flood_window]
        cmd += self.histogram_args(row)
        cmd += self.series_args(row)
        cmd += variant.loadgen_args()
        cmd += self.args.loadgen_arg
        result = children.run_loadgen(cmd, self.loadgen_log(), self.run_timeout())
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

    def finish(self, count, targets, quiet=False, timeout_s=30.0):
        """Releases the holds (idle_open comes from them) and stops the servers."""
        for t in targets:
            released = t.hold.release(timeout_s) if t.hold is not None else {}
            t.hold = None
            opened = released.get("open")
            expected = count - (released.get("refused") or t.hold_refused or 0)
            if count == 0:
                opened = 0
            if t.blocked == "server-crashed":
                # The crash closed the idle connections; what was open during the earlier runs
                # is not known.
                opened = None
            elif count and t.server is not None and not t.server.alive():
                # The server exited after its last run (at Ctrl-C: perhaps while the run in
                # flight was killed) and its exit closed the idle connections before the hold
                # counted them, so the count says nothing about the finished runs. Alive now
                # means alive when the hold counted.
                if t.blocked is None and t.run_ids:
                    self.note(
                        f"{t.name} at idle={count} exited (status {t.server.proc.returncode})"
                        " before its idle connections were counted; idle_open of its runs at this"
                        f" count is unknown (log {t.server.log_path})"
                    )
                opened = None
            ids = set(t.run_ids)

            def fill(row, opened=opened, expected=expected):
                changes = {}
                if not row.get("idle_open") or str(row.get("idle_open")) == "-1":
                    changes["idle_open"] = "" if opened is None else opened
                if opened is not None and opened < expected and row.get("bench_status") == "ok":
                    changes["bench_status"] = f"idle-lost:{expected - opened}"
                return changes

            if ids and self.csv is not None:
                self.csv.update(lambda row, ids=ids: row.get("run_id") in ids, fill)
            if count and t.server is not None and not released and not quiet:
                log = os.path.join(self.logs, f"hold-{t.name}-idle{count}.log")
                self.note(
                    f"{t.name} at idle={count}: the hold printed no released line (log {log})"
                )
            record = {
                "idle": count,
                "repeat": self.current_repeat,
                "idle_states": self.state,
                "net": self.net,
                "mechanism": t.name,
                "released": released,
                "hold_refused": t.hold_refused,
                "holding": t.holding,
                "blocked": t.blocked,
                "kernel_memory": t.kernel,
                "idle_open_s": t.idle_open_s,
            }
            if t.server is not None:
                problem = t.server.stop(min(timeout_s, 10.0))
                record.update(
                    port=t.server.port,
                    pid=t.server.pid,
                    fd_limit=t.server.fd_limit,
                    started_utc=t.server.started_utc,
                    exit_code=t.server.exit_code,
                    counters=t.server.final,
                    stop_problem=problem,
                )
                if problem and t.blocked is None and not quiet:
                    self.note(f"{t.name} at idle={count}: {problem} (log {t.server.log_path})")
                t.server = None
            if not quiet:
                self.servers_log.write(json.dumps(record) + "\n")
                self.servers_log.flush()
        self.active_targets = []

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


def run_tool(cmd, log_path, timeout_s, cpu=None, stdout_path=None, env=None):
    """Runs a helper (probe, micro, plots). Returns None or why it failed."""
    with open(log_path, "ab") as log:
        log.write(("$ " + " ".join(cmd) + "\n").encode())
        log.flush()
        out = open(stdout_path, "wb") if stdout_path else log
        try:
            proc = children.spawn(cmd, stdout=out, stderr=log, cpu=cpu, env=env)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                children.kill_group(proc)
                return f"no result within {timeout_s:.0f} s"
            children.forget(proc)
        except OSError as e:
            return str(e)
        finally:
            if stdout_path:
                out.close()
    if proc.returncode != 0:
        why = children.tail(log_path, 2)
        return f"exit status {proc.returncode}{': ' + why if why else ''}"
    return None


def micro_and_probe(args, out_dir, server_cpu, env, quick):
    logs = os.path.join(out_dir, "logs")
    results = {}
    if os.access(args.probe, os.X_OK):
        say("mux-probe -> probe.json")
        problem = run_tool(
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
    if not os.access(args.micro, os.X_OK):
        results["micro"] = f"not built ({args.micro})"
        say(f"no micro-benchmarks: {args.micro} is not built")
        return results
    micro_json = os.path.join(out_dir, "micro.json")
    cmd = (
        [args.micro]
        + (["--quick"] if quick else [])
        + ["--benchmark_out=" + micro_json, "--benchmark_out_format=json"]
    )
    say(
        f"mux-micro{' --quick' if quick else ''} pinned to CPU {server_cpu} -> micro.json (about"
        f" {plan.fmt_duration(plan.MICRO_QUICK_S if quick else plan.MICRO_FULL_S)})"
    )
    t0 = time.monotonic()
    problem = run_tool(cmd, os.path.join(logs, "micro.log"), 600 if quick else 3600, cpu=server_cpu)
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
    problem = run_tool(
        python_module(args, "harness.micro.micro_to_csv")
        + [micro_json, os.path.join(out_dir, "micro.csv")],
        os.path.join(logs, "micro.log"),
        120,
        env=root_on_path(args.root),
    )
    results["micro_csv"] = problem or "ok"
    if problem:
        say(f"micro_to_csv.py failed: {problem} (log logs/micro.log)")
    return results


def python_module(args, module):
    """The command that runs one module of the repository's packages (plot.report, ...)."""
    return [args.python, "-m", module]


def root_on_path(root):
    """The environment for python_module: the repository root is the import root."""
    path = os.environ.get("PYTHONPATH")
    return dict(os.environ, PYTHONPATH=root + (os.pathsep + path if path else ""))


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
        problem = run_tool(
            python_module(args, module) + [out_dir],
            os.path.join(logs, "plots.log"),
            300,
            env=root_on_path(args.root),
        )
        results[script] = problem or "ok"
        if problem:
            say(f"plot/{script} failed: {problem} (log logs/plots.log); runs.csv is complete")
    return results


def results_dir(args, started):
    root = os.path.abspath(args.out or os.path.join(args.root, "results"))
    name = (
        args.name or f"{started.strftime('%Y-%m-%dT%H%M%SZ')}-{os.uname().nodename.split('.')[0]}"
    )
    path = os.path.join(root, name)
    if args.name is not None and os.path.exists(os.path.join(path, "runs.csv")):
        raise FileExistsError(f"{path} already holds a run: choose another --name or remove it")
    if args.name is None:
        suffix = 2
        while os.path.exists(path):
            path = os.path.join(root, f"{name}-{suffix}")
            suffix += 1
    os.makedirs(os.path.join(path, "logs"), exist_ok=True)
    return path


def write_env(out_dir, env):
    tmp = os.path.join(out_dir, "env.json.tmp")
    with open(tmp, "w") as f:
        json.dump(env, f, indent=2, default=str)
        f.write("\n")
    os.replace(tmp, os.path.join(out_dir, "env.json"))


def main(argv=None):
    # The PM QoS request lives exactly as long as the sweep: released here on every return and
    # exception, and by the kernel when the process dies any other way.
    latency_request = idle_states.LatencyRequest()
    try:
        return run(argv, latency_request)
    finally:
        latency_request.allow()


class SweepPlan:
    """What a sweep will run, decided before anything starts: mechanisms, counts, modes, CPUs,
    idle states, floor runs and the estimate."""

    def __init__(self, **fields):
        self.__dict__.update(fields)


def run(argv, latency_request):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.preflight:
        return preflight.main(args.max_idle)
    started = utc_now()
    if netns.NET_VETH in args.net_list and not args.dry_run:
        why = netns.why_not_permitted()
        if why:
            say(why)
            return 2
    sweep_plan = make_plan(args, latency_request)
    if sweep_plan is None:
        return 2
    say_plan(args, sweep_plan)
    if args.dry_run:
        return 0
    try:
        # The hosts and the path are checked and made before the results folder: a refusal
        # leaves nothing behind.
        hosts = remote_hosts(args, sweep_plan)
        with veth_path(args, sweep_plan) as topology:
            try:
                out_dir = results_dir(args, started)
            except OSError as e:
                say(str(e))
                return 2
            say(f"results in {out_dir}")
            env = initial_env(args, argv, started, sweep_plan, latency_request)
            env["net"] = net_env(args, topology, sweep_plan.lg_help)
            env["hosts"] = hosts_env(hosts, sweep_plan)
            write_env(out_dir, env)
            sweep = new_sweep(args, sweep_plan, out_dir, env, latency_request, topology, hosts)
            interrupted = run_sweep(args, sweep, sweep_plan, env, out_dir)
    except (netns.NetnsError, remote.RemoteError) as e:
        say(str(e))
        return 2
    if interrupted:
        return interrupted
    return after_runs(args, sweep_plan, sweep, env, out_dir)


# -- planning ---------------------------------------------------------------------------------


def make_plan(args, latency_request):
    """The plan, after saying what was dropped and why; None (exit 2) when nothing can run."""
    mechs = find_mechanisms(args)
    if mechs is None:
        return None
    soft, hard = plan.raise_fd_limit()
    largest, cap = plan.largest_idle(soft, args.max_idle, plan.most_active(args.variants))
    counts, dropped = plan.resolve_counts(args.count_list, largest)
    say(f"largest idle count {largest} ({cap})")
    if dropped:
        say(
            f"idle count(s) {', '.join(map(str, dropped))} dropped: above the largest this machine"
            f" allows ({largest})"
        )
    if not counts:
        say("no idle count left to sweep")
        return None
    lg_help = mechanism_table.help_text(args.loadgen)
    modes = choose_modes(args, lg_help, counts, largest)
    placement, server_cpu, loadgen_cpu, cpu_note = plan.placement_cpus(
        args.placement, args.server_cpu, args.loadgen_cpu
    )
    if cpu_note:
        say(cpu_note)
    other_placement = None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) >= 2 and args.server_cpu is None and args.loadgen_cpu is None:
        other_placement = "shared" if placement == "split" else "split"
    states, idle_note = choose_idle_states(args, latency_request)
    loadgen_modes = {m for m in ("relay-floor",) if m in lg_help}
    floors = (
        len(states)
        * (
            2 * plan.FLOOR_REPEATS * (1 + len(loadgen_modes))
            + (1 + len(loadgen_modes) if other_placement else 0)
        )
        + 2 * idle_states.EFFECT_ROUNDS
    )  # the floor without and with the request, at the start
    micro = not args.no_micro and os.access(args.micro, os.X_OK)
    plots = not args.no_plots
    hostile = args.hostile if plan.hostile_phase(args.hostile, counts, modes) else 0
    if hostile and "--hostile" not in lg_help:
        say(f"hostile phase skipped: {args.loadgen} --help does not list --hostile")
        hostile = 0
    instances = args.repeats * len(states) * len(args.net_list)
    est = plan.estimate(
        [m.name for m in mechs],
        counts,
        modes,
        instances,
        args.warmup,
        args.duration,
        floors,
        micro,
        args.preset.micro_quick,
        plots,
        variants=len(args.variants),
        hostile=bool(hostile),
    )
    return SweepPlan(
        hostile=hostile,
        # One hostile run after each 0-idle ping-pong point: per mechanism, variant and instance.
        hostile_runs=len(mechs) * len(args.variants) * instances if hostile else 0,
        mechs=mechs,
        largest=largest,
        cap=cap,
        counts=counts,
        dropped=dropped,
        lg_help=lg_help,
        modes=modes,
        all_modes=list(dict.fromkeys(m for c in counts for m in plan.modes_at(modes, c))),
        placement=placement,
        server_cpu=server_cpu,
        loadgen_cpu=loadgen_cpu,
        cpu_note=cpu_note,
        other_placement=other_placement,
        states=states,
        idle_note=idle_note,
        loadgen_modes=loadgen_modes,
        floors=floors,
        micro=micro,
        quick_micro=args.preset.micro_quick,
        plots=plots,
        est=est,
    )


def find_mechanisms(args):
    """The mechanisms to sweep, or None after saying what is missing."""
    if not os.access(args.loadgen, os.X_OK):
        say(
            f"no loadgen at {args.loadgen}: build it (./bench build, or cmake --build build"
            " --target loadgen) or point --loadgen at it"
        )
        return None
    try:
        mechs = mechanism_table.select(
            mechanism_table.discover(args.bin),
            [m.strip() for m in args.mechanisms.split(",")] if args.mechanisms else None,
            every_group=bool(getattr(args, "full", False)),
        )
    except ValueError as e:
        say(str(e))
        return None
    if not mechs:
        say(
            f"no server binaries (chat-select, chat-poll, chat-epoll, ...) in {args.bin}: build"
            " them (./bench build) or point --bin at them"
        )
        return None
    return mechs


def choose_modes(args, lg_help, counts, largest):
    """The modes: a list for every count, or {count: modes} when a mode runs at some counts only.
    Optional modes the loadgen does not list are skipped, and said."""
    modes = args.mode_list or list(args.preset.modes)
    if args.mode_list:
        return modes
    for mode in args.preset.optional_modes:
        if mode in lg_help:
            modes.append(mode)
        else:
            say(f"mode {mode} skipped: {args.loadgen} --help does not list it")
    sparse = {}
    for mode, at in args.preset.sparse_modes.items():
        if mode not in lg_help:
            say(f"mode {mode} skipped: {args.loadgen} --help does not list it")
            continue
        for c in at:
            c = largest if c == "max" else c
            if c in counts:
                sparse.setdefault(c, []).append(mode)
    if not sparse:
        return modes
    say(
        f"mode(s) {','.join(sorted({m for ms in sparse.values() for m in ms}))} at idle"
        f" {','.join(str(c) for c in counts if c in sparse)} only"
    )
    return {c: modes + sparse.get(c, []) for c in counts}


def choose_idle_states(args, latency_request):
    """The idle-states settings to run and the note when blocking was asked for but refused:
    blocked by default when we may; otherwise say so once and measure "allow"."""
    states = list(args.idle_state_list)
    if idle_states.BLOCK not in states:
        return states, None
    if args.dry_run:
        can_block = os.access(latency_request.device, os.W_OK)
        latency_request.why_not = (
            None
            if can_block
            else (
                f"cannot open {latency_request.device} for writing; run as root to measure with"
                " idle states blocked"
            )
        )
    else:
        can_block = latency_request.block()
    if can_block:
        return states, None
    states = [s for s in states if s != idle_states.BLOCK] or [idle_states.ALLOW]
    idle_note = (
        f"CPU idle states NOT blocked: {latency_request.why_not}; measuring with the"
        " machine's own idle behaviour (idle_states=allow); explanation, not measured: where the"
        " cpuidle driver halts idle CPUs, low-load latency and CPU per message include waking"
        " them"
    )
    say(idle_note)
    return states, idle_note


def say_plan(args, p):
    """One line: what will run, on which CPUs, and how long it should take."""
    modes_at = [plan.modes_at(p.modes, c) for c in p.counts]
    runs = (
        len(p.mechs)
        * sum(map(len, modes_at))
        * len(args.variants)
        * args.repeats
        * len(p.states)
        * len(args.net_list)
    )
    everywhere = [m for m in p.all_modes if all(m in at for at in modes_at)]
    mode_text = f"{len(everywhere)} modes ({','.join(everywhere)})"
    for m in p.all_modes:
        if m not in everywhere:
            at_counts = ",".join(str(c) for c, at in zip(p.counts, modes_at) if m in at)
            mode_text += f" + {m} at idle {at_counts}"
    names = ",".join(m.name for m in p.mechs)
    count_text = ",".join(map(str, p.counts))
    if len(p.states) > 1:
        state_text = " x idle states " + ",".join(p.states)
    else:
        state_text = f" (idle states {p.states[0]})"
    micro_text = " + micro-benchmarks" if p.micro else ""
    if args.net_list != [netns.NET_LO]:
        state_text += " over " + " and ".join(args.net_list)
        state_text += f" (netem {args.netem})" if args.netem else ""
    if len(args.variants) > 1:
        labels = ";".join(v.label().strip() for v in args.variants)
        mode_text += f" x {len(args.variants)} variants ({labels})"
    hostile_text = ""
    if p.hostile:
        runs += p.hostile_runs
        hostile_text = f" ({p.hostile_runs} with --hostile {p.hostile} at idle 0)"
    say(
        f"plan: {len(p.mechs)} mechanisms ({names}) x {len(p.counts)} idle counts ({count_text}) x "
        f"{mode_text} x {args.repeats} repeats{state_text} = {runs} runs{hostile_text} of "
        f"{args.warmup:g} s warm-up + {args.duration:g} s window, + {p.floors} floor runs"
        f"{micro_text}; server on CPU "
        f"{p.server_cpu}, loadgen on CPU {p.loadgen_cpu} ({p.placement}); estimated "
        f"{plan.fmt_duration(p.est)}"
    )


# -- the environment --------------------------------------------------------------------------


def initial_env(args, argv, started, p, latency_request):
    """env.json as written before the first run: the machine, the build, the plan."""
    return {
        "started_utc": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command_line": [sys.argv[0]] + (sys.argv[1:] if argv is None else list(argv)),
        "preset": args.preset_name,
        "machine": environment.machine(),
        "build": environment.cmake_cache(os.path.dirname(args.bin)),
        "git": environment.git_state(args.root),
        "placement": {
            "placement": p.placement,
            "server_cpu": p.server_cpu,
            "loadgen_cpu": p.loadgen_cpu,
            "note": p.cpu_note,
        },
        "largest_idle": p.largest,
        "largest_idle_cap": p.cap,
        "counts": p.counts,
        "counts_dropped": p.dropped,
        "modes": p.all_modes,
        "modes_by_count": {str(c): plan.modes_at(p.modes, c) for c in p.counts},
        "mechanisms": [{"name": m.name, "command": m.command(args.bin)} for m in p.mechs],
        "repeats": args.repeats,
        "warmup_s": args.warmup,
        "window_s": args.duration,
        "active": args.active,
        "active_counts": [v.active for v in args.variants if v.active is not None] or None,
        "sizes": sorted({v.size for v in args.variants if v.size is not None}) or None,
        "loadgen_args": args.loadgen_arg,
        "hostile": p.hostile,
        "tools": tool_versions(args, p.mechs),
        "estimated_s": round(p.est),
        "python_for_plots": args.python,
        "idle_states": {
            "requested": list(args.idle_state_list),
            "run": p.states,
            "held": latency_request.held or None if idle_states.BLOCK in p.states else False,
            "why_not": latency_request.why_not,
            "device": latency_request.device,
            "cpuidle": idle_states.describe(),
        },
        "confounders": environment.confounders(),
        "notes": [n for n in (p.cpu_note, p.idle_note) if n],
    }


def tool_versions(args, mechs):
    tools = {"loadgen": {"path": args.loadgen, "version": environment.tool_version(args.loadgen)}}
    for m in mechs:
        path = os.path.join(args.bin, m.binary)
        tools[m.binary] = {"path": path, "version": environment.tool_version(path)}
    return tools


# -- the path ---------------------------------------------------------------------------------


class _NoTopology:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def veth_path(args, p):
    """The namespaces and the veth pair when veth is asked for (removed when the block exits,
    however it exits), else nothing. A SIGTERM unwinds the block as a Ctrl-C does."""
    if netns.NET_VETH not in args.net_list:
        return _NoTopology()

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    netns.remove_stale(say)
    topology = netns.Topology(
        netem=args.netem, client_addresses=netns.client_addresses_for(max(p.counts))
    )
    say(
        f"veth path: servers in {topology.server_ns} ({topology.server_addresses[0]}-"
        f"{topology.server_addresses[-1]}), loadgen in {topology.client_ns}"
        f" ({len(topology.client_addresses)} source addresses from"
        f" {topology.client_addresses[0]}), MTU {topology.mtu}, {topology.describe()['qdisc']}"
    )
    return topology


def net_env(args, topology, lg_help):
    """env.json's `net`: the paths measured and, for veth, the topology."""
    env = {"paths": list(args.net_list), "netem": args.netem}
    if topology is not None:
        env["veth"] = topology.describe()
        env["veth"]["idle_spread"] = (
            "over every client and server address (loadgen --idle-sources, --idle-destinations)"
            if "--idle-sources" in lg_help
            else f"one source (the kernel's choice) to {topology.server_addresses[0]}: this"
            " loadgen has no --idle-sources"
        )
    return env


def remote_hosts(args, p):
    """(server Host or None, [idle Host]) checked over ssh: reachable without a password, with
    the binaries; None when everything runs here. Raises remote.RemoteError naming the fix."""
    if not args.server_host and not args.idle_host_list:
        return None

    def host(name):
        return remote.Host(name, args.ssh_option, args.ssh_config, args.remote_bin)

    server = host(args.server_host) if args.server_host else None
    idle = [host(h) for h in args.idle_host_list]
    if server:
        server.check([m.binary for m in p.mechs], "run the chat servers")
        cores = remote.to_int(server.facts.get("cpus"))
        if cores is not None and p.server_cpu >= cores:
            raise remote.RemoteError(
                f"{server.name}: has {cores} CPU(s), so the servers cannot be pinned to CPU"
                f" {p.server_cpu}; pass --server-cpu N with N below {cores}"
            )
        say(f"servers on {server.name} ({server.facts.get('uname')}), from {args.remote_bin}")
    for h in idle:
        h.check([os.path.basename(args.loadgen)], "hold idle connections")
        say(f"idle connections held on {h.name} ({h.facts.get('uname')})")
    return server, idle


def hosts_env(hosts, p):
    """env.json's `hosts`: each remote host's kernel, CPUs, limits and preflight checks."""
    if hosts is None:
        return None
    server, idle = hosts
    largest = max(p.counts)
    return {
        "server": server.describe(idle=largest) if server else "this machine",
        "idle": (
            [h.describe(idle=-(-largest // len(idle))) for h in idle] if idle else "this machine"
        ),
        "measured_loadgen": "this machine",
    }


# -- the runs ---------------------------------------------------------------------------------


def new_sweep(args, p, out_dir, env, latency_request, topology=None, hosts=None):
    sweep = Sweep(
        args,
        p.mechs,
        p.counts,
        p.modes,
        p.placement,
        p.server_cpu,
        p.loadgen_cpu,
        out_dir,
        env,
        p.states,
        latency_request,
    )
    sweep.loadgen_modes = p.loadgen_modes
    sweep.hostile = p.hostile
    sweep.points_total += p.hostile_runs
    sweep.lg_help = p.lg_help
    sweep.topology = topology
    sweep.server_host, sweep.idle_hosts = hosts or (None, [])
    if "--histogram-out" in p.lg_help:
        os.makedirs(os.path.join(out_dir, "histograms"), exist_ok=True)
        sweep.histograms = True
    interval = series_interval(args)
    if interval and "--series-out" in p.lg_help:
        os.makedirs(os.path.join(out_dir, "series"), exist_ok=True)
        sweep.series_interval = interval
    env["series_interval_s"] = sweep.series_interval
    if any(c > 0 for c in p.counts):
        sweep.kernel = kernel_memory.KernelMeter()
        env["kernel_memory"] = {
            "method": sweep.kernel.method,
            "how": sweep.kernel.describe(),
        }
        say(f"kernel memory per idle connection: {sweep.kernel.describe()}")
    sweep.use_net(sweep.nets[0])
    sweep.est_total = p.est
    return sweep


# Runs whose window is longer than this get a per-interval series even without --interval.
SERIES_WINDOW_S = 10.0


def series_interval(args):
    """Seconds per interval of the runs' series, or None: --interval, else 1 s for --full and
    for windows longer than SERIES_WINDOW_S."""
    if args.interval:
        return args.interval
    if args.preset_name == "full" or args.duration > SERIES_WINDOW_S:
        return 1.0
    return None


def run_sweep(args, sweep, p, env, out_dir):
    """The floors at the start, every count, the floors at the end. Returns EXIT_INTERRUPTED
    after a Ctrl-C or SIGTERM (finished rows kept), else None."""

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        here = (p.placement, p.server_cpu, p.loadgen_cpu)
        # What holding the PM QoS request does to the floor here, measured, not assumed.
        env["idle_states_effect"] = idle_states.measure_effect(
            sweep.latency_request,
            lambda label: idle_states.floor_figures(
                sweep.args.loadgen, p.loadgen_cpu, p.server_cpu, sweep.loadgen_log(), label
            ),
        )
        say("idle states: " + idle_states.effect_summary(env["idle_states_effect"]))
        sweep.floors("start", [here])
        if p.other_placement:
            o_placement, o_server, o_loadgen, _ = plan.placement_cpus(p.other_placement)
            sweep.floors("start", [(o_placement, o_server, o_loadgen)])
        for count in p.counts:
            sweep.sweep_count(count)
        if args.repeats >= rules.MIN_REPEATS_COMPARE:
            env["decide"] = decide.measure_until_decided(sweep, args.decide_budget)
            write_env(out_dir, env)
        # Again at the end: the difference between the two floors is the machine's drift.
        sweep.floors("end", [here])
    except KeyboardInterrupt:
        sweep.abort()
        env.update(
            interrupted=True,
            finished_utc=utc_now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            duration_s=round(time.monotonic() - sweep.start, 1),
        )
        write_env(out_dir, env)
        say(
            f"interrupted: {len(sweep.csv.rows) if sweep.csv else 0} finished runs kept in"
            f" {os.path.join(out_dir, 'runs.csv')}"
        )
        return EXIT_INTERRUPTED
    finally:
        children.kill_all()
        if sweep.kernel:
            sweep.kernel.close()
    sweep.csv.close()
    sweep.servers_log.close()
    env["sweep_s"] = round(time.monotonic() - sweep.start, 1)
    env["rows"] = len(sweep.csv.rows)
    write_env(out_dir, env)
    return None


# -- after the runs ---------------------------------------------------------------------------


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
    print(report if os.path.exists(report) else os.path.join(out_dir, "runs.csv"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
