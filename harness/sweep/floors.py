"""The floors of a sweep: the loadgen against its own peer, no server (floor: a 2-hop echo;
relay-floor: the 4-hop relay a chat ping-pong makes), at the start and at the end of a sweep.

FloorRuns is a part of executor.Sweep, split out by topic: its methods use the Sweep's
attributes (args, states, placement, csv, env, floor_p50, ...)."""

import os
import statistics

from harness.common import children
from harness.common.runs_csv import RunsCsv, merged_columns
from harness.sweep import netns
from harness.sweep import plan
from harness.sweep.progress import say
from harness.sweep.rows import describe, fnum, merge


class FloorRuns:
    def floors(self, when, placements):
        """Both blocking floors under every idle-states setting: the 2-hop echo (floor) and the
        4-hop relay that matches a chat ping-pong's hops and CPUs (relay-floor)."""
        for state in self.states:
            self.use_idle_states(state)
            for placement, server_cpu, loadgen_cpu in placements:
                own = placement == self.placement
                suffix = when if own else placement
                # Each start and end floor is the median of FLOOR_REPEATS runs, the two kinds
                # interleaved: one 0.5 s floor moved by up to ±30 % from run to run on our
                # shared-host VM, which alone would make the drift check cry wolf.
                for n in range(1, (plan.FLOOR_REPEATS if own else 1) + 1):
                    for kind, prefix in (("floor", "floor"), ("relay-floor", "relay")):
                        if kind == "relay-floor" and "relay-floor" not in self.loadgen_modes:
                            continue
                        self.floor(
                            kind,
                            f"{prefix}-{suffix}",
                            placement,
                            server_cpu,
                            loadgen_cpu,
                            n,
                            starting=when == "start",
                        )

    def floor(self, kind, label, placement, server_cpu, loadgen_cpu, repeat, starting=False):
        """One floor run: its row into runs.csv (with the floor this sweep started from), its
        summary into env.json's floors, a line on the console."""
        row = self.base_row("floor", kind, 0, repeat, placement, server_cpu, loadgen_cpu)
        row.pop("relay_floor_p50_us", None)
        # The floors are the loadgen and its own peer, always over loopback.
        row["net"] = netns.NET_LO
        cmd = [
            self.args.loadgen,
            "--mode",
            kind,
            "--cpu",
            str(loadgen_cpu),
            "--peer-cpu",
            str(server_cpu),
            "--warmup",
            str(self.args.warmup),
            "--duration",
            str(self.args.duration),
            "--csv-header",
            "--label",
            label,
        ]
        cmd += self.histogram_args(row)
        result = children.run_loadgen(cmd, self.loadgen_log(), self.run_timeout())
        row = self.floor_row(row, result)
        if starting:
            self.note_floor_start(kind, placement, row)
        row["floor_p50_us"] = self.floor_p50.get(("floor", placement, self.state), "")
        row["idle_open"] = row.get("idle_open") or 0
        self.csv.append(row)
        self.spend(plan.run_cost(self.args.warmup, self.args.duration))
        self.env.setdefault("floors", []).append(
            {
                "label": label,
                "kind": kind,
                "idle_states": self.state,
                "placement": placement,
                "server_cpu": server_cpu,
                "loadgen_cpu": loadgen_cpu,
                "p50_us": row.get("p50_us"),
                "p99_us": row.get("p99_us"),
                "status": row.get("bench_status"),
            }
        )
        say(
            f"{kind} ({label}, {placement} placement, CPUs {loadgen_cpu}<->{server_cpu}, idle"
            f" states {self.state}): {describe(row)}"
        )

    def floor_row(self, row, result):
        """The loadgen's row over ours, with its status as the bench's; opens runs.csv with the
        loadgen's columns when this is the sweep's first row."""
        if result.row is not None:
            row = merge(result.row, row)
            row["status"] = row.get("status") or "error:no status"
            row["bench_status"] = row["status"]
        else:
            row.update(status="error:" + result.error, bench_status="error:" + result.error)
        if self.csv is None:
            self.csv = RunsCsv(
                os.path.join(self.out_dir, "runs.csv"), merged_columns(result.header)
            )
            self.env["runs_csv_columns"] = self.csv.columns
        return row

    def note_floor_start(self, kind, placement, row):
        """A start floor's p50 joins the median every later row of its setting carries."""
        key = (kind, placement, self.state)
        p50 = fnum(row.get("p50_us"))
        if p50 is not None and row.get("status") == "ok":
            self.floor_start_p50s.setdefault(key, []).append(p50)
            # Three decimals, as loadgen prints its figures (no float noise, no lost digits).
            median = statistics.median(self.floor_start_p50s[key])
            self.floor_p50[key] = f"{median:.3f}".rstrip("0").rstrip(".")
