"""Which peer mechanism runs the same system call as which of our backends (docs/peers.md).

The registry (servers/MechanismRegistry.cpp) says which group a mechanism is in and whether it
refuses descriptors past FD_SETSIZE, but not which of our backends it stands beside; this table is
that pairing's one place. The report's peers section and the libevent cross-check read it.
"""

# Our backend -> libevent with that backend forced. libevent's events are EV_READ | EV_PERSIST
# without EV_ET, so its epoll backend is level-triggered, as our epoll-lt.
LIBEVENT = {
    "select": "libevent-select",
    "poll": "libevent-poll",
    "epoll-lt": "libevent-epoll",
}

# Our backend -> the other peers over the same system call: libuv (epoll underneath on Linux)
# and the tutorial-style Python servers.
OTHERS = {
    "select": ["py-select"],
    "poll": ["py-poll"],
    "epoll-lt": ["libuv", "py-epoll"],
}


def peers_of(ours):
    """The peers of one of our backends, libevent's first."""
    return [LIBEVENT[ours]] + OTHERS[ours]


def pairs():
    """(our backend, peer) in the order the report shows them."""
    return [(ours, peer) for ours in LIBEVENT for peer in peers_of(ours)]
