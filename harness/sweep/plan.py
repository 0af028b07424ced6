"""What a sweep will run: presets, idle counts, CPU placement, and how long it should take."""

import os
import resource
from dataclasses import dataclass, field

from harness.common import preflight

# select(2)'s bitmap size on Linux/glibc. Only used to predict (for the time estimate) which
# points select will refuse; the refusals themselves are measured, never assumed.
FD_SETSIZE = 1024

# Descriptors a server needs besides the idle connections (stated in harness/common/preflight.py,
# which checks a machine's limits against them).
SERVER_FD_MARGIN = preflight.SERVER_FD_MARGIN

# Runs of each floor at the start and at the end of a sweep (their median is the floor).
FLOOR_REPEATS = 3

# Default ceiling on the largest idle count when the open-file limit is huge (1M is common):
# beyond this the hold set-up time and socket memory grow without teaching anything new.
DEFAULT_MAX_IDLE = 50000


@dataclass(frozen=True)
class Preset:
    counts: list  # "max" = the largest the open-file limit allows
    repeats: int
    warmup_s: float
    duration_s: float
    modes: list
    micro_quick: bool
    optional_modes: list = field(default_factory=list)  # added when `loadgen --help` lists them
    # Modes run at a few idle counts only ("max" allowed), when `loadgen --help` lists them.
    sparse_modes: dict = field(default_factory=dict)
    # Seconds of extra rounds for claims still undecided after the planned repeats
    # (harness/sweep/decide.py); --decide-budget overrides it.
    decide_budget_s: float = 0.0
    # The offered-load phase (curves and capacity at the latency objective, harness/sweep/
    # curves.py); --curves turns it on for any preset.
    curves: bool = False
    # Extra mux-micro flags (harness/micro/MicroMain.cpp).
    micro_args: tuple = ()


PRESETS = {
    # 7 mechanisms x 5 counts x 2 modes x 3 repeats (select past FD_SETSIZE runs once per mode),
    # churn at 0 and max, the hostile phase, the quick micro-benchmarks and the extra rounds: about
    # 5 min on 2 cores (estimated 270 s before the rounds). Eight counts (0, 100, 500, 1000, 2000,
    # 5000, 10000, max) took 7-8 min there. They were kept for rerun agreement near the margin;
    # with the spread between sittings in every interval (rules.SITTING_LOG_SD) the sitting, not
    # the count of points, sets it (plot/tests/test_rules_rerun.py prints both shapes).
    # Five counts still give select two counts below FD_SETSIZE where its cost per message is
    # at least twice the one at 0, which claim 2's per-descriptor shape needs (with 100 instead
    # of 500 it had one: "too few points for a shape"), and poll four counts from 500 to the
    # largest for claim 4's; --full has 14.
    # Connection churn (claim 10: what epoll_ctl costs when connections come and go) at 0 idle
    # (claim 10 compares poll and epoll there) and at the largest count (the report's costs that
    # grow with idle connections compare the two).
    "default": Preset(
        [0, 500, 1000, 5000, "max"],
        3,
        0.15,
        0.5,
        ["pingpong", "flood"],
        True,
        sparse_modes={"churn": [0, "max"]},
        # Room for one extra round of claim 7 (ET and LT at 5 counts, about 17 s) or three of the
        # smaller comparisons (claim 8 and claim 10's churn, about 10 s each) within 5 min. A
        # comparison only the sitting keeps open gets none (CostRatio.decidable).
        decide_budget_s=25.0,
    ),
    # One count on each side of FD_SETSIZE, one repeat: < 1 min with the micro-benchmarks.
    # The shape family's 9 repetitions (how a bimodal count shows as spread) are a default-run
    # matter: with 3, mux-micro --quick takes 29 s instead of 35 and the whole --quick run fits
    # its minute (64 s with 9, 2026-12-07).
    "quick": Preset(
        [100, 2000],
        1,
        0.1,
        0.3,
        ["pingpong", "flood"],
        True,
        micro_args=("--shape-repetitions=3",),
    ),
    "full": Preset(
        [0, 100, 250, 500, 750, 1000, 1500, 2000, 3000, 5000, 7500, 10000, 15000, "max"],
        5,
        0.3,
        1.0,
        ["pingpong", "flood"],
        False,
        optional_modes=["broadcast", "churn"],
        decide_budget_s=600.0,
        curves=True,
    ),
}


