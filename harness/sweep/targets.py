"""The servers and holds of an instance (one idle count, repeat, idle-states setting and path):
each mechanism's server started where the placement puts it, its idle connections held between
two kernel-memory snapshots, then the holds released (what they counted fills idle_open) and the
servers stopped (their records into servers.jsonl).

TargetRuns is a part of executor.Sweep, split out by topic: its methods use the Sweep's
attributes (args, logs, kernel, server_host, idle_hosts, unavailable, csv, servers_log, ...)."""

import json
import os
import time

from harness.common import children
from harness.common import mechanisms as mechanism_table
from harness.sweep import plan
from harness.sweep import remote


class Target:
    """One mechanism in one instance (idle count, repeat, idle states): its server, its hold,
    and why it cannot run (if so)."""

    def __init__(self, mech):
        self.mech = mech
        self.name = mech.name
        self.server = None
        self.hold = None
        self.blocked = None  # the status of every remaining row, when nothing can run
        self.run_ids = []
        self.hold_refused = None
        # The hold's `holding` line: idle, open, refused, and the source and destination
        # addresses its connections were spread over.
        self.holding = None
        self.kernel = None  # what its idle connections cost the kernel (kernel_memory.py)
        self.idle_open_s = None  # from starting its hold to the `holding` line


class TargetRuns:
    def start_targets(self, count, mechs):
        """Starts a server (and a hold when count > 0) per mechanism; returns (targets, failure).

        failure is the reason a hold could not be established (None when all are up), which
        makes the caller retry one server at a time.
        """
        targets = [Target(m) for m in mechs]
        self.active_targets = targets
        for t in targets:
            if t.mech.name in self.unavailable:
                t.blocked = self.unavailable[t.mech.name]
                continue
            self.start_server(t, count)
            self.spend(plan.SERVER_START_S)
        if count == 0:
            return targets, None
        failure = None
        # One hold after another, each between two kernel-memory snapshots.
        for t in targets:
            if t.server is None:
                continue
            why = self.start_hold(t, count)
            failure = failure or why
            self.spend(count * plan.PER_IDLE_CONNECTION_S)
        return targets, failure

    def start_server(self, t, count):
        """t's server, where the placement puts it; a server that does not come up blocks t."""
        log = os.path.join(self.logs, f"server-{t.name}-idle{count}.log")
        wrap, bind, host = self.server_placement()
        try:
            t.server = children.Server(
                t.mech,
                self.args.remote_bin if self.server_host else self.args.bin,
                self.server_cpu,
                log,
                cgroup_procs=(
                    self.kernel.procs_file("server")
                    if self.kernel and not self.server_host
                    else None
                ),
                wrap=wrap,
                bind=bind,
                host=host,
                stop_by_eof=self.server_host is not None,
            )
            if self.server_host is not None:
                remote.reachable(t.server.host, t.server.port, self.server_host.name)
            t.name = t.server.name
        except children.StartError as e:
            reason = str(e)
            if e.exit_code == mechanism_table.EXIT_UNAVAILABLE:
                t.blocked = "unavailable"
                self.unavailable[t.mech.name] = "unavailable"
                self.note(f"{t.name} is unavailable on this machine: {reason}")
            else:
                t.blocked = "error:server-start"
                self.note(f"{t.name} at idle={count} did not start: {reason} (log {log})")

    def start_hold(self, t, count):
        """t's idle connections; why they could not be held (None when they are)."""
        log = os.path.join(self.logs, f"hold-{t.name}-idle{count}.log")
        try:
            held = self.hold(t, count, log)
        except children.StartError as e:
            t.hold = None
            t.blocked = "error:hold"
            return f"{t.name}: {e}"
        t.hold_refused = held.get("refused")
        t.holding = held
        return None

    def hold(self, t, count, log):
        """Opens t's idle connections and measures what they cost the kernel (snapshots before
        and after, with t's server running): returns the `holding` line's values."""
        kernel = None if self.remote_kernel_memory() else self.kernel
        before = kernel.snapshot() if kernel else None
        t0 = time.monotonic()
        if self.idle_hosts:
            t.hold = remote.HoldGroup(self.args.loadgen, t.server, count, log, self.idle_hosts)
            held = t.hold.wait_holding(30.0 + count * 2e-3)
            t.idle_open_s = round(time.monotonic() - t0, 3)
            return held
        t.hold = children.Hold(
            self.args.loadgen,
            t.server,
            count,
            log,
            extra_args=self.spread_args(),
            cgroup_procs=kernel.procs_file("holders") if kernel else None,
            wrap=self.client_wrap(),
        )
        held = t.hold.wait_holding(30.0 + count * 2e-3)
        t.idle_open_s = round(time.monotonic() - t0, 3)
        if kernel:
            t.kernel = kernel.measure(before, held.get("open"))
        return held

    def finish(self, count, targets, quiet=False, timeout_s=30.0):
        """Releases the holds (idle_open comes from them) and stops the servers."""
        for t in targets:
            released = t.hold.release(timeout_s) if t.hold is not None else {}
            t.hold = None
            opened = released.get("open")
            expected = count - (released.get("refused") or t.hold_refused or 0)
            if count == 0:
                opened = 0
            if t.blocked == "server-crashed":
                # The crash closed the idle connections; what was open during the earlier runs
                # is not known.
                opened = None
            elif count and t.server is not None and not t.server.alive():
                # The server exited after its last run (at Ctrl-C: perhaps while the run in
                # flight was killed) and its exit closed the idle connections before the hold
                # counted them, so the count says nothing about the finished runs. Alive now
                # means alive when the hold counted.
                if t.blocked is None and t.run_ids:
                    self.note(
                        f"{t.name} at idle={count} exited (status {t.server.proc.returncode})"
                        " before its idle connections were counted; idle_open of its runs at this"
                        f" count is unknown (log {t.server.log_path})"
                    )
                opened = None
            ids = set(t.run_ids)

            def fill(row, opened=opened, expected=expected):
                changes = {}
                if not row.get("idle_open") or str(row.get("idle_open")) == "-1":
                    changes["idle_open"] = "" if opened is None else opened
                if opened is not None and opened < expected and row.get("bench_status") == "ok":
                    changes["bench_status"] = f"idle-lost:{expected - opened}"
                return changes

            if ids and self.csv is not None:
                self.csv.update(lambda row, ids=ids: row.get("run_id") in ids, fill)
            if count and t.server is not None and not released and not quiet:
                log = os.path.join(self.logs, f"hold-{t.name}-idle{count}.log")
                self.note(
                    f"{t.name} at idle={count}: the hold printed no released line (log {log})"
                )
            record = self.stop_target(count, t, released, quiet, timeout_s)
            if not quiet:
                self.servers_log.write(json.dumps(record) + "\n")
                self.servers_log.flush()
        self.active_targets = []

    def stop_target(self, count, t, released, quiet, timeout_s):
        """Stops t's server; returns its servers.jsonl record (the hold's release, the server's
        counters and exit)."""
        record = {
            "idle": count,
            "repeat": self.current_repeat,
            "idle_states": self.state,
            "net": self.net,
            "mechanism": t.name,
            "released": released,
            "hold_refused": t.hold_refused,
            "holding": t.holding,
            "blocked": t.blocked,
            "kernel_memory": t.kernel,
            "idle_open_s": t.idle_open_s,
        }
        if t.server is not None:
            problem = t.server.stop(min(timeout_s, 10.0))
            record.update(
                port=t.server.port,
                pid=t.server.pid,
                fd_limit=t.server.fd_limit,
                started_utc=t.server.started_utc,
                exit_code=t.server.exit_code,
                counters=t.server.final,
                stop_problem=problem,
            )
            if problem and t.blocked is None and not quiet:
                self.note(f"{t.name} at idle={count}: {problem} (log {t.server.log_path})")
            t.server = None
        return record
