"""env.json: the machine, the build, the plan and the paths of a sweep, written before the first
run and rewritten (through a rename) as the sweep learns more."""

import json
import os
import sys

from harness.common import environment
from harness.sweep import idle_states
from harness.sweep import plan


def write_env(out_dir, env):
    tmp = os.path.join(out_dir, "env.json.tmp")
    with open(tmp, "w") as f:
        json.dump(env, f, indent=2, default=str)
        f.write("\n")
    os.replace(tmp, os.path.join(out_dir, "env.json"))


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
