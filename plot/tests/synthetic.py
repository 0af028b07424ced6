"""A small synthetic results folder with the shapes the literature predicts.

select/poll cost rising linearly with idle connections, epoll flat, select refused past
FD_SETSIZE, an epoll_wait cost growing with ready descriptors. Deterministic (seeded), so
that tests assert verdicts, never timings. Run directly to write one:
    python3 -m plot.tests.synthetic /tmp/synthetic-run      (from the muxbench root)
"""

import csv
import json
import os
import shutil
import random
import subprocess
import sys

from harness.common import runs_csv

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_module(module, *args, timeout=300, env=None):
    """`python -m module args...` from the repository root (the import root), output captured."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


# A sweep's columns before idle_states, bound_by and the relay floor: the loadgen's, then the
# seven of the bench's contract.
LOADGEN_COLUMNS = list(runs_csv.LOADGEN_COLUMNS)
BENCH_COLUMNS = runs_csv.BENCH_COLUMNS[:7]
EXTRA_COLUMNS = ["conns_per_s"]
MICRO_COLUMNS = (
    "benchmark,family,mechanism,watched,ready,repetitions,ns_per_call_median,ns_per_call_min,"
    "ns_per_call_max,ns_per_watched_fd,events_per_call,status,ns_per_call_q25,ns_per_call_q75,"
    "ns_per_call_repeats,sockets"
).split(",")
MICRO_REPETITIONS = 5

IDLE = [0, 100, 500, 1000, 2000, 5000, 10000]
FD_SETSIZE = 1024
SERVER_FDS = 6  # listener, stdio, control connection: what the server holds besides clients
ACTIVE = 2
DURATION = 5.0
FLOOR_P50 = 18.0

# ns of server CPU per idle descriptor per message: what a scan of the set costs per call. The
# reference VM measured ~130-170 ns against an 11 µs message; these keep the same proportion
# (an idle descriptor costs a few thousandths of a message), so that 500 idle connections cost
# more than the message itself, as the shape rule's low end needs (shape_rules.LOW_END_COST_FACTOR).
PER_IDLE_NS = {
    "select": 40.0,
    "select-dynamic": 45.0,
    "poll": 50.0,
    "epoll-lt": 0.0,
    "epoll-et": 0.0,
}
BASE_US = {"select": 6.0, "select-dynamic": 6.2, "poll": 6.0, "epoll-lt": 6.5, "epoll-et": 6.3}


def write(
    folder,
    micro=True,
    probe=True,
    churn=False,
    noise=0.03,
    seed=7,
    select_dynamic=False,
    scan=1.0,
    env=True,
    select_limit=FD_SETSIZE,
    nested_env=False,
    repeats=3,
    poll_bend=False,
    shared_rise=0.0,
):
    """scan scales what each idle descriptor costs select/poll (0 = flat); select_limit moves the
    refusal (a server that watches past FD_SETSIZE, to test the refutation); repeats: repeats of
    every measured point (1 = a --quick run; the floors keep theirs); poll_bend: poll's micro
    call costs 3 × as much per descriptor past 4096 watched while the shared family (the same N
    entries naming 16 sockets) stays linear, the shape the reference VM measured, or rises by
    1 + shared_rise per entry at 16384 entries."""
    os.makedirs(folder, exist_ok=True)
    rng = random.Random(seed)

    # One generator for runs.csv and micro.csv, drawn in this order: the figures a seed gives.
    def jitter(value):
        return value * (1.0 + rng.uniform(-noise, noise))

    mechanisms = ["select", "poll", "epoll-lt", "epoll-et"] + (
        ["select-dynamic"] if select_dynamic else []
    )
    modes = ["pingpong", "flood"] + (["churn"] if churn else [])
    rows = SweepRows()
    for repeat in (1, 2, 3):
        rows.add(**floor_row(jitter, repeat))
    for mode in modes:
        for mech in mechanisms:
            for idle in IDLE:
                for repeat in range(1, repeats + 1):
                    rows.add(
                        **point_row(jitter, mech, mode, idle, scan, select_limit), repeat=repeat
                    )
    write_runs(folder, rows.rows, churn)
    if env:
        with open(os.path.join(folder, "env.json"), "w") as f:
            json.dump(nested_env_fields() if nested_env else ENV_FIELDS, f, indent=2)
    if probe:
        with open(os.path.join(folder, "probe.json"), "w") as f:
            json.dump(PROBE, f)
    if micro:
        write_micro(folder, jitter, scan, poll_bend, shared_rise)
    return folder


class SweepRows:
    """runs.csv rows in order: every column present (empty unless given), run_id 1, 2, …, the
    sweep's defaults, bench_status the status unless given."""

    def __init__(self):
        self.rows = []

    def add(self, **kw):
        base = {c: "" for c in LOADGEN_COLUMNS + BENCH_COLUMNS + EXTRA_COLUMNS}
        base.update(
            run_id=len(self.rows) + 1,
            placement="split",
            server_cpu=1,
            loadgen_cpu=0,
            floor_p50_us=FLOOR_P50,
            active=ACTIVE,
            size=64,
            rate=0,
            warmup_s=1,
            duration_s=DURATION,
            label="synthetic",
        )
        base.update(kw)
        base.setdefault("bench_status", base.get("status", ""))
        if not base["bench_status"]:
            base["bench_status"] = base["status"]
        self.rows.append(base)


