"""Helper programs the harness runs to completion (mux-probe, mux-micro, micro_to_csv, the plots
and the report), logged, bounded in time, optionally pinned to a CPU."""

import os
import subprocess

from harness.common import children


class ToolFailed(Exception):
    """A helper program did not finish, or exited non-zero; the message says how (and the last
    lines of its log)."""


def run_tool(cmd, log_path, timeout_s, cpu=None, stdout_path=None, env=None):
    """Runs cmd, its stderr (and stdout unless stdout_path) appended to log_path after a `$ cmd`
    line. Raises ToolFailed, or OSError when it cannot start."""
    with open(log_path, "ab") as log:
        log.write(("$ " + " ".join(cmd) + "\n").encode())
        log.flush()
        out = open(stdout_path, "wb") if stdout_path else log
        try:
            proc = children.spawn(cmd, stdout=out, stderr=log, cpu=cpu, env=env)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                children.kill_group(proc)
                raise ToolFailed(f"no result within {timeout_s:.0f} s")
            children.forget(proc)
        finally:
            if stdout_path:
                out.close()
    if proc.returncode != 0:
        why = children.tail(log_path, 2)
        raise ToolFailed(f"exit status {proc.returncode}{': ' + why if why else ''}")


def python_module(python, module):
    """The command that runs one module of the repository's packages (plot.report, ...)."""
    return [python, "-m", module]


def root_on_path(root):
    """The environment for python_module: the repository root is the import root."""
    path = os.environ.get("PYTHONPATH")
    return dict(os.environ, PYTHONPATH=root + (os.pathsep + path if path else ""))
