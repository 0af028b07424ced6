"""The mechanisms to run, as the servers' registry lists them (`chat-* --list-mechanisms`).

The table lives in one place, servers/MechanismRegistry.cpp; any chat-* binary prints all of it
as JSON. A mechanism is swept when its binary is in the bin dir. Whether this machine allows it
is the server's to say at start-up: it then exits with EXIT_UNAVAILABLE and the sweep records
its points as unavailable.
"""

import json
import os
import subprocess
from dataclasses import dataclass, field

# mux::kExitUnavailable (servers/MechanismRegistry.h), EX_UNAVAILABLE of sysexits.h: a server
# whose mechanism this machine refuses (io_uring disabled, seccomp) exits with it.
EXIT_UNAVAILABLE = 69


@dataclass
class Mechanism:
    name: str  # as the server names itself in its listening line
    binary: str  # file name in the bin dir
    args: list = field(default_factory=list)
    edge_triggered: bool = False
    optional: bool = False
    # What the listing binary found on this machine (the sweep still trusts the exit status).
    available: bool = True
    unavailable_reason: str = None

    def command(self, bin_dir):
        return [os.path.join(bin_dir, self.binary)] + list(self.args)


def _is_executable(path):
    return os.path.isfile(path) and os.access(path, os.X_OK)


def help_text(path):
    """What `path --help` prints (stdout and stderr), or "" when it cannot run."""
    try:
        done = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=10)
        return done.stdout + done.stderr
    except (OSError, subprocess.TimeoutExpired):
        return ""


def server_binaries(bin_dir):
    """File names of the chat-* executables in bin_dir, sorted ([] when it cannot be read)."""
    try:
        names = sorted(os.listdir(bin_dir))
    except OSError:
        return []
    return [n for n in names if n.startswith("chat-") and _is_executable(os.path.join(bin_dir, n))]


def parse_listing(text):
    """The Mechanisms of a --list-mechanisms JSON text, in its order."""
    table = json.loads(text)
    if not isinstance(table, list):
        raise ValueError("not a JSON array")
    return [
        Mechanism(
            name=e["name"],
            binary=e["binary"],
            args=list(e.get("args", [])),
            edge_triggered=bool(e.get("edge_triggered")),
            optional=bool(e.get("optional")),
            available=bool(e.get("available", True)),
            unavailable_reason=e.get("unavailable_reason"),
        )
        for e in table
    ]


def registry(bin_dir):
    """Every mechanism of the registry, as the first chat-* binary of bin_dir lists it; [] when
    bin_dir has no chat-* binary. Raises ValueError when none of them can list it (a build from
    before --list-mechanisms), since guessing the table would bring back a second copy of it."""
    binaries = server_binaries(bin_dir)
    problems = []
    for name in binaries:
        path = os.path.join(bin_dir, name)
        try:
            done = subprocess.run(
                [path, "--list-mechanisms"], capture_output=True, text=True, timeout=30
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            problems.append(f"{name}: {e}")
            continue
        if done.returncode != 0:
            problems.append(f"{name}: exit {done.returncode}: {done.stderr.strip()[:200]}")
            continue
        try:
            return parse_listing(done.stdout)
        except (ValueError, KeyError, TypeError) as e:
            problems.append(f"{name}: unreadable --list-mechanisms output ({e})")
    if problems:
        raise ValueError(
            f"no server in {bin_dir} lists its mechanisms (rebuild them: ./bench build):"
            f" {'; '.join(problems)}"
        )
    return []


def discover(bin_dir):
    """Mechanisms whose binary exists in bin_dir, in the registry's order."""
    return [m for m in registry(bin_dir) if _is_executable(os.path.join(bin_dir, m.binary))]


def select(mechanisms, wanted):
    """Filters by a list of names; unknown names are an error the user can act on."""
    if not wanted:
        return mechanisms
    by_name = {m.name: m for m in mechanisms}
    missing = [w for w in wanted if w not in by_name]
    if missing:
        raise ValueError(
            f"unknown or unbuilt mechanism(s): {', '.join(missing)}; available here:"
            f" {', '.join(by_name) or 'none'}"
        )
    return [by_name[w] for w in wanted]


def find(bin_dir, loadgen, wanted=None):
    """The mechanisms to run: those built in bin_dir, filtered by `wanted` (a comma-separated
    list, None for all), when the loadgen is built too. Raises ValueError naming what to build or
    point at."""
    if not os.access(loadgen, os.X_OK):
        raise ValueError(
            f"no loadgen at {loadgen}: build it (./bench build, or cmake --build build"
            " --target loadgen) or point --loadgen at it"
        )
    mechs = select(discover(bin_dir), [m.strip() for m in wanted.split(",")] if wanted else None)
    if not mechs:
        raise ValueError(
            f"no server binaries (chat-select, chat-poll, chat-epoll, ...) in {bin_dir}: build"
            " them (./bench build) or point --bin at them"
        )
    return mechs
