"""Reading one bench results folder (runs.csv, env.json, micro.csv, probe.json).

Stdlib only, so that the report can be written by any Python 3 even when matplotlib is missing.
Column names are the contract of README.md / SPEC section 4; unknown extra columns are kept.
"""

import csv
import json
import math
import os
import statistics

# Known mechanisms first, in the order a reader meets them; anything new the servers grow later
# (e.g. another backend) is appended after these, alphabetically, instead of being dropped.
KNOWN_MECHANISMS = ["select", "select-dynamic", "poll", "epoll-lt", "epoll-et", "uring"]
KNOWN_MODES = ["pingpong", "broadcast", "flood", "churn"]
FLOOR = "floor"
REFUSED_FD_SETSIZE = "refused:FD_SETSIZE"
DEFAULT_FD_SETSIZE = 1024  # glibc's fd_set size on Linux; probe.json overrides it when present


def ordered(names, known):
    names = set(names)
    return [n for n in known if n in names] + sorted(names - set(known))


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
    groups = {"machine": ["kernel", "cpu_model", "cores", "rlimit_nofile", "hostname", "arch",
                          "cpu_governor", "virtualization"],
              "build": ["build_type"],
              "placement": ["placement", "server_cpu", "loadgen_cpu"]}
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
        env["git_commit"] = str(git["commit"]) + (" (with uncommitted changes)" if git.get("dirty") else "")
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
    def refused_fd_setsize(self):
        # "skipped:refused at this count": the sweep does not retry a mode a server already refused.
        return any(s.startswith(("refused", "skipped:refused")) for s in (self.status, self.text("status")))

    @property
    def refused_count(self):
        """Connections the server turned away: the row's own, or the idle hold's when the bench kept it apart."""
        return max(self.get("refused") or 0, self.get("idle_refused") or 0)

    @property
    def scenario(self):
        """What else, besides mechanism and idle, shapes a point: curves only join equal scenarios."""
        return (
            self.mode,
            self.text("placement"),
            self.text("active"),
            self.text("size"),
            self.text("rate"),
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
    mode, placement, active, size, rate = scenario
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
    return ", ".join(parts)


class Series:
    """Per-x lists of per-repeat values: the shape every plot and every rule works on."""

    def __init__(self, name):
        self.name = name
        self.points = []  # (x, y, repeat or None)

    def add(self, x, y, repeat=None, low=None, high=None):
        self.points.append((float(x), float(y), repeat))
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
            raise SystemExit(f"{runs_csv}: missing; run ./bench first, or point at a results/<run>/ folder")
        self.runs = [Run(row) for row in self._read_csv(runs_csv)]
        self.raw_env = self._read_json("env.json") or {}
        self.env = normalize_env(self.raw_env)
        self.probe = self._read_json("probe.json")
        micro_csv = os.path.join(self.path, "micro.csv")
        self.micro = self._read_csv(micro_csv) if os.path.isfile(micro_csv) else None

    @staticmethod
    def _read_csv(path):
        with open(path, newline="") as f:
            return [row for row in csv.DictReader(f) if any((v or "").strip() for v in row.values())]

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

    def mechanisms(self, runs=None):
        runs = self.runs if runs is None else runs
        return ordered({r.mechanism for r in runs if r.mechanism and r.mechanism != FLOOR}, KNOWN_MECHANISMS)

    def modes(self):
        return ordered({r.mode for r in self.runs if r.mode and r.mode != FLOOR}, KNOWN_MODES)

    def primary_scenario(self, mode):
        """The scenario of a mode with the most rows: the one the plots and the claims use.

        A sweep normally runs one scenario per mode; if it ran several, the others are listed in
        the report rather than mixed into the same curve."""
        counts = {}
        for r in self.runs:
            if r.mode == mode and r.mechanism != FLOOR:
                counts[r.scenario] = counts.get(r.scenario, 0) + 1
        if not counts:
            return None
        return max(sorted(counts), key=lambda s: counts[s])

    def other_scenarios(self):
        seen = {r.scenario for r in self.runs if r.mechanism != FLOOR and r.mode != FLOOR}
        primaries = {self.primary_scenario(m) for m in self.modes()}
        return sorted(seen - primaries)

    def scenario_runs(self, mode):
        scenario = self.primary_scenario(mode)
        return [r for r in self.runs if r.scenario == scenario and r.mechanism != FLOOR]

    def series(self, mode, mechanism, metric):
        """Ok points of one mechanism in a mode's primary scenario, per idle count and repeat."""
        s = Series(f"{mechanism} {metric} ({mode})")
        for r in self.scenario_runs(mode):
            if r.mechanism != mechanism or not r.ok:
                continue
            y = r.metric(metric)
            if y is not None:
                s.add(r.idle, y, r.repeat)
        return s

    def refused_idles(self, mode, mechanism):
        return sorted({r.idle for r in self.scenario_runs(mode) if r.mechanism == mechanism and r.refused_fd_setsize})

    def failed_idles(self, mode, mechanism):
        """Points that failed for another reason than FD_SETSIZE (marked, never plotted as figures)."""
        return sorted(
            {r.idle for r in self.scenario_runs(mode) if r.mechanism == mechanism and not r.ok and not r.refused_fd_setsize}
        )

    def floor(self, key="p50_us", placement=None):
        """The blocking ping-pong floor: floor rows when present, else the floor_p50_us column."""
        values = [
            r.get(key)
            for r in self.runs
            if r.mechanism == FLOOR and r.ok and r.get(key) is not None and (placement is None or r.text("placement") == placement)
        ]
        if not values and key == "p50_us":
            values = [
                r.get("floor_p50_us")
                for r in self.runs
                if r.get("floor_p50_us") is not None and (placement is None or r.text("placement") == placement)
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
        return ordered(names - {""}, KNOWN_MECHANISMS + ["epoll-ctl-add", "epoll-ctl-mod", "epoll-ctl-del"])

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
        """Which value of `key` to hold fixed: `prefer` when measured, else the most measured one."""
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
        parts = [f"{cpu}" + (f" ({cores} cores)" if cores else ""), f"Linux {kernel}" if not str(kernel).lower().startswith("linux") else kernel]
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
