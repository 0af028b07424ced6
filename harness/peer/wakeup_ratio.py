"""The summary of harness/peer/per_wakeup_cost.sh: each server's median CPU per wake-up, then each
chat server against sockperf's server on the same mechanism as a paired ratio with its interval.

Why paired: on a VM the CPU per wake-up of one 3-second run moves by a third from one run to the
next (11-21 us for the same server in one sitting, 2026-12-07), far more than the 5 % the goal
allows. The script rotates the servers every repeat, so repeat r of a chat server and of its
sockperf peer ran minutes apart at most; the ratio within each repeat cancels most of that drift,
and its spread over the repeats gives the interval (plot.rules.CostRatio, one point per
idle-states setting, the repeat as the instance). A median ratio alone would pass or fail the
goal on noise.

    python3 -m harness.peer.wakeup_ratio ROWS.csv [--goal 1.05] [--confidence 0.95]
"""

import argparse
import csv
import statistics
import sys

from plot import rules

# sockperf's server has select, poll and epoll; the chat servers without a namesake (edge-
# triggered epoll, io_uring's poll model) are judged against its epoll.
PEER_OF = {"chat-select": "sockperf-select", "chat-poll": "sockperf-poll"}
DEFAULT_PEER = "sockperf-epoll"
GOAL = 1.05


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def costs(rows):
    """{(server, idle_states): [(repeat, us per wake-up), ...]}"""
    found = {}
    for r in rows:
        key = (r["server"], r["idle_states"])
        found.setdefault(key, []).append((int(r["repeat"]), float(r["server_cpu_us_per_wakeup"])))
    return found


def peer_of(server):
    chat = server.removeprefix("A:")
    return PEER_OF.get(chat, DEFAULT_PEER) if chat.startswith("chat-") else None


def against_goal(ratio, goal):
    if ratio.high is None:
        return "undecided (fewer than 3 paired repeats)"
    if ratio.high <= goal:
        return f"<= {goal:.2f}x: met (the whole interval)"
    if ratio.low > goal:
        return f"<= {goal:.2f}x: not met (the whole interval above)"
    return f"<= {goal:.2f}x: undecided (the interval straddles it)"


def ratios(found, goal=GOAL, confidence=0.95):
    """(server, state, peer, CostRatio, verdict words) for every chat server with a peer row."""
    out = []
    for server, state in sorted(found):
        peer = peer_of(server)
        if peer is None or (peer, state) not in found:
            continue
        ratio = rules.CostRatio(
            {state: found[(server, state)]}, {state: found[(peer, state)]}, confidence=confidence
        )
        out.append((server, state, peer, ratio, against_goal(ratio, goal)))
    return out


def summary(rows, goal=GOAL, confidence=0.95):
    found = costs(rows)
    lines = []
    for (server, state), values in sorted(found.items()):
        v = [c for _, c in values]
        lines.append(
            f"# {server:15} idle_states={state:5}  median {statistics.median(v):6.2f} us/wake-up"
            f"  (min {min(v):.2f}, max {max(v):.2f}, n={len(v)})"
        )
    for server, state, peer, ratio, words in ratios(found, goal, confidence):
        if ratio.ratio is None:
            lines.append(f"# ratio {server}/{peer} idle_states={state}: {words}")
            continue
        lines.append(
            f"# ratio {server}/{peer} idle_states={state}: {ratio.ratio:.3f}x"
            f" ({confidence:.0%} CI {ratio.low:.3f} ... {ratio.high:.3f}, {ratio.pairs[state]}"
            f" paired repeats), {words}"
        )
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rows")
    parser.add_argument("--goal", type=float, default=GOAL)
    parser.add_argument("--confidence", type=float, default=0.95)
    args = parser.parse_args(argv)
    print("\n".join(summary(read_rows(args.rows), args.goal, args.confidence)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
