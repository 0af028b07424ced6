"""The child processes of the sweep and the soak run: servers, idle-connection holders and single
loadgen runs.

Every child runs in its own session, so a Ctrl-C at the terminal reaches only the sweep, which
then stops the children in order (runs killed, holds released, servers asked for their counters)
and leaves a valid CSV. PR_SET_PDEATHSIG covers the case where the sweep itself is killed.
"""

import csv
import ctypes
import io
import datetime
import json
import os
import re
import select
import signal
import subprocess
import time

_PR_SET_PDEATHSIG = 1
_libc = None
try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:
    pass

# Every child still alive, so that cleanup can reach them after an exception or a Ctrl-C.
_live = set()


def _child_setup(cpu=None, cgroup_procs=None):
    def setup():
        if _libc is not None:
            _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})
        if cgroup_procs is not None:
            # Before exec, so that everything the child allocates is charged to its side
            # (harness/sweep/kernel_memory.py).
            with open(cgroup_procs, "w") as f:
                f.write(str(os.getpid()))

    return setup


def spawn(
    cmd,
    stdin=subprocess.DEVNULL,
    stdout=subprocess.PIPE,
    stderr=None,
    cpu=None,
    env=None,
    cgroup_procs=None,
):
    proc = subprocess.Popen(
        cmd,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        env=env,
        start_new_session=True,
        preexec_fn=_child_setup(cpu, cgroup_procs),
    )
    _live.add(proc)
    return proc


def kill_group(proc, grace_s=2.0):
    """SIGTERM to the child's process group, SIGKILL after grace_s; reaps the child."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            pass
    # Helpers the child forked (loadgen's hold processes) may outlive it in its group.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        pass
    # SIGKILL is delivered, not yet carried out, when killpg returns: a helper may still be
    # running for a moment after its parent was reaped (a test that looked right after the
    # sweep's exit found one, once). Return when none is.
    deadline = time.monotonic() + grace_s
    while group_running(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.005)
    _live.discard(proc)


def group_running(pgid):
    """Whether a process of process group pgid is still running."""
    return bool(group_members(pgid))


def group_members(pgid):
    """The pids of process group pgid still running. A zombie has finished: only its parent's
    wait is missing (and an orphan's is init's)."""
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and fields[0] != "Z" and fields[2] == str(pgid):
            pids.append(int(name))
    return pids


def kill_all():
    for proc in list(_live):
        kill_group(proc, grace_s=1.0)


def forget(proc):
    _live.discard(proc)


class LineReader:
    """Reads lines from a child's stdout pipe with a deadline (no thread, no blocking read)."""

    def __init__(self, pipe):
        self.fd = pipe.fileno()
        os.set_blocking(self.fd, False)
        self.buf = b""
        self.eof = False

    def _fill(self, timeout):
        ready, _, _ = select.select([self.fd], [], [], max(0.0, timeout))
        if not ready:
            return False
        try:
            chunk = os.read(self.fd, 65536)
        except BlockingIOError:
            return True
        if not chunk:
            self.eof = True
        self.buf += chunk
        return True

    def readline(self, timeout):
        """The next line without its newline; None on timeout or EOF."""
        deadline = time.monotonic() + timeout
        while True:
            nl = self.buf.find(b"\n")
            if nl >= 0:
                line, self.buf = self.buf[:nl], self.buf[nl + 1 :]
                return line.decode("utf-8", "replace")
            if self.eof:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self._fill(left)

    def drain(self):
        """Everything already written, as lines (keeps a pipe from filling up and blocking)."""
        while not self.eof and self._fill(0):
            pass
        lines = self.buf.split(b"\n")
        self.buf = lines.pop()
        return [line.decode("utf-8", "replace") for line in lines]


def tail(path, lines=3):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 4096))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    kept = [line.strip() for line in text.splitlines() if line.strip()]
    # Only what the last command wrote: the logs are shared by successive commands.
    starts = [i for i, line in enumerate(kept) if line.startswith("$ ")]
    if starts:
        kept = kept[starts[-1] + 1 :]
    return " | ".join(kept[-lines:])


def key_values(line):
    return {k: int(v) for k, v in re.findall(r"(\w+)=(-?\d+)", line)}


