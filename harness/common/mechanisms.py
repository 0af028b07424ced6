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

# The registry's group of the mechanisms a sweep runs unless told otherwise; the others (the event
# libraries, the Python servers) are opt-in groups: `--mechanisms +libraries`, `+python`, or
# --full, so that adding peers does not lengthen the default sweep.
DEFAULT_GROUP = "ours"


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
    # "ours" (the default sweep), or an opt-in group: "libraries", "python" (docs/peers.md).
    group: str = DEFAULT_GROUP
    # The registry's model: whether a call's cost does not depend on idle descriptors (epoll,
    # io_uring) or grows with them (select, poll). The sweep only uses it for its time estimate.
    cost_independent_of_idle: bool = True

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
            group=e.get("group", DEFAULT_GROUP),
            cost_independent_of_idle=bool(e.get("cost_independent_of_idle", True)),
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


def select(mechanisms, wanted, every_group=False):
    """The mechanisms `wanted` names, in the registry's order. `wanted` is a list of names and
    `+GROUP` items: names alone are exactly those; `+GROUP` adds a group's mechanisms to the names,
    or to the default set when no name is given. No `wanted`: the default group, or every group
    with every_group (--full). Unknown names and groups are an error the user can act on."""
    groups = {}
    for m in mechanisms:
        groups.setdefault(m.group, []).append(m.name)
    if not wanted:
        return [m for m in mechanisms if every_group or m.group == DEFAULT_GROUP]
    names = [w for w in wanted if not w.startswith("+")]
    added = [w[1:] for w in wanted if w.startswith("+")]
    unknown_groups = [g for g in added if g not in groups]
    if unknown_groups:
        raise ValueError(
            f"unknown or unbuilt mechanism group(s): {', '.join('+' + g for g in unknown_groups)};"
            f" groups here: {', '.join('+' + g for g in groups) or 'none'}"
        )
    by_name = {m.name: m for m in mechanisms}
    missing = [w for w in names if w not in by_name]
    if missing:
        raise ValueError(
            f"unknown or unbuilt mechanism(s): {', '.join(missing)}; available here:"
            f" {', '.join(by_name) or 'none'}"
        )
    chosen = set(names) if names else set(groups.get(DEFAULT_GROUP, []))
    for g in added:
        chosen.update(groups[g])
    if names and not added:
        return [by_name[w] for w in names]  # the order the user gave
    return [m for m in mechanisms if m.name in chosen]


def find(bin_dir, loadgen, wanted=None, every_group=False):
    """The mechanisms to run: those built in bin_dir, filtered by `wanted` (a comma-separated
    list of names and +GROUP items, None for the default group; every_group: every group, as
    --full asks), when the loadgen is built too. Raises ValueError naming what to build or
    point at."""
    if not os.access(loadgen, os.X_OK):
        raise ValueError(
            f"no loadgen at {loadgen}: build it (./bench build, or cmake --build build"
            " --target loadgen) or point --loadgen at it"
        )
    mechs = select(
        discover(bin_dir),
        [m.strip() for m in wanted.split(",")] if wanted else None,
        every_group=every_group,
    )
    if not mechs:
        raise ValueError(
            f"no server binaries (chat-select, chat-poll, chat-epoll, ...) in {bin_dir}: build"
            " them (./bench build) or point --bin at them"
        )
    return mechs
