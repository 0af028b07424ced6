"""The library and Python mechanisms beside ours in a synthetic results folder
(plot/peers_section.py): copies of our backends' rows at a stated factor, and the registry listing
that names their groups."""

import csv
import json
import os
import random

from plot.tests.synthetic import PER_IDLE_NS, write_renumbered

# ---- peers: the library and Python mechanisms beside ours (plot/peers_section.py) ------------

# The registry's group of every peer (servers/MechanismRegistry.cpp), and which refuse
# descriptors past FD_SETSIZE.
PEER_GROUPS = {
    "libevent-select": "libraries",
    "libevent-poll": "libraries",
    "libevent-epoll": "libraries",
    "libuv": "libraries",
    "py-select": "python",
    "py-poll": "python",
    "py-epoll": "python",
}
REFUSES_FD_SETSIZE = ["select", "libevent-select", "py-select"]
# What a peer costs against our backend when a test does not say: the libraries a little dearer,
# the interpreter a lot.
PEER_FACTOR = {"libraries": 1.15, "python": 3.0}


def peer_listing(names=("select", "poll", "epoll-lt", "epoll-et")):
    """A --list-mechanisms JSON text with our mechanisms and every peer, their groups and
    refuses_past_fd_setsize, as the built servers print it."""
    table = [
        {
            "name": n,
            "group": PEER_GROUPS.get(n, "ours"),
            "cost_independent_of_idle": "epoll" in n or n == "libuv",
            "refuses_past_fd_setsize": n in REFUSES_FD_SETSIZE,
        }
        for n in list(names) + list(PEER_GROUPS)
    ]
    return json.dumps(table)


def with_peers(folder, factors=None, only=None, noise=0.03, seed=13):
    """Adds to folder/runs.csv (written by write()) every peer of plot/peers.py as a copy of our
    backend's rows: server CPU per message and p50 of each ok row × its factor (PEER_FACTOR of its
    group, or factors[peer]: a number, or {idle: number} for the idle counts it names, the group's
    elsewhere), each copy jittered by ±noise of its own; refusals copied as they are. only: the
    peers to add (default every one)."""
    from plot import peers

    rng = random.Random(seed)
    factors = factors or {}
    path = os.path.join(folder, "runs.csv")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        columns, rows = reader.fieldnames, list(reader)
    added = []
    for ours, peer in peers.pairs():
        if only is not None and peer not in only:
            continue
        default = PEER_FACTOR[PEER_GROUPS[peer]]
        wanted = factors.get(peer, default)
        for r in [r for r in rows if r["mechanism"] == ours]:
            copy = dict(r, mechanism=peer)
            factor = wanted.get(int(r["idle"]), default) if isinstance(wanted, dict) else wanted
            if r["status"] == "ok":
                for key in ("server_cpu_us_per_msg", "p50_us"):
                    value = float(r[key]) * factor * (1 + rng.uniform(-noise, noise))
                    copy[key] = f"{value:.3f}"
            added.append(copy)
    rows += added
    write_renumbered(path, columns, rows)
    return folder


def peer_registry():
    """The registry as plot/idle_growth.read_registry reads peer_listing()."""
    from plot import idle_growth

    return idle_growth.Registry(
        flat=["epoll-lt", "epoll-et", "libevent-epoll", "libuv", "py-epoll"],
        source="synthetic registry",
        groups={**{m: "ours" for m in PER_IDLE_NS}, **PEER_GROUPS},
        refuses_fd_setsize=list(REFUSES_FD_SETSIZE),
    )