def floor_row(jitter, repeat):
    return dict(
        mechanism="floor",
        mode="floor",
        idle=0,
        idle_open=0,
        refused=0,
        active=1,
        repeat=repeat,
        p50_us=jitter(FLOOR_P50),
        p99_us=jitter(FLOOR_P50 * 1.8),
        status="ok",
    )


def point_row(jitter, mech, mode, idle, scan, select_limit):
    """The columns of one repeat of one point: select refused at select_limit, else the figures
    of a server whose CPU per message grows by PER_IDLE_NS[mech] × scan per idle connection."""
    fds = idle + ACTIVE + SERVER_FDS
    if mech == "select" and fds >= select_limit:
        open_ = select_limit - SERVER_FDS - 1
        return dict(
            mechanism=mech,
            mode=mode,
            idle=idle,
            idle_open=open_,
            refused=idle - open_,
            status="refused:FD_SETSIZE",
        )
    per_idle = PER_IDLE_NS[mech] * scan
    cpu = jitter(BASE_US[mech] + per_idle * idle / 1000.0)
    if mode == "flood":
        cpu = jitter(BASE_US[mech] / 6.0 + per_idle * idle / 1000.0 / 4)  # several per wait call
    p50 = jitter(FLOOR_P50 + 2 * cpu)
    tput = 1e6 / p50 * ACTIVE if mode != "flood" else 1e6 / cpu
    msgs = int(tput * DURATION)
    calls = msgs if mode != "flood" else msgs // 4
    extra = churn_columns(jitter, mech, idle) if mode == "churn" else {}
    return dict(
        mechanism=mech,
        mode=mode,
        idle=idle,
        idle_open=idle,
        refused=0,
        msgs=msgs,
        throughput_msgs_s=f"{tput:.1f}",
        p50_us=f"{p50:.2f}",
        p90_us=f"{p50 * 1.3:.2f}",
        p99_us=f"{jitter(p50 * 2):.2f}",
        p999_us=f"{p50 * 3:.2f}",
        max_us=f"{p50 * 5:.2f}",
        mean_us=f"{p50 * 1.1:.2f}",
        lost=0,
        duplicated=0,
        reordered=0,
        corrupted=0,
        server_cpu_us_per_msg=f"{cpu:.3f}",
        loadgen_cpu_pct="40.0",
        status="ok",
        server_wait_calls=calls,
        server_events=int(calls * 1.2),
        server_fds_passed=0 if mech.startswith("epoll") else calls * fds,
        server_ctl_calls=extra.pop("server_ctl_calls", 0),
        server_cpu_us=f"{cpu * msgs:.0f}",
        **extra,
    )


def churn_columns(jitter, mech, idle):
    ctl_per_conn = 2 if mech.startswith("epoll") else 0
    conns = jitter(
        20000.0 / (1 + PER_IDLE_NS[mech] * idle / 20000.0) * (0.9 if ctl_per_conn else 1.0)
    )
    return dict(conns_per_s=f"{conns:.1f}", server_ctl_calls=int(conns * DURATION * ctl_per_conn))


def write_runs(folder, rows, churn):
    """runs.csv of the rows, the last one marked as failed for another reason (a point to be
    counted and marked)."""
    rows[-1]["status"] = rows[-1]["bench_status"] = "server-died"
    for key in ("msgs", "throughput_msgs_s", "p50_us", "p99_us", "server_cpu_us_per_msg"):
        rows[-1][key] = ""
    with open(os.path.join(folder, "runs.csv"), "w", newline="") as f:
        writer = csv.DictWriter(
            f,
            fieldnames=LOADGEN_COLUMNS + BENCH_COLUMNS + (EXTRA_COLUMNS if churn else []),
            extrasaction="ignore",
        )
        writer.writeheader()
        writer.writerows(rows)


