"""Reading one bench results folder (runs.csv, env.json, micro.csv, probe.json).

Stdlib only, so that the report can be written by any Python 3 even when matplotlib is missing.
Column names are the contract of docs/results.md#runscsv; unknown extra columns are kept.
"""

import csv
import json
import math
import os
import statistics

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


class Series:
    """Per-x lists of per-repeat values: the shape every plot and every rule works on."""

    def __init__(self, name):
        self.name = name
        self.points = []  # (x, y, repeat or None)
        self.bound = {}  # x -> bound_by of each repeat (only when the run recorded it)

    def add(self, x, y, repeat=None, low=None, high=None, bound_by=""):
        self.points.append((float(x), float(y), repeat))
        if bound_by:
            self.bound.setdefault(float(x), []).append(bound_by)
        if low is not None or high is not None:
            self.bounds = getattr(self, "bounds", {})
            self.bounds[float(x)] = (low, high)

    def xs(self):
        return sorted({p[0] for p in self.points})

    def values_at(self, x):
        return [p[1] for p in self.points if p[0] == x]

    def median(self, x):
        return statistics.median(self.values_at(x))

    def low(self, x):
        bounds = getattr(self, "bounds", {}).get(x)
        if bounds and bounds[0] is not None:
            return bounds[0]
        return min(self.values_at(x))

    def high(self, x):
        bounds = getattr(self, "bounds", {}).get(x)
        if bounds and bounds[1] is not None:
            return bounds[1]
        return max(self.values_at(x))

    def server_bound(self, x):
        """True when most repeats at x were server-bound, False when most were not, None when
        unrecorded."""
        bounds = self.bound.get(float(x))
        if not bounds:
            return None
        return sum(1 for b in bounds if b == BOUND_SERVER) * 2 > len(bounds)

    def __len__(self):
        return len(self.points)


