"""The sweep's command line: its options, their defaults (the presets of plan.py), and the checks
that turn nonsense into a usage error before anything runs. main() is the entry point."""

import argparse
import os
import sys

from harness.common import preflight
from harness.common.plotting_python import plotting_python
from harness.sweep import idle_states
from harness.sweep import netns
from harness.sweep import plan
from harness.sweep import sweep
from plot import rules


def main(argv=None):
    """`python3 -m harness.sweep [options]` (what ./bench runs): the exit status."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.preflight:
        return preflight.main(args.max_idle)
    # The PM QoS request lives exactly as long as the sweep: released here on every return and
    # exception, and by the kernel when the process dies any other way.
    latency_request = idle_states.LatencyRequest()
    try:
        return sweep.run(args, argv, latency_request)
    finally:
        latency_request.allow()


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
            "Presets: default = counts 0,500,1000,5000,max, 3 repeats, "
            "0.15 s warm-up + 0.5 s window (about 5 min on 2 cores with the extra rounds for "
            "undecided claims, --decide-budget 25); --quick = counts 100,2000, 1 "
            "repeat, 0.1 + 0.3 s (< 1 min); --full = 14 counts, 5 repeats, 0.3 + 1 s, plus "
            "broadcast and churn modes when loadgen offers them, and --curves. Explicit "
            "options override the preset. Ctrl-C stops cleanly: finished runs stay in runs.csv "
            "(exit 130)."
        ),
    )
    add_run_options(p)
    add_load_options(p)
    add_extra_options(p)
    add_machine_options(p)
    add_output_options(p)
    add_tool_options(p)
    add_host_options(p)
    return p


def add_run_options(p):
    """What runs: the preset, mechanisms, counts, repeats, the decide budget, modes and windows."""
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
            " within this many seconds (default: 25 for the default sweep, 0 for --quick, 600 for"
            " --full; 0 = none)"
        ),
    )
    p.add_argument(
        "--modes", metavar="LIST", help="comma-separated loadgen modes (default pingpong,flood)"
    )
    add_curve_options(p)
    p.add_argument("--warmup", type=float, metavar="S", help="warm-up seconds per run")
    p.add_argument("--duration", type=float, metavar="S", help="measuring window per run, seconds")


def add_curve_options(p):
    """The offered-load phase (harness/sweep/curves.py)."""
    p.add_argument(
        "--curves",
        action="store_true",
        help=(
            "after the sweep's runs, per mechanism and idle count an offered-load curve (loadgen"
            " --mode rate at rates up past the point's capacity) and the capacity at the latency"
            " objective, by bisection over fresh instances (on with --full)"
        ),
    )
    p.add_argument(
        "--curve-mechanisms",
        metavar="LIST",
        help=(
            "the offered-load phase for these of the swept mechanisms only (comma-separated;"
            " implies --curves; default: every one)"
        ),
    )
    p.add_argument(
        "--curve-counts",
        metavar="LIST",
        help=(
            "the offered-load phase at these of the swept idle counts only (comma-separated;"
            " 'max' is the largest swept; implies --curves; default: every one)"
        ),
    )
    p.add_argument(
        "--slo-p99",
        type=float,
        default=rules.DEFAULT_SLO_P99_US,
        metavar="US",
        help="the latency objective of --curves: p99 <= US microseconds (default %(default)g)",
    )
    p.add_argument(
        "--arrival",
        choices=["poisson", "fixed"],
        default="poisson",
        help="the schedule of --curves' open-loop sends (loadgen --arrival; default %(default)s)",
    )


def resolve_curve_args(p, args, preset):
    """--curves and what narrows or sets it (--curve-mechanisms, --curve-counts, --slo-p99)."""
    try:
        args.curve_count_list = plan.parse_counts(args.curve_counts) if args.curve_counts else None
    except ValueError as e:
        p.error(f"--curve-counts: {e}")
    args.curve_mechanism_list = (
        [m.strip() for m in args.curve_mechanisms.split(",") if m.strip()]
        if args.curve_mechanisms
        else None
    )
    args.curves = bool(
        args.curves or preset.curves or args.curve_count_list or args.curve_mechanism_list
    )
    if args.slo_p99 <= 0:
        p.error("--slo-p99 must be > 0 microseconds")


def add_load_options(p):
    """What each measured run offers the server: connections, sizes, windows, series, the
    hostile phase, and anything else for the loadgen."""
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


def add_extra_options(p):
    """The hostile phase, the preflight check instead of a sweep, raw loadgen arguments."""
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
    try:
        args.count_list = plan.parse_counts(args.counts) if args.counts else list(preset.counts)
    except ValueError as e:
        p.error(str(e))
    args.repeats = args.repeats if args.repeats is not None else preset.repeats
    resolve_curve_args(p, args, preset)
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
