"""The soak's load mix: what every server gets in one round, as loadgen command lines.

A round is a minute in a soak of whole minutes (shorter soaks cut their time into three rounds),
and in every round every server gets every kind of load:

- idle connections coming and going: a `loadgen --hold` of IDLE connections for the first part
  of the round, released, then a hold of IDLE // 2 that is released before the round ends;
- one measured run after another: flood (4000-byte lines, the largest loadgen sends, so output
  queues hold real bytes), broadcast, churn and pingpong;
- beside them for the whole measured part, when the loadgen has `--hostile`: K misbehaving
  clients (slow readers that never read, slowloris, resets mid-line, vanishing clients, over-long
  lines, connection storms) on a broadcast run of their own, whose pair is measured too.

Every run is bounded by its --duration; the measured part ends MEASURED_FRACTION into the round,
so that the sample at the round's end finds the round's clients gone.
"""

from dataclasses import dataclass, field

# chat-select serves descriptors below FD_SETSIZE (1024) only. Every server gets the same mix, so
# the mix stays below that with room to spare (peak_connections checks it; a test asserts it):
# the soak is about leaks, not about select's wall, which the sweep measures.
FD_SETSIZE = 1024
IDLE = 400
HOSTILE = 12  # the six hostile kinds twice (loadgen spreads them round-robin)
# A storm client opens this many connections back to back (HostilePacing::storm_burst in
# loadgen/HostileClients.h); every other hostile client holds one at a time.
HOSTILE_KIND_COUNT, STORM_BURST = 6, 50
# The hostile clients' own measured run: a broadcast of 4000-byte lines, which the never-read
# clients join (they join the measured room). 500 lines/s fill a never-read client's 1 MiB output
# queue (--max-outbuf) in about half a second, so every round the server drops slow readers
# (/stats slow_dropped), not only queues them: a pingpong pair's 64-byte lines did not reach the
# bound within the 5 s a never-read client stays.
HOSTILE_ACTIVE, HOSTILE_RATE = 2, 500
FLOOD_ACTIVE, FLOOD_SIZE, FLOOD_WINDOW = 4, 4000, 16
BROADCAST_ACTIVE, BROADCAST_RATE = 8, 500
CHURN_ACTIVE = 2
PINGPONG_ACTIVE = 2
WARMUP_S = 0.5
# Loadgen's own time around a window: set-up, the drain after it (up to 5 s when lines are
# missing, ~0 on a healthy server), exit. On a 2-core machine running seven servers and their
# clients the set-up alone takes a noticeable fraction of a second.
RUN_OVERHEAD_S = 1.0
# Churn is bounded in time apart: each churned connection leaves a TIME_WAIT socket on the
# server's side for 60 s, and seven servers churning for a whole round would pile up hundreds of
# thousands of them on a machine others share.
CHURN_MAX_S = 2.0
MEASURED_FRACTION = 0.85
MIN_RUN_S = 0.5
# Shortest soak whose rounds still give every run MIN_RUN_S.
MIN_SOAK_S = 30
SEQUENCE = ("flood", "broadcast", "churn", "pingpong")


@dataclass
class Run:
    kind: str  # flood, broadcast, churn, pingpong, or hostile
    args: list
    connections: int  # connections it opens at once (active + hostile + its /stats control)
    duration_s: float

    @property
    def timeout_s(self):
        # The window, the warm-up, loadgen's 10 s set-up bound and 5 s drain bound, and margin.
        return self.duration_s + WARMUP_S + 10 + 5 + 10


@dataclass
class Hold:
    idle: int
    start_s: float  # offsets into the round
    stop_s: float


@dataclass
class RoundPlan:
    round_s: float
    holds: list = field(default_factory=list)
    sequence: list = field(default_factory=list)  # one after another from the round's start
    beside: list = field(default_factory=list)  # started at the round's start, alongside


def rounds_for(total_s):
    """(rounds, seconds per round): minutes for a soak of 3 minutes or more, else three rounds,
    so that RSS after the first round is compared with two more rounds of the same load."""
    if total_s < MIN_SOAK_S:
        raise ValueError(f"a soak needs at least {MIN_SOAK_S} s (asked {total_s:g} s)")
    rounds = max(3, round(total_s / 60))
    return rounds, total_s / rounds


def _measured(kind, active, duration_s, extra=()):
    args = ["--mode", kind, "--active", str(active), "--warmup", str(WARMUP_S)]
    args += ["--duration", f"{duration_s:.2f}"] + list(extra)
    return Run(kind, args, active + 1, duration_s)


def round_plan(round_s, hostile):
    """The plan of one round of round_s seconds; hostile: whether loadgen has --hostile."""
    measured_s = round_s * MEASURED_FRACTION
    window = (measured_s - len(SEQUENCE) * (WARMUP_S + RUN_OVERHEAD_S)) / len(SEQUENCE)
    window = max(MIN_RUN_S, window)
    plan = RoundPlan(round_s=round_s)
    half = measured_s / 2
    plan.holds = [Hold(IDLE, 0.0, half * 0.9), Hold(IDLE // 2, half, measured_s)]
    flood = ["--size", str(FLOOD_SIZE), "--window", str(FLOOD_WINDOW)]
    plan.sequence = [
        _measured("flood", FLOOD_ACTIVE, window, flood),
        _measured("broadcast", BROADCAST_ACTIVE, window, ["--rate", str(BROADCAST_RATE)]),
        _measured("churn", CHURN_ACTIVE, min(window, CHURN_MAX_S)),
        _measured("pingpong", PINGPONG_ACTIVE, window),
    ]
    if hostile:
        hostile_s = max(MIN_RUN_S, measured_s - WARMUP_S - RUN_OVERHEAD_S)
        run = _measured(
            "broadcast",
            HOSTILE_ACTIVE,
            hostile_s,
            ["--rate", str(HOSTILE_RATE), "--size", str(FLOOD_SIZE), "--hostile", str(HOSTILE)],
        )
        run.kind = "hostile"
        storms = HOSTILE // HOSTILE_KIND_COUNT  # storm is the last kind of the round-robin
        run.connections += HOSTILE - storms + storms * STORM_BURST
        plan.beside = [run]
    return plan


def peak_connections(plan):
    """The most client connections one server can have open at once under this plan (+1: the
    soak's own /stats connection when it samples)."""
    holds = max((h.idle + 1 for h in plan.holds), default=0)
    sequence = max((r.connections for r in plan.sequence), default=0)
    return holds + sequence + sum(r.connections for r in plan.beside) + 1


def kinds(plan):
    """Every kind of load the plan gives a server."""
    out = ["idle-hold"] if plan.holds else []
    return out + [r.kind for r in plan.sequence + plan.beside]
