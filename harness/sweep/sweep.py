"""muxbench's sweep: every server mechanism x idle-connection count x mode x repeat.

For each idle count, one server per mechanism is started and a `loadgen --hold` gives each its
idle connections once; then the repeats run, interleaved across mechanisms (the starting
mechanism rotates each repeat), so that a drift of the machine shows as spread within a
mechanism rather than as a difference between mechanisms. Idle servers sit blocked in their wait
call and cost the server under test nothing but a share of the CPU caches.

Writes results/<UTC time>-<host>/: runs.csv, env.json, servers.jsonl, logs/, and (when the tools
exist) probe.json, micro.json, micro.csv, the plots and report.md. Python standard library only:
plotting is a separate script run afterwards.

The modules: cli.py (options, main), planning.py (the plan on this machine), executor.py (the
runs; floors.py, paths.py and targets.py are parts of it), after_runs.py (micro-benchmarks,
plots, report), env_json.py; this one ties them: run() from the plan to the results folder.
"""

import os
import time

from harness.common import children
from harness.common.clock import utc_now
from harness.common.signals import EXIT_INTERRUPTED, sigterm_as_interrupt
from harness.sweep import curves
from harness.sweep import decide
from harness.sweep import idle_states
from harness.sweep import kernel_memory
from harness.sweep import netns
from harness.sweep import plan
from harness.sweep import remote
from harness.sweep.after_runs import after_runs
from harness.sweep.env_json import hosts_env, initial_env, net_env, write_env
from harness.sweep.executor import Sweep
from harness.sweep.planning import make_plan, say_plan
from harness.sweep.progress import say
from plot import rules


def run(args, argv, latency_request):
    """The sweep of args (cli.parse_args) as planned here: the exit status."""
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
    sigterm_as_interrupt()
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


def new_sweep(args, p, out_dir, env, latency_request, topology=None, hosts=None):
    """The executor, with the outputs this loadgen offers (histograms, series) and the kernel
    memory meter when idle connections are held."""
    sweep = Sweep(args, p, out_dir, env, latency_request, topology, hosts)
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
    sigterm_as_interrupt()
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
        if p.curves:
            curves.CurvePhase(sweep).run()
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
