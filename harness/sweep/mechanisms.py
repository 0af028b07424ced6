"""The one table of known readiness mechanisms, and their discovery in a bin dir.

A mechanism is a server binary plus arguments. Any further `chat-*` binary found in the bin dir
is swept too (under the name it gives itself in its listening line), so a new backend needs no
change here to be measured.
"""

import os
import subprocess
from dataclasses import dataclass, field


@dataclass
class Mechanism:
    name: str  # as the server names itself in its listening line
    binary: str  # file name in the bin dir
    args: list = field(default_factory=list)
    # Only swept when `binary --help` mentions this text (an optional feature of that binary).
    needs_help_text: str = ""

    def command(self, bin_dir):
        return [os.path.join(bin_dir, self.binary)] + list(self.args)


# Order is the order of the report's legends and of the first repeat.
KNOWN = [
    Mechanism("select", "chat-select"),
    Mechanism("poll", "chat-poll"),
    Mechanism("epoll-lt", "chat-epoll"),
    Mechanism("epoll-et", "chat-epoll", ["--edge"]),
    Mechanism("select-dynamic", "chat-select", ["--fdset", "dynamic"], needs_help_text="--fdset"),
    Mechanism("uring", "chat-uring"),
]


def _is_executable(path):
    return os.path.isfile(path) and os.access(path, os.X_OK)


def help_text(path):
    """What `path --help` prints (stdout and stderr), or "" when it cannot run."""
    try:
        done = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=10)
        return done.stdout + done.stderr
    except (OSError, subprocess.TimeoutExpired):
        return ""


def discover(bin_dir):
    """Mechanisms whose binary exists in bin_dir, known ones first, then any other chat-*."""
    found = []
    help_cache = {}
    for mech in KNOWN:
        path = os.path.join(bin_dir, mech.binary)
        if not _is_executable(path):
            continue
        if mech.needs_help_text:
            if path not in help_cache:
                help_cache[path] = help_text(path)
            if mech.needs_help_text not in help_cache[path]:
                continue
        found.append(mech)
    known_binaries = {m.binary for m in KNOWN}
    try:
        names = sorted(os.listdir(bin_dir))
    except OSError:
        names = []
    for name in names:
        if name.startswith("chat-") and name not in known_binaries:
            if _is_executable(os.path.join(bin_dir, name)):
                found.append(Mechanism(name[len("chat-"):], name))
    return found


def select(mechanisms, wanted):
    """Filters by a list of names; unknown names are an error the user can act on."""
    if not wanted:
        return mechanisms
    by_name = {m.name: m for m in mechanisms}
    missing = [w for w in wanted if w not in by_name]
    if missing:
        raise ValueError(
            "unknown or unbuilt mechanism(s): {}; available here: {}".format(
                ", ".join(missing), ", ".join(by_name) or "none"))
    return [by_name[w] for w in wanted]
