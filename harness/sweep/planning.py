"""The sweep's plan on this machine: which mechanisms, counts and modes can run here, on which
CPUs, under which idle-states settings, how many floor runs, and how long it should take;
decided and said (say_plan) before anything starts. The arithmetic (presets, limits, the
estimate) is plan.py's."""

import dataclasses
import os

from harness.common import mechanisms as mechanism_table
from harness.sweep import curves as curve_phase
from harness.sweep import idle_states
from harness.sweep import netns
from harness.sweep import plan
from harness.sweep.progress import say


@dataclasses.dataclass(frozen=True)
class SweepPlan:
    """What a sweep will run, decided before anything starts (make_plan): mechanisms, counts,
    modes, CPUs, idle states, floor runs and the estimate."""

    mechs: list  # mechanisms.Mechanism, in the order they run
    largest: int  # the largest idle count this machine allows
    cap: str  # what capped it
    counts: list  # idle counts to sweep
    dropped: list  # idle counts asked for but above `largest`
    lg_help: str  # loadgen --help, for the options it may lack
    modes: object  # a list for every count, or {count: modes} (plan.modes_at reads both)
    all_modes: list  # every mode of any count, in order
    placement: str  # split or shared
    server_cpu: int
    loadgen_cpu: int
    cpu_note: str  # why the CPUs are not the asked ones, or None
    other_placement: str  # the placement whose floors are measured too, or None
    states: list  # idle_states settings to run
    idle_note: str  # why idle states are not blocked as asked, or None
    loadgen_modes: set  # optional loadgen modes it offers (relay-floor)
    floors: int  # floor runs
    micro: bool  # the micro-benchmarks run afterwards
    quick_micro: bool
    plots: bool  # the plots and the report are drawn afterwards
    est: float  # estimated seconds
    hostile: int  # loadgen --hostile K after each 0-idle ping-pong point (0: none)
    hostile_runs: int  # how many such runs
    curves: bool = False  # the offered-load phase runs (harness/sweep/curves.py)
    curves_est: float = 0.0  # its estimated seconds, part of est
    # Where it runs: the swept mechanisms and counts, or those --curve-mechanisms and
    # --curve-counts name (None: the sweep's).
    curve_mechs: list = None
    curve_counts: list = None


def make_plan(args, latency_request):
    """The plan, after saying what was dropped and why; None (exit 2) when nothing can run."""
    mechs = find_mechanisms(args)
    if mechs is None:
        return None
    largest, cap, counts, dropped = choose_counts(args)
    if not counts:
        say("no idle count left to sweep")
        return None
    curve_points = choose_curve_points(args, mechs, counts)
    if curve_points is None:
        return None
    lg_help = mechanism_table.help_text(args.loadgen)
    modes = choose_modes(args, lg_help, counts, largest)
    decided = dict(
        mechs=mechs,
        largest=largest,
        cap=cap,
        counts=counts,
        dropped=dropped,
        lg_help=lg_help,
        modes=modes,
        all_modes=list(dict.fromkeys(m for c in counts for m in plan.modes_at(modes, c))),
        curve_mechs=curve_points[0],
        curve_counts=curve_points[1],
    )
    decided.update(choose_conditions(args, latency_request, lg_help))
    decided.update(choose_phases(args, decided))
    return SweepPlan(est=estimate(args, decided), **decided)


def choose_conditions(args, latency_request, lg_help):
    """What every point runs under, said where it is not what was asked: the placement and its
    CPUs (and the other placement, whose floors are measured too), the idle-states settings; and
    the floor runs they make."""
    placement, server_cpu, loadgen_cpu, cpu_note = plan.placement_cpus(
        args.placement, args.server_cpu, args.loadgen_cpu
    )
    if cpu_note:
        say(cpu_note)
    other_placement = other_placement_of(args, placement)
    states, idle_note = choose_idle_states(args, latency_request)
    loadgen_modes = {m for m in ("relay-floor",) if m in lg_help}
    return dict(
        placement=placement,
        server_cpu=server_cpu,
        loadgen_cpu=loadgen_cpu,
        cpu_note=cpu_note,
        other_placement=other_placement,
        states=states,
        idle_note=idle_note,
        loadgen_modes=loadgen_modes,
        floors=count_floors(states, loadgen_modes, other_placement),
    )


def choose_phases(args, decided):
    """What runs besides the points: the micro-benchmarks, the plots and report, the hostile
    phase, the offered-load curves (each said when the loadgen lacks it)."""
    mechs, counts, modes = decided["mechs"], decided["counts"], decided["modes"]
    hostile = choose_hostile(args, decided["lg_help"], counts, modes)
    curves = choose_curves(args, decided["lg_help"])
    return dict(
        micro=not args.no_micro and os.access(args.micro, os.X_OK),
        quick_micro=args.preset.micro_quick,
        plots=not args.no_plots,
        hostile=hostile,
        # One hostile run after each 0-idle ping-pong point: per mechanism, variant and instance.
        hostile_runs=(
            len(mechs) * len(args.variants) * instances(args, decided["states"]) if hostile else 0
        ),
        curves=curves,
        curves_est=(
            curve_phase.estimate(decided["curve_mechs"], decided["curve_counts"], args)
            if curves
            else 0.0
        ),
    )


def instances(args, states):
    """Instances per idle count: fresh servers and idle set per repeat, setting and path."""
    return args.repeats * len(states) * len(args.net_list)


