"""env.json as the report reads it: flat keys (`normalize_env`) and the machine in one line
(`machine_caption`)."""


def normalize_env(raw):
    """env.json as flat keys (kernel, cpu_model, ... as the contract lists them).

    The sweep may write them flat or grouped (machine / build / git / placement objects); both
    are read, flat keys winning, so the report does not depend on the driver's layout."""
    env = {}
    groups = {
        "machine": [
            "kernel",
            "cpu_model",
            "cores",
            "rlimit_nofile",
            "hostname",
            "arch",
            "cpu_governor",
            "virtualization",
        ],
        "build": ["build_type"],
        "placement": ["placement", "server_cpu", "loadgen_cpu"],
    }
    for group, keys in groups.items():
        inner = raw.get(group)
        if isinstance(inner, dict):
            for key in keys:
                if inner.get(key) not in (None, ""):
                    env[key] = inner[key]
    build = raw.get("build") if isinstance(raw.get("build"), dict) else {}
    compiler = build.get("compiler_version") or build.get("compiler")
    if compiler:
        env["compiler"] = compiler
    flags = " ".join(str(build.get(k)) for k in ("cxx_flags", "cxx_flags_release") if build.get(k))
    if flags:
        env["flags"] = flags
    git = raw.get("git") if isinstance(raw.get("git"), dict) else {}
    if git.get("commit"):
        env["git_commit"] = str(git["commit"]) + (
            " (with uncommitted changes)" if git.get("dirty") else ""
        )
    for key, value in raw.items():
        if not isinstance(value, (dict, list)) or key == "command_line":
            env[key] = value
    limit = env.get("rlimit_nofile")
    if isinstance(limit, dict):
        env["rlimit_nofile"] = f"soft {limit.get('soft')}, hard {limit.get('hard')}"
    if isinstance(env.get("command_line"), list):
        env["command_line"] = " ".join(str(c) for c in env["command_line"])
    # The sweep driver's duration_s is the measuring window until the sweep ends; its total is
    # sweep_s. A flat env.json (the contract's layout) means the whole sweep by duration_s.
    if "sweep_s" in raw:
        env["sweep_duration_s"] = env.pop("sweep_s")
    elif "machine" not in raw and "duration_s" in raw:
        env["sweep_duration_s"] = env.pop("duration_s")
    return env


def machine_caption(env):
    """The machine, its placement, host, start and commit in one line (a plot's caption)."""
    cpu = env.get("cpu_model") or "unknown CPU"
    cores = env.get("cores")
    kernel = env.get("kernel") or "unknown kernel"
    parts = [
        f"{cpu}" + (f" ({cores} cores)" if cores else ""),
        f"Linux {kernel}" if not str(kernel).lower().startswith("linux") else kernel,
    ]
    placement = env.get("placement")
    if placement:
        pin = f"placement {placement}"
        if env.get("server_cpu") is not None and env.get("loadgen_cpu") is not None:
            pin += f" (server CPU {env.get('server_cpu')}, loadgen CPU {env.get('loadgen_cpu')})"
        parts.append(pin)
    if env.get("hostname"):
        parts.append(f"host {env.get('hostname')}")
    if env.get("started_utc"):
        parts.append(str(env.get("started_utc")))
    if env.get("git_commit"):
        parts.append(f"commit {str(env.get('git_commit'))[:10]}")
    return " · ".join(parts)
