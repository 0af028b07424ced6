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


# ---- the scale columns of issue 11: kernel bytes per idle connection and idle_open_s
# ------------------

SCALE_COLUMNS = [
    "idle_open_s",
    "series_file",
    "kernel_bytes_per_idle_server",
    "kernel_bytes_per_idle_holders",
    "kernel_bytes_per_idle_both",
    "kernel_bytes_method",
]


def with_scale_columns(folder, server=None, holders=None, both=7000.0, open_per_conn_s=5e-5):
    """Adds the kernel-memory columns (the same bytes at every idle count; server/holders None:
    a machine that cannot tell the sides apart) and idle_open_s (open_per_conn_s per connection)
    to every measured row of folder/runs.csv with idle > 0."""
    path = os.path.join(folder, "runs.csv")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        columns = list(reader.fieldnames) + [c for c in SCALE_COLUMNS if c not in reader.fieldnames]
        rows = list(reader)
    sides = server is not None and holders is not None
    for r in rows:
        idle = int(float(r.get("idle") or 0))
        if r.get("mechanism") == "floor" or idle == 0:
            continue
        r["idle_open_s"] = idle * open_per_conn_s
        r["kernel_bytes_per_idle_server"] = server if sides else ""
        r["kernel_bytes_per_idle_holders"] = holders if sides else ""
        r["kernel_bytes_per_idle_both"] = both
        r["kernel_bytes_method"] = "cgroup" if sides else "global: synthetic, no cgroup v2"
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return folder


HOSTILE_COLUMNS = runs_csv.HOSTILE_COLUMNS


def with_hostile_rows(
    folder, p50_factor=1.2, p99_factor=1.5, cpu_factor=1.3, lost=None, cut=None, k=12
):
    """Adds the sweep's hostile phase to folder/runs.csv: after every ok 0-idle pingpong row, the
    same point again with k hostile clients, p50, p99 and server CPU per message multiplied by the
    factors; the counters
    are 10 k connections, 1 refused, k dropped, 0 errors. lost: mechanism -> honest messages lost
    in its repeat 1; cut: a mechanism whose repeat 2 the server cut off
    (error:dropped-by-server)."""
    path = os.path.join(folder, "runs.csv")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        columns = list(reader.fieldnames) + [
            c for c in HOSTILE_COLUMNS if c not in reader.fieldnames
        ]
        rows = list(reader)
    out = []
    for r in rows:
        out.append(r)
        if not (r["mode"] == "pingpong" and r["idle"] == "0" and r["mechanism"] != "floor"):
            continue
        if r["status"] != "ok":
            continue
        h = dict(r)
        h.update(
            hostile=k,
            hostile_kinds="slowloris+never-read+reset-mid-line+vanish+overlong+storm",
            hostile_connects=10 * k,
            hostile_refused=1,
            hostile_dropped=k,
            hostile_errors=0,
            p50_us=f"{float(r['p50_us']) * p50_factor:.3f}",
            p99_us=f"{float(r['p99_us']) * p99_factor:.3f}",
            server_cpu_us_per_msg=f"{float(r['server_cpu_us_per_msg']) * cpu_factor:.3f}",
            lost=(lost or {}).get(r["mechanism"], 0) if r["repeat"] == "1" else 0,
        )
        if cut == r["mechanism"] and r["repeat"] == "2":
            h.update(status="error:dropped-by-server", bench_status="error:dropped-by-server")
        out.append(h)
    write_renumbered(path, columns, out)
    return folder


# ---- costs that grow with idle connections (plot/idle_growth.py) -----------------------------

# Idle connections at which a leaky close has doubled a connection's cost.
LEAKY_CLOSE_IDLE = 1500.0