def estimate(args, decided):
    """The sweep's estimated seconds (plan.estimate's cost model)."""
    return plan.estimate(
        [m.name for m in decided["mechs"]],
        decided["counts"],
        decided["modes"],
        instances(args, decided["states"]),
        args.warmup,
        args.duration,
        decided["floors"],
        decided["micro"],
        decided["quick_micro"],
        decided["plots"],
        variants=len(args.variants),
        hostile=bool(decided["hostile"]),
        curves_s=decided["curves_est"],
    )


def choose_counts(args):
    """(largest, what capped it, the counts to sweep, those dropped) under the open-file limit,
    raised to its hard limit first; the dropped counts are said."""
    soft, hard = plan.raise_fd_limit()
    largest, cap = plan.largest_idle(soft, args.max_idle, plan.most_active(args.variants))
    counts, dropped = plan.resolve_counts(args.count_list, largest)
    say(f"largest idle count {largest} ({cap})")
    if dropped:
        say(
            f"idle count(s) {', '.join(map(str, dropped))} dropped: above the largest this machine"
            f" allows ({largest})"
        )
    return largest, cap, counts, dropped


def count_floors(states, loadgen_modes, other_placement):
    """The floor runs of a sweep: per idle-states setting, FLOOR_REPEATS of each kind at the start
    and the end (one more kind with relay-floor), one of each in the other placement, and the
    floors without and with the PM QoS request at the start."""
    return (
        len(states)
        * (
            2 * plan.FLOOR_REPEATS * (1 + len(loadgen_modes))
            + (1 + len(loadgen_modes) if other_placement else 0)
        )
        + 2 * idle_states.EFFECT_ROUNDS
    )


def other_placement_of(args, placement):
    """The placement whose floors are measured beside the sweep's own (None with one CPU or
    CPUs given by hand)."""
    other_placement = None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) >= 2 and args.server_cpu is None and args.loadgen_cpu is None:
        other_placement = "shared" if placement == "split" else "split"
    return other_placement


def choose_hostile(args, lg_help, counts, modes):
    """K of the hostile phase (0: none), after saying why it is skipped when the loadgen lacks
    it."""
    hostile = args.hostile if plan.hostile_phase(args.hostile, counts, modes) else 0
    if hostile and "--hostile" not in lg_help:
        say(f"hostile phase skipped: {args.loadgen} --help does not list --hostile")
        hostile = 0
    return hostile


def choose_curve_points(args, mechs, counts):
    """(mechanisms, counts) of the offered-load phase: the sweep's, or the part of them that
    --curve-mechanisms and --curve-counts name; None after saying which name or count is not
    swept (a curve needs the sweep's own rows at its point for its expected capacity)."""
    curve_mechs, curve_counts = list(mechs), list(counts)
    if args.curve_mechanism_list:
        by_name = {m.name: m for m in mechs}
        unknown = [n for n in args.curve_mechanism_list if n not in by_name]
        if unknown:
            say(
                f"--curve-mechanisms: {', '.join(unknown)} not among the swept mechanisms"
                f" ({', '.join(by_name)}); add it to --mechanisms"
            )
            return None
        names = set(args.curve_mechanism_list)
        curve_mechs = [m for m in mechs if m.name in names]
    if args.curve_count_list:
        # "max" is the largest count the sweep measures.
        wanted = sorted({max(counts) if c == "max" else c for c in args.curve_count_list})
        missing = [c for c in wanted if c not in counts]
        if missing:
            say(
                f"--curve-counts: {', '.join(map(str, missing))} not among the swept idle counts"
                f" ({', '.join(map(str, counts))}); add it to --counts"
            )
            return None
        curve_counts = wanted
    return curve_mechs, curve_counts


def choose_curves(args, lg_help):
    """Whether the offered-load phase runs: asked for (--curves, --full) and the loadgen offers
    open-loop runs; said when it does not."""
    if not args.curves:
        return False
    if "--rate" not in lg_help or "--arrival" not in lg_help:
        say(
            f"offered-load curves skipped: {args.loadgen} --help does not list --mode rate with"
            " --rate and --arrival"
        )
        return False
    return True


def find_mechanisms(args):
    """The mechanisms to sweep, or None after saying what is missing."""
    try:
        return mechanism_table.find(
            args.bin, args.loadgen, args.mechanisms, every_group=bool(getattr(args, "full", False))
        )
    except ValueError as e:
        say(str(e))
        return None


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
    curves_text = ""
    if p.curves:
        curves_text = (
            f", + offered-load curves and capacities at p99 <= {args.slo_p99:g} us"
            f" ({curve_phase.capacity_repeats(args)} fresh instances per count,"
            f" about {plan.fmt_duration(p.curves_est)})"
        )
    hostile_text = ""
    if p.hostile:
        runs += p.hostile_runs
        hostile_text = f" ({p.hostile_runs} with --hostile {p.hostile} at idle 0)"
    say(
        f"plan: {len(p.mechs)} mechanisms ({names}) x {len(p.counts)} idle counts ({count_text}) x "
        f"{mode_text} x {args.repeats} repeats{state_text} = {runs} runs{hostile_text} of "
        f"{args.warmup:g} s warm-up + {args.duration:g} s window, + {p.floors} floor runs"
        f"{micro_text}{curves_text}; server on CPU "
        f"{p.server_cpu}, loadgen on CPU {p.loadgen_cpu} ({p.placement}); estimated "
        f"{plan.fmt_duration(p.est)}"
    )
