"""Reading one bench results folder (runs.csv, env.json, micro.csv, probe.json): `ResultsFolder`
and its views of the rows (mechanisms, scenarios, series, floors, micro-benchmarks).

Stdlib only, so that the report can be written by any Python 3 even when matplotlib is missing.
A row and the values its columns take are plot/run_row.py's; env.json's keys plot/results_env.py's.
"""

import csv
import json
import os
import statistics

from plot.point_series import Series
from plot.results_env import machine_caption, normalize_env
from plot.run_row import (
    BLOCK,
    BOUND_SERVER,
    CURVE_MODE,
    DEFAULT_FD_SETSIZE,
    FLOOR,
    KNOWN_IDLE_STATES,
    KNOWN_MECHANISMS,
    KNOWN_MODES,
    KNOWN_NETS,
    NET_LO,
    Run,
    number,
    ordered,
)

# Importable from here for the modules that imported them from here before run_row.py and
# point_series.py existed (plot/claim*.py, compare_runs*.py, plot.py); new code imports them from
# their home.
from plot.run_row import (  # noqa: F401
    ALLOW,
    COST_MEASURED,
    FLOOR_MODES,
    RELAY_FLOOR,
    idle_states_words,
    scenario_label,
)


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
        return machine_caption(self.env)