def with_regimes_and_leaky_close(
    folder, actives=(2, 4, 8, 16), leaky="uring-completion", noise=0.03, seed=11
):
    """Rewrites folder/runs.csv (written by write(churn=True)): every measured row once per active
    count in actives (the regimes CostRatio takes as its points), each copy's figures jittered by
    ±noise, the failed row of write() failed in the first regime only; and a mechanism `leaky`, a
    copy of epoll-lt whose churn pays a close that grows in proportion to the idle connections
    (connections per second ÷ (1 + idle / LEAKY_CLOSE_IDLE), server CPU per connection × the same
    factor); its other modes stay flat."""
    path = os.path.join(folder, "runs.csv")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        columns = list(reader.fieldnames)
        rows = list(reader)
    rng = random.Random(seed)
    out = [r for r in rows if r["mechanism"] == "floor"]
    measured = [r for r in rows if r["mechanism"] != "floor"]
    measured += [leaky_copy(r, leaky) for r in measured if r["mechanism"] == "epoll-lt"]
    for i, active in enumerate(actives):
        for r in measured:
            if i and r["status"] == "server-died":
                r = dict(same_point(measured, r, repeat="2"), repeat=r["repeat"])
            copy = dict(r, active=active)
            for key in ("p50_us", "throughput_msgs_s", "conns_per_s", "server_cpu_us_per_msg"):
                if i and number_or_none(copy.get(key)) is not None:
                    copy[key] = f"{float(copy[key]) * (1 + rng.uniform(-noise, noise)):.3f}"
            out.append(copy)
    write_renumbered(path, columns, out)
    return folder


def same_point(rows, row, repeat):
    keys = ("mechanism", "mode", "idle")
    return next(r for r in rows if all(r[k] == row[k] for k in keys) and r["repeat"] == repeat)


def leaky_copy(row, name):
    r = dict(row, mechanism=name)
    if r["mode"] != "churn" or r["status"] != "ok":
        return r
    factor = 1.0 + int(r["idle"]) / LEAKY_CLOSE_IDLE
    r["conns_per_s"] = f"{float(r['conns_per_s']) / factor:.1f}"
    r["server_cpu_us_per_msg"] = f"{float(r['server_cpu_us_per_msg']) * factor:.3f}"
    return r


# ---- peers: the library and Python mechanisms beside ours (plot/peers_section.py) ------------

# The registry's group of every peer (servers/MechanismRegistry.cpp), and which refuse
# descriptors past FD_SETSIZE.
PEER_GROUPS = {
    "libevent-select": "libraries",
    "libevent-poll": "libraries",
    "libevent-epoll": "libraries",
    "libuv": "libraries",
    "py-select": "python",
    "py-poll": "python",
    "py-epoll": "python",
}
REFUSES_FD_SETSIZE = ["select", "libevent-select", "py-select"]
# What a peer costs against our backend when a test does not say: the libraries a little dearer,
# the interpreter a lot.
PEER_FACTOR = {"libraries": 1.15, "python": 3.0}


def peer_listing(names=("select", "poll", "epoll-lt", "epoll-et")):
    """A --list-mechanisms JSON text with our mechanisms and every peer, their groups and
    refuses_past_fd_setsize, as the built servers print it."""
    table = [
        {
            "name": n,
            "group": PEER_GROUPS.get(n, "ours"),
            "cost_independent_of_idle": "epoll" in n or n == "libuv",
            "refuses_past_fd_setsize": n in REFUSES_FD_SETSIZE,
        }
        for n in list(names) + list(PEER_GROUPS)
    ]
    return json.dumps(table)


def with_peers(folder, factors=None, only=None, noise=0.03, seed=13):
    """Adds to folder/runs.csv (written by write()) every peer of plot/peers.py as a copy of our
    backend's rows: server CPU per message and p50 of each ok row × its factor (PEER_FACTOR of its
    group, or factors[peer]: a number, or {idle: number} for the idle counts it names, the group's
    elsewhere), each copy jittered by ±noise of its own; refusals copied as they are. only: the
    peers to add (default every one)."""
    from plot import peers

    rng = random.Random(seed)
    factors = factors or {}
    path = os.path.join(folder, "runs.csv")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        columns, rows = reader.fieldnames, list(reader)
    added = []
    for ours, peer in peers.pairs():
        if only is not None and peer not in only:
            continue
        default = PEER_FACTOR[PEER_GROUPS[peer]]
        wanted = factors.get(peer, default)
        for r in [r for r in rows if r["mechanism"] == ours]:
            copy = dict(r, mechanism=peer)
            factor = wanted.get(int(r["idle"]), default) if isinstance(wanted, dict) else wanted
            if r["status"] == "ok":
                for key in ("server_cpu_us_per_msg", "p50_us"):
                    value = float(r[key]) * factor * (1 + rng.uniform(-noise, noise))
                    copy[key] = f"{value:.3f}"
            added.append(copy)
    rows += added
    write_renumbered(path, columns, rows)
    return folder