def raise_fd_limit():
    """Raises the soft RLIMIT_NOFILE to the hard one (children inherit it). Returns (soft, hard)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard
    if hard == resource.RLIM_INFINITY:
        # An unlimited hard limit still stops at fs.nr_open for a process's table.
        try:
            with open("/proc/sys/fs/nr_open") as f:
                target = int(f.read())
        except (OSError, ValueError):
            target = soft
    if target != soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)


@dataclass(frozen=True)
class Variant:
    """What else a point runs with besides mechanism, mode and idle count: the active connections,
    the message size, the hostile clients beside them, and for an open-loop run (mode rate) its
    offered msg/s and what it is for, its runs.csv label (None: the loadgen's default)."""

    active: int = None
    size: int = None
    hostile: int = None
    rate: int = None
    tag: str = None
    # The measuring window when it is not the sweep's --duration (an open-loop rate run at a low
    # rate needs a longer one for its p99: harness/sweep/curves.py).
    duration_s: float = None

    def loadgen_args(self):
        out = []
        for option, value in (
            ("--active", self.active),
            ("--size", self.size),
            ("--hostile", self.hostile),
            ("--rate", self.rate),
            ("--label", self.tag),
        ):
            if value is not None:
                out += [option, str(value)]
        return out

    def label(self):
        parts = [f"{k}={v}" for k, v in vars(self).items() if v is not None]
        return " " + " ".join(parts) if parts else ""


# Hostile clients (loadgen --hostile K) in the default sweep: 2 of each of the 6 kinds.
DEFAULT_HOSTILE = 12
HOSTILE_MODE = "pingpong"


def hostile_phase(hostile, counts, modes):
    """Whether the sweep runs its hostile phase: one run with --hostile K right after each
    0-idle ping-pong point, on the same server instance, so that the pair shares conditions."""
    return bool(hostile) and 0 in counts and HOSTILE_MODE in modes_at(modes, 0)


# The largest message loadgen sends: the servers' default --max-line (4096) less the "<nick> "
# prefix the relay adds (loadgen refuses more, with this reason).
MAX_SIZE = 4000


def parse_positive_list(text, option, minimum=1, maximum=None):
    values = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        value = int(item)
        if value < minimum:
            raise ValueError(f"{option}: values are >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise ValueError(
                f"{option}: values are <= {maximum} (the servers' 4096-byte line limit less the"
                f" nick prefix), got {value}"
            )
        values.append(value)
    if not values:
        raise ValueError(f"{option}: no value given")
    return list(dict.fromkeys(values))


def variants(active, active_counts, sizes):
    """Every (active, size) a point runs with: the product of --active-counts (or --active) and
    --sizes, or one default variant."""
    if active is not None and active_counts:
        raise ValueError("--active and --active-counts cannot be combined")
    actives = (
        parse_positive_list(active_counts, "--active-counts", 2)
        if active_counts
        else [active]
        if active is not None
        else [None]
    )
    size_list = parse_positive_list(sizes, "--sizes", 49, MAX_SIZE) if sizes else [None]
    return [Variant(a, s) for a in actives for s in size_list]


def most_active(variant_list):
    """The most active connections any variant asks for (0: the loadgen's defaults, which
    SERVER_FD_MARGIN covers)."""
    return max((v.active or 0 for v in variant_list), default=0)


def largest_idle(fd_limit, ceiling, active=0):
    """The largest idle count a server can hold, and a sentence saying what capped it. `active`:
    the most active connections a run adds beside the idle ones."""
    usable = fd_limit - SERVER_FD_MARGIN - active
    if usable >= 2000:
        usable = usable // 1000 * 1000  # a round figure reads better on a plot's axis
    usable = max(usable, 0)
    why = (
        f"capped by RLIMIT_NOFILE={fd_limit} of the server process, minus {SERVER_FD_MARGIN} for"
        " its own descriptors and the active connections"
        + (f" and {active} more for --active-counts" if active else "")
    )
    if ceiling and usable > ceiling:
        why = f"capped by --max-idle {ceiling} (RLIMIT_NOFILE={fd_limit} would allow {usable})"
        usable = ceiling
    return usable, why


def resolve_counts(requested, largest):
    """Replaces "max", drops counts above the largest (returned, to be reported), sorts."""
    counts, dropped = set(), []
    for c in requested:
        value = largest if c == "max" else int(c)
        if value > largest:
            dropped.append(value)
        elif value >= 0:
            counts.add(value)
    return sorted(counts), dropped


def parse_counts(text):
    """--counts: integers >= 0 and `max`; raises ValueError naming the item that is neither."""
    out = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        if item == "max":
            out.append("max")
        else:
            try:
                value = int(item)
            except ValueError:
                raise ValueError(f"idle counts are integers or 'max', got {item!r}") from None
            if value < 0:
                raise ValueError(f"idle counts are >= 0, got {value}")
            out.append(value)
    return out


def placement_cpus(placement, server_cpu=None, loadgen_cpu=None):
    """(placement, server_cpu, loadgen_cpu, note). Split needs two CPUs; say when we fall back."""
    cpus = sorted(os.sched_getaffinity(0))
    note = None
    if placement == "split" and len(cpus) < 2 and (server_cpu is None or loadgen_cpu is None):
        note = (
            f"only CPU {cpus[0]} is available to this process: server and loadgen share it"
            " (placement shared)"
        )
        placement = "shared"
    if placement == "split":
        # The loadgen takes the first CPU (which also takes most interrupts on small VMs).
        s = cpus[1] if server_cpu is None else server_cpu
        lg = cpus[0] if loadgen_cpu is None else loadgen_cpu
    else:
        s = cpus[-1] if server_cpu is None else server_cpu
        lg = s if loadgen_cpu is None else loadgen_cpu
    if (s == lg) != (placement == "shared"):
        placement = "shared" if s == lg else "split"
    return placement, s, lg, note


# Cost model for the up-front estimate and the ETA (measured on the 2-core reference VM).
# With 0.2 + 0.6 s windows the default sweep of 6 mechanisms took 260 s there (estimated 253):
# 237 s of runs, 19 s of mux-micro --quick, 3 s of plots.
RUN_OVERHEAD_S = 0.05  # loadgen start, connects, /stats, exit
REFUSED_RUN_S = 0.05
SERVER_START_S = 0.02
# hold establishment and release, per connection and server: 7 servers x 19000 were held in
# 6.6-6.9 s and released in about 3 s on a 2-core EPYC VM without a cpuidle driver (2026-12-06)
PER_IDLE_CONNECTION_S = 70e-6
MICRO_QUICK_S = 35.0  # mux-micro --quick with the dense shape counts: 33.7 s measured
# The full micro-benchmarks (--full) took 8m27s in the --full reference run (507 s); 150 s, the
# earlier figure, made that run's estimate 6 minutes short.
MICRO_FULL_S = 510.0
PLOTS_S = 5.0


def run_cost(warmup_s, duration_s):
    return warmup_s + duration_s + RUN_OVERHEAD_S


def predicts_refusal(mechanism, count):
    return mechanism == "select" and count >= FD_SETSIZE - 10


def point_cost(mechanism, count, repeat, warmup_s, duration_s):
    """Expected seconds of one point (select past FD_SETSIZE: one quick refused run per mode)."""
    if predicts_refusal(mechanism, count):
        return REFUSED_RUN_S if repeat == 1 else 0.0
    return run_cost(warmup_s, duration_s)


def setup_cost(count):
    return SERVER_START_S + count * PER_IDLE_CONNECTION_S


def modes_at(modes, count):
    """The modes run at `count`: `modes` is a list (every count) or a dict count -> list."""
    return modes.get(count, []) if isinstance(modes, dict) else modes


def estimate(
    mechanisms,
    counts,
    modes,
    repeats,
    warmup_s,
    duration_s,
    floors,
    micro,
    quick_micro,
    plots,
    variants=1,
    hostile=False,
    curves_s=0.0,
):
    """Seconds the sweep should take, from the cost model above (repeats: instances per point,
    i.e. repeats x idle-states settings; variants: runs per mode in each instance; hostile: the
    hostile phase runs; curves_s: the offered-load phase's own estimate, harness/sweep/curves.py).
    """
    total = floors * run_cost(warmup_s, duration_s) + curves_s
    if hostile:
        total += len(mechanisms) * repeats * variants * run_cost(warmup_s, duration_s)
    for count in counts:
        for mech in mechanisms:
            for repeat in range(1, repeats + 1):
                # Every repeat is a fresh instance: its own server start and idle set.
                total += setup_cost(count)
                total += (
                    len(modes_at(modes, count))
                    * variants
                    * point_cost(mech, count, repeat, warmup_s, duration_s)
                )
    if micro:
        total += MICRO_QUICK_S if quick_micro else MICRO_FULL_S
    if plots:
        total += PLOTS_S
    return total


def fmt_duration(seconds):
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"