ENV_FIELDS = dict(
    kernel="6.1.0-synthetic",
    cpu_model="Synthetic CPU @ 3.0GHz",
    cores=2,
    rlimit_nofile=20000,
    compiler="g++ 12.2.0",
    flags="-O2",
    git_commit="0123456789abcdef",
    command_line="./bench --synthetic",
    placement="split",
    server_cpu=1,
    loadgen_cpu=0,
    hostname="testhost",
    started_utc="2025-01-01T00:00:00Z",
    duration_s=600,
)


def nested_env_fields():
    """env.json in the sweep driver's layout: groups instead of flat keys."""
    return dict(
        started_utc=ENV_FIELDS["started_utc"],
        command_line=["sweep.py", "--synthetic"],
        machine=dict(
            hostname="testhost",
            kernel="Linux 6.1.0-synthetic #1 SMP",
            arch="x86_64",
            cpu_model="Nested Synthetic CPU",
            cores=2,
            rlimit_nofile=dict(soft=20000, hard=20000),
        ),
        build=dict(
            compiler="/usr/bin/c++",
            compiler_version="c++ (Debian 12.2.0-14) 12.2.0",
            build_type="Release",
            cxx_flags="",
            cxx_flags_release="-O3 -DNDEBUG",
        ),
        git=dict(commit="fedcba9876543210", dirty=True),
        placement=dict(placement="split", server_cpu=1, loadgen_cpu=0, note=None),
        repeats=3,
        warmup_s=1,
        duration_s=5,
        sweep_s=321.0,
    )


PROBE = dict(
    fd_setsize=FD_SETSIZE,
    select_lt_reports_again=True,
    poll_lt_reports_again=True,
    epoll_lt_reports_again=True,
    epoll_et_reports_once=True,
    epoll_et_reports_new_data=True,
    select_syscall_accepts_fd_ge_fdsetsize=True,
    select_syscall_fd=1536,
    fd_set_macro_ge_fdsetsize=(
        "killed by SIGABRT: *** bit out of range 0 - FD_SETSIZE on fd_set ***"
    ),
    poll_nfds_at_rlimit_ok=True,
    poll_nfds_over_rlimit_errno="EINVAL",
    epoll_fd_mmap_errno="ENODEV",
    epoll_wait_readonly_buffer_errno="EFAULT",
    io_uring_fd_mmap_ok=True,
    poll_watched_max=19000,
    rlimit_nofile=20000,
    kernel="6.1.0-synthetic",
    io_uring_available=True,
)


