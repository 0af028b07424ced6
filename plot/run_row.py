"""One row of runs.csv (`Run`) and the values its columns take: modes, floors, idle states,
bound_by, paths, statuses; the words a scenario is shown by.

Stdlib only, so that the report can be written by any Python 3 even when matplotlib is missing.
Column names are the contract of docs/results.md#runscsv; unknown extra columns are kept.
"""

import math

# An ordering hint only, not the list of mechanisms (that is the servers' registry,
# `chat-* --list-mechanisms`): these come first, in the order a reader meets them. Any other
# mechanism of a run follows in the order the sweep ran them (env.json "mechanisms"), then
# alphabetically (folders written before env.json had that list).
KNOWN_MECHANISMS = [
    "select",
    "select-dynamic",
    "poll",
    "epoll-lt",
    "epoll-et",
    "uring",
    "uring-completion",
]
KNOWN_MODES = ["pingpong", "broadcast", "flood", "churn"]
# The figure a point is read by, per mode, besides server CPU per message (every mode; per
# connection opened and closed under churn). A mode missing here has no headline figure yet.
HEADLINE = {
    "pingpong": "p50_us",
    "flood": "throughput_msgs_s",
    "broadcast": "throughput_msgs_s",
    "churn": "conns_per_s",
}
COST = "server_cpu_us_per_msg"
FLOOR = "floor"
RELAY_FLOOR = "relay-floor"  # mode of the 4-hop relay floor (rows of mechanism "floor")
FLOOR_MODES = (FLOOR, RELAY_FLOOR)
# Open-loop runs at a scheduled offered rate (loadgen --mode rate): the offered-load curves.
CURVE_MODE = "rate"
# idle_states: "block" = the sweep held /dev/cpu_dma_latency at 0 (idle CPUs then poll only where
# the cpuidle driver lists a polling state; what holding it did is env.json idle_states_effect);
# "allow" = the machine's own idle behaviour; "" = a run from before the column existed.
BLOCK = "block"
ALLOW = "allow"
KNOWN_IDLE_STATES = [BLOCK, ALLOW]
# bound_by: which side limited a point. Only "server" makes a throughput a capacity.
BOUND_SERVER = "server"
# A run the loadgen bound (its CPU saturated first) still measured the server's CPU per message
# by the kernel's accounting: only its throughput is not the server's capacity. The comparisons
# of cost (claims 7, 11) keep such rows: dropping them made which points fed a claim change from
# run to run (3 of 6 flood points in one run, 1 in the next), and with it what the claim
# estimated (ET/LT 1.25 over ping-pong alone against 1.02 over both modes).
LOADGEN_BOUND = "loadgen-bound"
COST_MEASURED = ("ok", LOADGEN_BOUND)
KNOWN_BOUNDS = [BOUND_SERVER, "loadgen", "latency"]
# net: the path between loadgen and servers. "" = a run from before the column: loopback.
NET_LO = "lo"
NET_VETH = "veth"
KNOWN_NETS = [NET_LO, NET_VETH]
REFUSED_FD_SETSIZE = "refused:FD_SETSIZE"
DEFAULT_FD_SETSIZE = 1024  # glibc's fd_set size on Linux; probe.json overrides it when present


def ordered(names, known, then=()):
    """names in the order of known, then of then, then alphabetically."""
    names = set(names)
    first = [n for n in known if n in names]
    second = [n for n in dict.fromkeys(then) if n in names and n not in first]
    return first + second + sorted(names - set(first) - set(second))


def number(text):
    """A CSV cell as a float, or None when empty, '-1' placeholders aside, or not a number."""
    if text is None:
        return None
    text = str(text).strip()
    if text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    if math.isnan(value) or math.isinf(value):
        return None
    return value


class Run:
    """One row of runs.csv."""

    def __init__(self, row):
        self.row = row

    def get(self, key):
        return number(self.row.get(key))

    def text(self, key):
        return (self.row.get(key) or "").strip()

    @property
    def mechanism(self):
        return self.text("mechanism")

    @property
    def mode(self):
        return self.text("mode")

    @property
    def idle(self):
        value = self.get("idle")
        return 0 if value is None else int(value)

    @property
    def repeat(self):
        value = self.get("repeat")
        return 1 if value is None else int(value)

    @property
    def status(self):
        """The bench's verdict on the point when it gave one, else loadgen's."""
        return self.text("bench_status") or self.text("status") or "unknown"

    @property
    def ok(self):
        return self.status == "ok"

    @property
    def hostile(self):
        """Hostile clients beside the measured ones (loadgen --hostile K); 0 when none."""
        return int(self.get("hostile") or 0)

    @property
    def is_floor(self):
        """A floor row (2-hop floor or 4-hop relay floor): never a mechanism, never a mode."""
        return self.mechanism == FLOOR or self.mode in FLOOR_MODES

    @property
    def idle_states(self):
        return self.text("idle_states")

    @property
    def net(self):
        return self.text("net") or NET_LO

    @property
    def bound_by(self):
        """ "server", "loadgen", "latency", or "" when the run did not record it."""
        return self.text("bound_by")

    @property
    def refused_fd_setsize(self):
        # "skipped:refused at this count": the sweep does not retry a mode a server already refused.
        return any(
            s.startswith(("refused", "skipped:refused")) for s in (self.status, self.text("status"))
        )

    @property
    def refused_count(self):
        """Connections the server turned away: the row's own, or the idle hold's when the bench kept
        it apart."""
        return max(self.get("refused") or 0, self.get("idle_refused") or 0)

    @property
    def scenario(self):
        """What else, besides mechanism and idle, shapes a point: curves only join equal
        scenarios."""
        return (
            self.mode,
            self.text("placement"),
            self.text("active"),
            self.text("size"),
            self.text("rate"),
            self.idle_states,
        )

    def metric(self, name):
        """A figure of the run; derived figures have names of their own."""
        if name == "fds_per_event":
            passed, events = self.get("server_fds_passed"), self.get("server_events")
            if passed is None or not events:
                return None
            return passed / events
        return self.get(name)


def scenario_label(scenario):
    mode, placement, active, size, rate = scenario[:5]
    idle_states = scenario[5] if len(scenario) > 5 else ""
    parts = [mode]
    if active:
        parts.append(f"{active} active")
    if size:
        parts.append(f"{size} B")
    if rate and number(rate):
        parts.append(f"{rate} msg/s offered")
    elif rate:
        parts.append("closed loop")
    if placement:
        parts.append(f"{placement} CPUs")
    if idle_states:
        parts.append(idle_states_words(idle_states))
    if len(scenario) > 6 and scenario[6] and scenario[6] != NET_LO:
        parts.append(f"over {scenario[6]}")
    return ", ".join(parts)


def idle_states_words(value):
    return {BLOCK: "idle states blocked", ALLOW: "idle states allowed"}.get(
        value, f"idle states {value}"
    )
