"""runs.csv: the loadgen's columns, then the bench's, one row per run, always a valid file.

Rows are appended and flushed as they come, so an interrupted sweep leaves every finished run on
disk. A few columns (idle_open) are only known when a hold is released, after its rows were
written; update() fills them and rewrites the file through a rename, so a reader never sees a
half-written file.
"""

import csv
import os

# Lines end with a plain \n, not the csv module's default \r\n (RFC 4180 allows both): with
# \r\n, `awk -F,` and `cut` see the last column as "net\r". Readers open with newline="" and
# accept either, so folders written before this choice still read (docs/results.md, "Line
# endings").
LINE_END = "\n"

# The loadgen's row (a contract: loadgen may add columns at the end, never rename these).
LOADGEN_COLUMNS = [
    "mechanism",
    "mode",
    "idle",
    "idle_open",
    "refused",
    "active",
    "size",
    "rate",
    "warmup_s",
    "duration_s",
    "msgs",
    "throughput_msgs_s",
    "p50_us",
    "p90_us",
    "p99_us",
    "p999_us",
    "max_us",
    "mean_us",
    "lost",
    "duplicated",
    "reordered",
    "corrupted",
    "server_cpu_us_per_msg",
    "loadgen_cpu_pct",
    "status",
    "server_wait_calls",
    "server_events",
    "server_fds_passed",
    "server_ctl_calls",
    "server_cpu_us",
    "label",
]

# The loadgen's columns of a run with hostile clients beside the measured ones (loadgen --hostile
# K; the sweep's hostile phase): K, their kinds and their counters.
HOSTILE_COLUMNS = [
    "hostile",
    "hostile_kinds",
    "hostile_connects",
    "hostile_refused",
    "hostile_dropped",
    "hostile_errors",
]

# Added by the bench. The first seven are the contract; the rest are derived for the report.
BENCH_COLUMNS = [
    "run_id",
    "repeat",
    "placement",
    "server_cpu",
    "loadgen_cpu",
    "floor_p50_us",
    "bench_status",
    # The idle connections' own refusals, as the hold reported them (select past FD_SETSIZE).
    "idle_refused",
    # Per wait call over the window: the figure that separates select/poll from epoll.
    "server_fds_per_wait",
    "server_events_per_wait",
    "started_utc",
    # block: the sweep held /dev/cpu_dma_latency at 0 (env.json idle_states_effect: what that did);
    # allow: the machine's own idle behaviour.
    "idle_states",
    # The 4-hop blocking relay's p50 (no multiplexer, same CPUs) on every pingpong row.
    "relay_floor_p50_us",
    # When this row's server started: every repeat has fresh servers and a fresh idle set.
    "server_started_utc",
    # The run's exact latency histogram (loadgen --histogram-out), relative to the folder.
    "histogram_file",
    # The run's per-interval series (loadgen --series-out), relative to the folder.
    "series_file",
    # Kernel memory per idle connection of this row's hold, in bytes (kernel_memory.py): each
    # side (from cgroup v2 or v1, empty where the sides cannot be told apart), both sides together
    # (machine-wide counters), and how they were measured.
    "kernel_bytes_per_idle_server",
    "kernel_bytes_per_idle_holders",
    "kernel_bytes_per_idle_both",
    "kernel_bytes_method",
    # The path between loadgen and server: lo (loopback) or veth (two namespaces, netns.py).
    "net",
]


def merged_columns(loadgen_header):
    """The loadgen's columns as it printed them (contract ones first), then the bench's."""
    columns = list(LOADGEN_COLUMNS)
    for name in loadgen_header or []:
        if name not in columns and name not in BENCH_COLUMNS:
            columns.append(name)
    return columns + BENCH_COLUMNS


def _writer(f, columns):
    return csv.DictWriter(f, fieldnames=columns, extrasaction="ignore", lineterminator=LINE_END)


class RunsCsv:
    def __init__(self, path, columns):
        self.path = path
        self.columns = columns
        self.rows = []
        self._file = open(path, "w", newline="")
        self._writer = _writer(self._file, columns)
        self._writer.writeheader()
        self._file.flush()

    def append(self, row):
        clean = {k: "" if v is None else v for k, v in row.items()}
        self.rows.append(clean)
        self._writer.writerow(clean)
        self._file.flush()

    def update(self, predicate, changes):
        """Applies changes(row) -> dict to the rows matching predicate, then rewrites the file."""
        touched = False
        for row in self.rows:
            if predicate(row):
                for k, v in changes(row).items():
                    row[k] = "" if v is None else v
                touched = True
        if touched:
            self.rewrite()

    def rewrite(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w", newline="") as f:
            writer = _writer(f, self.columns)
            writer.writeheader()
            writer.writerows(self.rows)
            f.flush()
            os.fsync(f.fileno())
        self._file.close()
        os.replace(tmp, self.path)
        self._file = open(self.path, "a", newline="")
        self._writer = _writer(self._file, self.columns)

    def close(self):
        if not self._file.closed:
            self._file.close()