class ResultsFolder:
    """Everything the plots and the report read from results/<run>/."""

    def __init__(self, path):
        self.path = os.path.abspath(path)
        self.notes = []  # problems met while reading, reported instead of crashing
        if not os.path.isdir(self.path):
            raise SystemExit(f"{path}: not a directory (expected results/<run>/ holding runs.csv)")
        runs_csv = os.path.join(self.path, "runs.csv")
        if not os.path.isfile(runs_csv):
            raise SystemExit(
                f"{runs_csv}: missing; run ./bench first, or point at a results/<run>/ folder"
            )
        every = [Run(row) for row in self._read_csv(runs_csv)]
        # Every row but those measured beside hostile clients (loadgen --hostile K): they answer
        # another question and are kept apart, so that no plot, claim, comparison or failure table
        # ever sees them; only the report's hostile section (plot/hostile.py) reads them.
        # Offered-load rows (loadgen --mode rate, the sweep's --curves) answer another question
        # too: every other reader would take them for one more mode of the same points; only
        # plot/curves.py reads them, from `curve_runs`.
        self.all_runs = [r for r in every if not r.hostile and r.mode != CURVE_MODE]
        self.nets = ordered({r.net for r in self.all_runs if not r.is_floor}, KNOWN_NETS)
        self.judged_net = self.nets[0] if self.nets else NET_LO
        # `runs` keeps the floors and the rows of one path, the one the plots and the claims judge
        # (loopback when measured), so that adding veth never changes a verdict.
        self.runs = [r for r in self.all_runs if r.is_floor or r.net == self.judged_net]
        self.hostile_runs = [r for r in every if r.hostile and r.net == self.judged_net]
        self.curve_runs = [
            r for r in every if r.mode == CURVE_MODE and not r.hostile and r.net == self.judged_net
        ]
        self.raw_env = self._read_json("env.json") or {}
        self.env = normalize_env(self.raw_env)
        self.probe = self._read_json("probe.json")
        micro_csv = os.path.join(self.path, "micro.csv")
        self.micro = self._read_csv(micro_csv) if os.path.isfile(micro_csv) else None

    @staticmethod
    def _read_csv(path):
        with open(path, newline="") as f:
            return [
                row for row in csv.DictReader(f) if any((v or "").strip() for v in row.values())
            ]

    def _read_json(self, name):
        path = os.path.join(self.path, name)
        if not os.path.isfile(path):
            return None
        try:
            with open(path) as f:
                value = json.load(f)
        except (OSError, ValueError) as e:
            self.notes.append(f"{name} unreadable ({e}); treated as absent")
            return None
        return value if isinstance(value, dict) else None

    # ---- runs.csv views -------------------------------------------------------------------

    def sweep_mechanisms(self):
        """The mechanisms in the order the sweep ran them (env.json), or [] for older folders."""
        listed = self.raw_env.get("mechanisms")
        if not isinstance(listed, list):
            return []
        names = [m.get("name") if isinstance(m, dict) else m for m in listed]
        return [n for n in names if isinstance(n, str) and n]

    def mechanisms(self, runs=None):
        runs = self.runs if runs is None else runs
        return ordered(
            {r.mechanism for r in runs if r.mechanism and not r.is_floor},
            KNOWN_MECHANISMS,
            self.sweep_mechanisms(),
        )

    def modes(self):
        return ordered({r.mode for r in self.runs if r.mode and not r.is_floor}, KNOWN_MODES)

    def primary_scenario(self, mode):
        """The scenario of a mode the plots and the claims use: idle states blocked when measured
        (where the request makes idle CPUs poll, this times the mechanism, not the wake-up of a
        halted CPU), then the most rows.

        A sweep normally runs one scenario per mode (per idle-states setting); if it ran several,
        the others are listed in the report rather than mixed into the same curve."""
        counts = {}
        for r in self.runs:
            if r.mode == mode and not r.is_floor:
                counts[r.scenario] = counts.get(r.scenario, 0) + 1
        if not counts:
            return None
        return max(sorted(counts), key=lambda s: (s[5] == BLOCK, counts[s]))

    def scenario_with(self, mode, idle_states):
        """The primary scenario of a mode measured under another idle-states setting, or None."""
        primary = self.primary_scenario(mode)
        if primary is None or idle_states is None:
            return primary
        wanted = primary[:5] + (idle_states,)
        return wanted if any(r.scenario == wanted and not r.is_floor for r in self.runs) else None

    def idle_states_of(self, mode):
        """The idle-states settings the mode's primary scenario was measured under, primary first
        (["block", "allow"], ["allow"], or [""] for a run that did not record them)."""
        primary = self.primary_scenario(mode)
        if primary is None:
            return []
        found = {
            r.idle_states for r in self.runs if not r.is_floor and r.scenario[:5] == primary[:5]
        }
        return [primary[5]] + ordered(found - {primary[5]}, KNOWN_IDLE_STATES)

    def idle_states_values(self):
        """Every idle_states value in runs.csv (floors included), known ones first; [] when
        unrecorded."""
        return ordered({r.idle_states for r in self.runs if r.idle_states}, KNOWN_IDLE_STATES)

    def other_scenarios(self):
        seen = {r.scenario for r in self.runs if not r.is_floor}
        shown = {self.scenario_with(m, s) for m in self.modes() for s in self.idle_states_of(m)}
        return sorted(seen - shown)

    def scenario_runs(self, mode, idle_states=None):
        """Rows of a mode's primary scenario (or of its twin under idle_states, when given)."""
        scenario = self.scenario_with(mode, idle_states)
        if scenario is None:
            return []
        return [r for r in self.runs if r.scenario == scenario and not r.is_floor]

    def series(
        self, mode, mechanism, metric, idle_states=None, server_bound_only=False, statuses=("ok",)
    ):
        """Ok points (or points of `statuses`, e.g. COST_MEASURED) of one mechanism in a mode's
        primary scenario, per idle count and repeat.

        server_bound_only: drop rows the run recorded as bound by the loadgen or by latency (their
        throughput is a round-trip rate, not the server's capacity); rows without bound_by stay."""
        s = Series(f"{mechanism} {metric} ({mode})")
        for r in self.scenario_runs(mode, idle_states):
            if r.mechanism != mechanism or r.status not in statuses:
                continue
            if server_bound_only and r.bound_by and r.bound_by != BOUND_SERVER:
                continue
            y = r.metric(metric)
            if y is not None:
                s.add(r.idle, y, r.repeat, bound_by=r.bound_by)
        return s

    def has_bound_by(self, runs=None):
        return any(r.bound_by for r in (self.runs if runs is None else runs) if not r.is_floor)

    def bound_counts(self):
        """(mechanism, mode) -> {bound_by: rows} over the rows that recorded it (ok or not)."""
        counts = {}
        for r in self.runs:
            if r.is_floor or not r.bound_by:
                continue
            inner = counts.setdefault((r.mechanism, r.mode), {})
            inner[r.bound_by] = inner.get(r.bound_by, 0) + 1
        return counts

    def refused_idles(self, mode, mechanism, idle_states=None):
        return sorted(
            {
                r.idle
                for r in self.scenario_runs(mode, idle_states)
                if r.mechanism == mechanism and r.refused_fd_setsize
            }
        )

    def failed_idles(self, mode, mechanism, idle_states=None):
        """Points that failed for another reason than FD_SETSIZE (marked, never plotted as
        figures)."""
        return sorted(
            {
                r.idle
                for r in self.scenario_runs(mode, idle_states)
                if r.mechanism == mechanism and not r.ok and not r.refused_fd_setsize
            }
        )

    # ---- the floors -----------------------------------------------------------------------

    def floor_rows(self, kind=FLOOR, label=None, idle_states=None, placement=None, ok=True):
        """Floor rows of one kind: "floor" (2-hop blocking ping-pong) or "relay-floor" (4-hop
        relay, a chat ping-pong's hops and CPUs without the multiplexer). label: the exact label
        ("floor-start") or a suffix ("-start", "-end"); idle_states and placement filter when given.
        """
        out = []
        for r in self.runs:
            if not r.is_floor:
                continue
            mode = r.mode or FLOOR
            if mode != kind:
                continue
            if ok and not r.ok:
                continue
            if idle_states is not None and r.idle_states != idle_states:
                continue
            if placement is not None and r.text("placement") != placement:
                continue
            if label is not None:
                name = r.text("label")
                if not (name == label or (label.startswith("-") and name.endswith(label))):
                    continue
            out.append(r)
        return out

    def floor_at(self, kind, when, idle_states=None):
        """The p50 of a floor measured at the start or the end of the sweep ("start" / "end"),
        in the sweep's own placement. Old runs without labels: repeat 1 is the start, 2 the end
        (the other placement's floor, labelled -shared/-split, is never a start or an end)."""
        rows = self.floor_rows(kind, label=f"-{when}", idle_states=idle_states)
        if not rows:
            rows = [
                r
                for r in self.floor_rows(kind, idle_states=idle_states)
                if not r.text("label").endswith(("-shared", "-split"))
                and r.repeat == (1 if when == "start" else 2)
            ]
        values = [r.get("p50_us") for r in rows if r.get("p50_us") is not None]
        return statistics.median(values) if values else None

    def floor(self, key="p50_us", placement=None, kind=FLOOR, idle_states=None):
        """A blocking floor (kind "floor" or "relay-floor"): its rows when present, else the
        floor_p50_us / relay_floor_p50_us column of the measured rows (p50 only)."""
        values = [
            r.get(key)
            for r in self.floor_rows(kind, idle_states=idle_states, placement=placement)
            if r.get(key) is not None
        ]
        column = "floor_p50_us" if kind == FLOOR else "relay_floor_p50_us"
        if not values and key == "p50_us":
            values = [
                r.get(column)
                for r in self.runs
                if r.get(column) is not None
                and not r.is_floor
                and (idle_states is None or r.idle_states == idle_states)
                and (placement is None or r.text("placement") == placement)
            ]
        return statistics.median(values) if values else None

    def fd_setsize(self):
        if self.probe and number(self.probe.get("fd_setsize")):
            return int(number(self.probe.get("fd_setsize")))
        return DEFAULT_FD_SETSIZE

    def status_counts(self):
        """(mechanism, mode, status) -> count over the rows that are not ok."""
        counts = {}
        for r in self.runs:
            if not r.ok:
                key = (r.mechanism or "?", r.mode or "?", r.status)
                counts[key] = counts.get(key, 0) + 1
        return counts

    # ---- micro.csv views ------------------------------------------------------------------

    def micro_rows(self, family, mechanism=None):
        if not self.micro:
            return []
        return [
            m
            for m in self.micro
            if (m.get("family") or "").strip() == family
            and (mechanism is None or (m.get("mechanism") or "").strip() == mechanism)
            and (m.get("status") or "ok").strip() in ("ok", "")
            and number(m.get("ns_per_call_median")) is not None
        ]

    def micro_mechanisms(self, family):
        if not self.micro:
            return []
        names = {(m.get("mechanism") or "").strip() for m in self.micro_rows(family)}
        return ordered(
            names - {""}, KNOWN_MECHANISMS + ["epoll-ctl-add", "epoll-ctl-mod", "epoll-ctl-del"]
        )

    def micro_series(self, family, mechanism, x_key, fixed_key=None, fixed_value=None):
        """ns per call against x_key (watched or ready), at one value of the other parameter.

        micro.csv holds medians over repetitions with their min and max, not the repetitions:
        the median is the point, min and max are the band."""
        s = Series(f"{mechanism} {family} vs {x_key}")
        for m in self.micro_rows(family, mechanism):
            x = number(m.get(x_key))
            if x is None:
                continue
            if fixed_key and number(m.get(fixed_key)) != fixed_value:
                continue
            s.add(
                x,
                number(m.get("ns_per_call_median")),
                None,
                number(m.get("ns_per_call_min")),
                number(m.get("ns_per_call_max")),
            )
        return s

    def micro_fixed_value(self, family, mechanism, key, prefer=None):
        """Which value of `key` to hold fixed: `prefer` when measured, else the most measured
        one."""
        counts = {}
        for m in self.micro_rows(family, mechanism):
            v = number(m.get(key))
            if v is not None:
                counts[v] = counts.get(v, 0) + 1
        if not counts:
            return None
        if prefer is not None and prefer in counts:
            return prefer
        return max(sorted(counts, reverse=True), key=lambda v: counts[v])

    # ---- env.json -------------------------------------------------------------------------

    def machine_caption(self):
        e = self.env
        cpu = e.get("cpu_model") or "unknown CPU"
        cores = e.get("cores")
        kernel = e.get("kernel") or "unknown kernel"
        parts = [
            f"{cpu}" + (f" ({cores} cores)" if cores else ""),
            f"Linux {kernel}" if not str(kernel).lower().startswith("linux") else kernel,
        ]
        placement = e.get("placement")
        if placement:
            pin = f"placement {placement}"
            if e.get("server_cpu") is not None and e.get("loadgen_cpu") is not None:
                pin += f" (server CPU {e.get('server_cpu')}, loadgen CPU {e.get('loadgen_cpu')})"
            parts.append(pin)
        if e.get("hostname"):
            parts.append(f"host {e.get('hostname')}")
        if e.get("started_utc"):
            parts.append(str(e.get("started_utc")))
        if e.get("git_commit"):
            parts.append(f"commit {str(e.get('git_commit'))[:10]}")
        return " · ".join(parts)