def micro_row(jitter, family, mech, watched, ready, ns, status="ok", sockets=""):
    """One micro.csv row: MICRO_REPETITIONS jittered repetitions of ns (none when ns is None)."""
    reps = sorted(jitter(ns) for _ in range(MICRO_REPETITIONS)) if ns else []
    med = reps[len(reps) // 2] if ns else ""
    return dict(
        benchmark=f"BM_{family}/{mech}/{watched}/{ready}/{sockets}",
        family=family,
        mechanism=mech,
        watched=watched,
        ready=ready,
        repetitions=MICRO_REPETITIONS if ns else 0,
        ns_per_call_median=f"{med:.1f}" if ns else "",
        ns_per_call_min=f"{reps[0]:.1f}" if ns else "",
        ns_per_call_max=f"{reps[-1]:.1f}" if ns else "",
        ns_per_watched_fd=f"{med / watched:.3f}" if ns else "",
        events_per_call=ready if ns else "",
        status=status,
        ns_per_call_q25=f"{reps[1]:.1f}" if ns else "",
        ns_per_call_q75=f"{reps[-2]:.1f}" if ns else "",
        ns_per_call_repeats=";".join(f"{v:.1f}" for v in reps),
        sockets=sockets,
    )


def write_micro(folder, jitter, scan, poll_bend, shared_rise):
    mrows = []

    def m(*args, **kw):
        mrows.append(micro_row(jitter, *args, **kw))

    def bend(watched):
        return 8.0 * scan * max(0, watched - 4096) if poll_bend else 0.0

    for watched in (8, 64, 512, 1000, 4096, 16384):
        if watched < FD_SETSIZE:
            m("wait", "select", watched, 1, 250 + 3.0 * scan * watched)
            m("build", "select", watched, 1, 20 + 0.05 * scan * watched)
        else:
            m("wait", "select", watched, 1, None, "descriptor beyond FD_SETSIZE")
        m("wait", "poll", watched, 1, 200 + 4.0 * scan * watched + bend(watched))
        if poll_bend:
            per_entry = 4.0 * scan * (1 + shared_rise * watched / 16384)
            m("shared", "poll", watched, 1, 200 + per_entry * watched, sockets=16)
        m("wait", "epoll-lt", watched, 1, 320)
        m("wait", "epoll-et", watched, 1, 310)
        for op, ns in (("add", 700), ("mod", 450), ("del", 550)):
            m("ctl", f"epoll-ctl-{op}", watched, 0, ns)
    for ready in (1, 4, 16, 64, 256, 1024):
        m("ready", "epoll-lt", 1024, ready, 320 + 45.0 * ready)
        m("ready", "epoll-et", 1024, ready, 310 + 44.0 * ready)
    with open(os.path.join(folder, "micro.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=MICRO_COLUMNS)
        writer.writeheader()
        writer.writerows(mrows)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: synthetic.py FOLDER")
    print(write(sys.argv[1], churn=True, select_dynamic=True))


# ---- runs with idle-states control, bound_by and relay floors (appended helpers)
# ------------------

NEW_COLUMNS = [
    "idle_states",
    "bound_by",
    "server_capacity_msgs_s",
    "relay_floor_p50_us",
    "server_started_utc",
    "window_chosen",
]
RELAY_FLOOR_P50 = 30.0


def write_new(
    folder,
    states=("block", "allow"),
    drift=1.0,
    spread=None,
    held=True,
    allow_factor=2.5,
    flood_bound="server",
    idle_effect=None,
    **kw,
):
    """write(), then what a sweep with idle-states control adds: every measured row once per
    idle_states value (allow: latency and server CPU x allow_factor), bound_by (pingpong and churn
    latency-bound; flood flood_bound, but epoll-et at 0 idle loadgen-bound), server_capacity_msgs_s,
    relay_floor_p50_us, server_started_utc, window_chosen; floors and relay floors at the start and
    the end per setting (end = start x drift); env.json's idle_states and confounders.
    spread=(mechanism, mode, idle): that point's third blocked repeat gets twice its headline
    figure. idle_effect: env.json's idle_states_effect, as the sweep writes it (absent: none).
    """
    write(folder, **kw)
    path = os.path.join(folder, "runs.csv")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        header = list(reader.fieldnames)
        old = list(reader)
    columns = header + NEW_COLUMNS
    measured = [r for r in old if r["mechanism"] != "floor"]
    scales = {state: 1.0 if state == "block" else allow_factor for state in states}
    rows = []
    for state in states:
        rows += floor_rows(columns, state, "start", 1, scales[state], drift)
    for state in states:
        for src in measured:
            rows.append(idle_states_row(columns, src, state, scales[state], spread, flood_bound))
    for state in states:
        rows += floor_rows(columns, state, "end", 2, scales[state], drift)
    write_renumbered(path, columns, rows)
    env_path = os.path.join(folder, "env.json")
    if os.path.isfile(env_path):
        with open(env_path) as f:
            env = json.load(f)
        env.update(idle_states_env(states, held, idle_effect))
        with open(env_path, "w") as f:
            json.dump(env, f, indent=2)
    return folder


def floor_rows(columns, state, when, repeat, scale, drift):
    """The floor and the relay floor of one idle-states setting at the start or the end."""
    rows = []
    for kind, prefix, p50 in (
        ("floor", "floor", FLOOR_P50),
        ("relay-floor", "relay", RELAY_FLOOR_P50),
    ):
        value = p50 * scale * (drift if when == "end" else 1.0)
        r = {c: "" for c in columns}
        r.update(
            mechanism="floor",
            mode=kind,
            idle=0,
            idle_open=0,
            refused=0,
            active=2,
            size=64,
            rate=0,
            repeat=repeat,
            placement="split",
            server_cpu=1,
            loadgen_cpu=0,
            p50_us=f"{value:.2f}",
            p99_us=f"{value * 1.8:.2f}",
            status="ok",
            bench_status="ok",
            label=f"{prefix}-{when}",
            idle_states=state,
            floor_p50_us=f"{FLOOR_P50 * scale:.2f}",
        )
        rows.append(r)
    return rows


def idle_states_row(columns, src, state, scale, spread, flood_bound):
    """A measured row of write() as measured under one idle-states setting (see write_new)."""
    r = {c: "" for c in columns}
    r.update(src)
    r["idle_states"] = state
    r["floor_p50_us"] = f"{FLOOR_P50 * scale:.2f}"
    r["server_started_utc"] = "2025-01-01T00:00:01.000000Z"
    mode = r["mode"]
    if r["status"] == "ok":
        for key in ("p50_us", "p90_us", "p99_us", "server_cpu_us_per_msg"):
            if number_or_none(r.get(key)) is not None:
                r[key] = f"{float(r[key]) * scale:.3f}"
        if (
            spread
            and state == "block"
            and (r["mechanism"], mode, int(r["idle"])) == spread
            and int(r["repeat"]) == 3
        ):
            key = {"pingpong": "p50_us", "churn": "conns_per_s"}.get(mode, "throughput_msgs_s")
            r[key] = f"{float(r[key]) * 2:.3f}"
        cpu = number_or_none(r.get("server_cpu_us_per_msg"))
        r["server_capacity_msgs_s"] = f"{1e6 / cpu:.1f}" if cpu else ""
        if mode == "flood":
            r["bound_by"] = (
                "loadgen" if (r["mechanism"] == "epoll-et" and r["idle"] == "0") else flood_bound
            )
        else:
            r["bound_by"] = "latency"
    if mode == "pingpong":
        r["relay_floor_p50_us"] = f"{RELAY_FLOOR_P50 * scale:.2f}"
    if mode == "flood":
        r["window_chosen"] = 16
    return r


def idle_states_env(states, held, idle_effect):
    """env.json's keys a sweep with idle-states control adds: idle_states, idle_states_effect
    (when given) and confounders."""
    env = {}
    env["idle_states"] = {
        "requested": list(states) if held else ["block"],
        "held": held and "block" in states,
        "why_not": (
            None if held else "cannot open /dev/cpu_dma_latency (Permission denied); run as root"
        ),
        "cpuidle": {
            "driver": "haltpoll",
            "governor": "haltpoll",
            "states": [
                {"name": "POLL", "latency_us": 0, "residency_us": 0, "disabled": False},
                {"name": "haltpoll", "latency_us": 1, "residency_us": 1, "disabled": False},
            ],
        },
    }
    if idle_effect is not None:
        env["idle_states_effect"] = idle_effect
    env["confounders"] = {
        "vulnerabilities": {
            "meltdown": "Not affected",
            "spectre_v1": "Mitigation: usercopy/swapgs barriers",
            "spectre_v2": "Mitigation: Enhanced / Automatic IBRS; IBPB: conditional",
            "mds": "Vulnerable: Clear CPU buffers attempted, no microcode",
        },
        "cpufreq_governor": None,
        "thp": "always [madvise] never",
        "clocksource": "tsc",
        "isolation": {"isolcpus": None, "nohz_full": None},
        "virtualization": "kvm",
    }
    return env


def write_renumbered(path, columns, rows):
    """Writes rows to the runs.csv at path with run_id numbered 1, 2, … in their order."""
    for i, r in enumerate(rows, 1):
        r["run_id"] = i
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def rewrite(folder, edit):
    """Rewrites folder/runs.csv through edit(row): edit may change the row in place; the row is
    dropped when edit returns False (None, the result of an edit that returns nothing, keeps it).
    """
    path = os.path.join(folder, "runs.csv")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        columns, rows = reader.fieldnames, [r for r in reader if edit(r) is not False]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def number_or_none(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def without_new_columns(src, dst):
    """A copy of a results folder as a sweep from before idle_states, bound_by and the relay floor
    wrote it: those columns, the relay-floor rows and the new env.json keys removed."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.png", "*.svg", "logs"))
    new = {
        "idle_states",
        "bound_by",
        "server_capacity_msgs_s",
        "relay_floor_p50_us",
        "server_started_utc",
        "window_chosen",
    }
    with open(os.path.join(dst, "runs.csv"), newline="") as f:
        reader = csv.DictReader(f)
        columns = [c for c in reader.fieldnames if c not in new]
        rows = [r for r in reader if r["mode"] != "relay-floor"]
    with open(os.path.join(dst, "runs.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    with open(os.path.join(dst, "env.json")) as f:
        env = json.load(f)
    for key in ("idle_states", "confounders"):
        env.pop(key, None)
    with open(os.path.join(dst, "env.json"), "w") as f:
        json.dump(env, f)
    return dst