def peer_registry():
    """The registry as plot/idle_growth.read_registry reads peer_listing()."""
    from plot import idle_growth

    return idle_growth.Registry(
        flat=["epoll-lt", "epoll-et", "libevent-epoll", "libuv", "py-epoll"],
        source="synthetic registry",
        groups={**{m: "ours" for m in PER_IDLE_NS}, **PEER_GROUPS},
        refuses_fd_setsize=list(REFUSES_FD_SETSIZE),
    )


# ---- offered-load curves and capacities (plot/curves.py, claim 12) ---------------------------

CURVE_LOW_P99 = 80.0  # µs: p99 = CURVE_LOW_P99 / (1 - load) below capacity, a single queue's
CURVE_SLO = 1000.0
# The bisection's last gap: a repeat's capacity lies between a passing rate and one 7 % above it.
CURVE_RESOLUTION = 1.07


def failing_steps(lowest):
    """A point whose capacity lies below every rate measured: `lowest` and two curve steps above
    it, each failing the objective (p99 3 × the objective), the loadgen idle."""
    return [
        dict(
            label="curve",
            rate=f"{rate:.1f}",
            throughput_msgs_s=f"{rate:.1f}",
            p50_us=f"{CURVE_SLO:.1f}",
            p99_us=f"{3 * CURVE_SLO:.1f}",
            lost=0,
            loadgen_cpu_pct=20.0,
        )
        for rate in (lowest, lowest * 10**0.25, lowest * 10**0.5)
    ]


def curve_steps(capacity, repeat, busy_loadgen=False):
    """The rate rows one repeat of the sweep's search would leave for a point whose true capacity
    at the objective is `capacity` msg/s: on repeat 1 the curve (rates ×1.78 from 5 % of it until
    one fails), on every repeat the pass at `capacity` and the failure just above it. A failure
    with busy_loadgen is one the loadgen bound (≥ 90 % of a CPU). capacity ("below", R): even the
    lowest rate measured, R, failed (failing_steps)."""
    if isinstance(capacity, tuple):
        return failing_steps(capacity[1])
    # The server's own capacity: at 90 % of it p99 is 800 µs, within the objective.
    server = capacity / 0.9
    rates = []
    if repeat == 1:
        rate = capacity * 0.05
        while rate <= capacity:
            rates.append(("curve", rate))
            rate *= 10**0.25
        rates.append(("curve", rate))
    rates += [("capacity", capacity), ("capacity", capacity * CURVE_RESOLUTION)]
    out = []
    for label, rate in rates:
        load = rate / server
        passes = rate <= capacity * 1.0001
        p99 = CURVE_LOW_P99 / (1 - load) if passes else CURVE_SLO * 1.5 + 1000 * (load - 0.9)
        out.append(
            dict(
                label=label,
                rate=f"{rate:.1f}",
                throughput_msgs_s=f"{min(rate, server):.1f}",
                p50_us=f"{p99 / 3:.1f}",
                p99_us=f"{p99:.1f}",
                lost=0,
                loadgen_cpu_pct=95.0 if busy_loadgen and not passes else 20.0,
            )
        )
    return out


def with_curve_rows(folder, capacities, busy_loadgen=(), slo=CURVE_SLO, loadgen=None):
    """Adds the sweep's offered-load phase to folder/runs.csv and env.json. capacities:
    {(mechanism, idle): [true capacity of repeat 1, 2, …]}; busy_loadgen: the (mechanism, idle)
    points whose failing rates the loadgen bound; loadgen: env.json's loadgen_capacity."""
    path = os.path.join(folder, "runs.csv")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        columns, rows = list(reader.fieldnames), list(reader)
    for (mech, idle), values in capacities.items():
        for repeat, capacity in enumerate(values, 1):
            for step in curve_steps(capacity, repeat, (mech, idle) in busy_loadgen):
                row = {c: "" for c in columns}
                row.update(
                    step,
                    mechanism=mech,
                    mode="rate",
                    idle=idle,
                    repeat=repeat,
                    active=ACTIVE,
                    status="ok",
                    bench_status="ok",
                    placement="split",
                )
                rows.append(row)
    for i, r in enumerate(rows, 1):
        r["run_id"] = i
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    env_path = os.path.join(folder, "env.json")
    env = {}
    if os.path.exists(env_path):
        with open(env_path) as f:
            env = json.load(f)
    env["curves"] = {"slo_p99_us": slo, "arrival": "poisson", "repeats": 3}
    if loadgen is not None:
        env["loadgen_capacity"] = loadgen
    with open(env_path, "w") as f:
        json.dump(env, f)
    return folder