class StartError(Exception):
    """exit_code: the status of a server that exited before listening (None otherwise)."""

    def __init__(self, message, exit_code=None):
        super().__init__(message)
        self.exit_code = exit_code


_LISTENING = re.compile(r"^listening (\S+):(\d+) mechanism=(\S+) fd_limit=(\d+)")


class Server:
    """One chat server on an ephemeral port, pinned to a CPU."""

    def __init__(
        self,
        mech,
        bin_dir,
        cpu,
        log_path,
        timeout_s=10.0,
        cgroup_procs=None,
        wrap=(),
        bind=None,
        host=None,
        stop_by_eof=False,
    ):
        """wrap: a command prefix (`ip netns exec NS`, netns.py; ssh, remote.py); bind: the
        server's --bind; host: the address clients connect to, when the listening line's
        (0.0.0.0) is not one; stop_by_eof: stopped by closing its stdin (a server on another host,
        whose ssh session turns that EOF into SIGTERM) instead of a signal to the child."""
        self.stop_by_eof = stop_by_eof
        self.mech = mech
        self.name = mech.name
        self.log_path = log_path
        self.final = None  # the JSON counters printed at SIGTERM
        self.exit_code = None
        self.started_utc = datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%S.%fZ"
        )
        cmd = list(wrap) + mech.command(bin_dir) + ["--port", "0", "--quiet", "--cpu", str(cpu)]
        cmd += ["--bind", bind] if bind else []
        self.log = open(log_path, "ab")
        self.log.write(("$ " + " ".join(cmd) + "\n").encode())
        self.log.flush()
        stdin = subprocess.PIPE if stop_by_eof else subprocess.DEVNULL
        self.proc = spawn(cmd, stdin=stdin, stderr=self.log, cgroup_procs=cgroup_procs)
        self.out = LineReader(self.proc.stdout)
        self._await_listening(timeout_s, host)

    def _await_listening(self, timeout_s, host):
        """Reads the server's output up to its listening line (address, port, name, fd limit)."""
        deadline = time.monotonic() + timeout_s
        while True:
            line = self.out.readline(deadline - time.monotonic())
            if line is None:
                raise self._start_error(deadline, timeout_s)
            m = _LISTENING.match(line)
            if m:
                self.host, self.port = host or m.group(1), int(m.group(2))
                self.reported_name = m.group(3)
                self.fd_limit = int(m.group(4))
                if self.reported_name != self.mech.name:
                    # The server is the authority on its own name (runs.csv uses the loadgen's
                    # copy of it, read from /stats).
                    self.name = self.reported_name
                return

    def _start_error(self, deadline, timeout_s):
        """No listening line: stops what is left of the server; the StartError saying why."""
        # At EOF the server may not have been reaped yet: wait a moment for its exit status
        # (EXIT_UNAVAILABLE must not read as a failed start).
        try:
            code = self.proc.wait(timeout=max(0.0, min(1.0, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            code = None
        kill_group(self.proc)
        self.log.close()
        why = tail(self.log_path) or "no output"
        if code is None:
            return StartError(f"no listening line within {timeout_s:.0f} s ({why})")
        return StartError(f"exited with status {code} before listening: {why}", exit_code=code)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        self.out.drain()
        return self.proc.poll() is None

    def stop(self, timeout_s=10.0):
        """SIGTERM, then the JSON counters line. Returns None, or why the stop was not clean."""
        problem = None
        if self.proc.poll() is not None:
            problem = f"had already exited with status {self.proc.returncode}"
        else:
            if self.stop_by_eof:
                self.proc.stdin.close()
            else:
                self.proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + timeout_s
            while True:
                line = self.out.readline(deadline - time.monotonic())
                if line is None:
                    problem = "no JSON counters line after SIGTERM"
                    break
                if line.startswith("{"):
                    try:
                        self.final = json.loads(line)
                    except ValueError:
                        problem = "unparsable counters line: " + line[:80]
                    break
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                problem = problem or f"did not exit within {timeout_s:.0f} s of SIGTERM"
        kill_group(self.proc)
        self.exit_code = self.proc.returncode
        if problem is None and self.exit_code != 0:
            problem = f"exited with status {self.exit_code}"
        self.log.close()
        return problem


class Hold:
    """`loadgen --hold`: N idle connections held open against one server until released."""

    def __init__(self, loadgen, server, idle, log_path, extra_args=(), cgroup_procs=None, wrap=()):
        self.idle = idle
        self.log_path = log_path
        self.held = {}
        self.released = None
        cmd = (
            list(wrap)
            + [
                loadgen,
                "--hold",
                "--idle",
                str(idle),
                "--host",
                server.host,
                "--port",
                str(server.port),
            ]
            + list(extra_args)
        )
        self.log = open(log_path, "ab")
        self.log.write(("$ " + " ".join(cmd) + "\n").encode())
        self.log.flush()
        self.proc = spawn(cmd, stdin=subprocess.PIPE, stderr=self.log, cgroup_procs=cgroup_procs)
        self.out = LineReader(self.proc.stdout)

    def wait_holding(self, timeout_s):
        """Waits for the `holding` line; raises StartError with the reason otherwise."""
        deadline = time.monotonic() + timeout_s
        while True:
            line = self.out.readline(deadline - time.monotonic())
            if line is None:
                code = self.proc.poll()
                why = tail(self.log_path) or "no output"
                self.abandon()
                if code is None:
                    raise StartError(
                        f"hold of {self.idle} not established within {timeout_s:.0f} s ({why})"
                    )
                raise StartError(f"hold of {self.idle} exited with status {code}: {why}")
            if line.startswith("holding"):
                self.held = key_values(line)
                return self.held

    def release(self, timeout_s=30.0):
        """Closes stdin and reads `released ...`. Returns its key=values ({} when missing)."""
        if self.released is not None:
            return self.released
        self.released = {}
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        deadline = time.monotonic() + timeout_s
        while True:
            line = self.out.readline(deadline - time.monotonic())
            if line is None:
                break
            if line.startswith("released"):
                self.released = key_values(line)
                break
        try:
            self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        kill_group(self.proc)
        self.log.close()
        return self.released

    def abandon(self):
        kill_group(self.proc, grace_s=1.0)
        if not self.log.closed:
            self.log.close()


class RunResult:
    def __init__(self, row=None, error=None, header=None, seconds=0.0):
        self.row = row  # dict of the loadgen's CSV row, or None
        self.error = error  # short reason when there is no row
        self.header = header or []
        self.seconds = seconds


def run_loadgen(cmd, log_path, timeout_s, cpu=None):
    """One loadgen run with --csv-header: its row as a dict, or why there is none."""
    start = time.monotonic()
    with open(log_path, "ab") as log:
        log.write(("$ " + " ".join(cmd) + "\n").encode())
        log.flush()
        proc = spawn(cmd, stderr=log, cpu=cpu)
        try:
            out, _ = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            return RunResult(
                error=f"timeout: no result within {timeout_s:.0f} s",
                seconds=time.monotonic() - start,
            )
        finally:
            if proc.poll() is None:
                kill_group(proc)
            forget(proc)
    return parse_loadgen_output(out, proc.returncode, log_path, time.monotonic() - start)


def parse_loadgen_output(out, returncode, log_path, seconds):
    """The RunResult of a finished `loadgen --csv-header` from its stdout bytes and exit status
    (stderr went to log_path)."""
    text = out.decode("utf-8", "replace")
    lines = [line for line in text.splitlines() if line.strip()]
    header_at = next((i for i, line in enumerate(lines) if line.startswith("mechanism,")), None)
    if returncode != 0:
        why = tail(log_path, 1)
        return RunResult(
            error=f"loadgen exit {returncode}{': ' + why if why else ''}", seconds=seconds
        )
    if header_at is None or header_at + 1 >= len(lines):
        return RunResult(error="loadgen printed no CSV row", seconds=seconds)
    reader = csv.DictReader(io.StringIO("\n".join(lines[header_at : header_at + 2])))
    row = next(reader, None)
    if row is None:
        return RunResult(error="loadgen printed no CSV row", seconds=seconds)
    return RunResult(row=row, header=reader.fieldnames, seconds=seconds)
