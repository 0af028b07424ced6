"""What every claim module shares: the claims' words, the Claim a judgement returns, the cost
metric and mode they read, and how measuring until decided went (plot/claims.py gathers them)."""

import json
import os
import re
from dataclasses import dataclass
from typing import Optional

from plot import rules
from plot.results_folder import COST_MEASURED


CLAIMS = {
    1: "`select` cannot watch a descriptor ≥ 1024 (`FD_SETSIZE`) on Linux.",
    2: (
        "The cost of `select` grows linearly with the number of watched descriptors, even idle"
        " ones."
    ),
    3: "`poll` has no maximum descriptor count.",
    4: "The cost of `poll` also grows linearly with the number of watched descriptors.",
    5: (
        "`select` and `poll` are level-triggered: a ready descriptor that is not serviced is"
        " reported again."
    ),
    6: (
        "`epoll` supports both level- and edge-triggered notification; edge-triggered reports a"
        " readiness change once."
    ),
    7: "Edge-triggered epoll is faster than level-triggered.",
    8: "`epoll_wait` cost depends on the number of *ready* descriptors, not the number watched.",
    9: "epoll avoids copying descriptors between kernel and user space by using mmap.",
    10: "Registration (`epoll_ctl`) has its own cost, which matters under connection churn.",
    11: (
        "io_uring's completion model needs fewer system calls per message than epoll, and that"
        " makes the server cheaper."
    ),
    12: (
        "epoll's capacity at a latency objective does not fall as idle connections grow, while"
        " select's and poll's falls in proportion to them."
    ),
}


COST_METRIC = "server_cpu_us_per_msg"


# The runs.csv mode whose per-message CPU decides the cost claims: in ping-pong each message costs
# about one wait call, so the per-call scan shows undiluted; flood and broadcast batch many
# messages per call and divide it away. Other modes are listed for information.
COST_MODES = ["pingpong", "broadcast", "flood"]


EPOLLS = ["epoll-lt", "epoll-et"]


# A comparison's outcome when the two sides were not both measured at any point.
NOT_COMPARED = "not compared"


def load_anchors():
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "anchors.json")) as f:
        return json.load(f)


@dataclass(frozen=True)
class Finding:
    """One claim evaluated: its number and its facts (the plain data its claims_* module returns;
    claims.render says them in words)."""

    number: int
    facts: object

    @property
    def verdict(self):
        return self.facts.verdict

    @property
    def text(self):
        return CLAIMS[self.number]


class Claim:
    """A claim's judgement: its verdict, the figures behind it (one line per piece of evidence),
    why, and which figure is its headline (the first unless the claim names another)."""

    def __init__(self, number, verdict, figures, explanation, evidence="", headline=None):
        self.number = number
        self.text = CLAIMS[number]
        self.verdict = verdict
        self.figures = figures
        self.explanation = explanation
        self.evidence = evidence
        self._headline = headline

    def agreeing_figure(self):
        """The first figure tagged with the claim's own verdict ("[flat? confirmed]"), so that
        the headline is evidence the verdict rests on; else the first figure."""
        tag = re.compile(r"\[[^\]]*\b" + re.escape(self.verdict) + r"\]$")
        return next(
            (f for f in self.figures if tag.search(f)), self.figures[0] if self.figures else ""
        )

    @property
    def headline(self):
        """The headline figure up to its first "; " outside brackets (what follows is detail the
        evidence has)."""
        figure = self._headline or self.agreeing_figure()
        depth = 0
        for i, ch in enumerate(figure):
            depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(ch, 0)
            if depth == 0 and figure.startswith("; ", i):
                return figure[:i]
        return figure


def cost_mode(results):
    """The first mode in COST_MODES that has server CPU per message for some mechanism."""
    for mode in COST_MODES:
        if mode in results.modes():
            for mech in results.mechanisms(results.scenario_runs(mode)):
                if len(results.series(mode, mech, COST_METRIC)):
                    return mode
    return None


def cost_points(results, mechanism, metric=COST_METRIC, skip_modes=("churn",)):
    """{(mode, idle): [(repeat, value), ...]}: every ok point of a mechanism, in every mode's
    primary
    scenario but skip_modes (churn measures connections, not messages)."""
    points = {}
    for mode in results.modes():
        if mode in skip_modes:
            continue
        for x, y, repeat in results.series(mode, mechanism, metric, statuses=COST_MEASURED).points:
            points.setdefault((mode, x), []).append((repeat, y))
    return points


def idle_of(point):
    """The instance a point shares with the other points of its repeat: the sweep runs every mode
    (and scenario) of one idle count on the same fresh servers, so they share the idle count."""
    return point[-1]


@dataclass(frozen=True)
class Cheaper:
    """ "a is cheaper than b" on server CPU per message (or another metric): the CostRatio over
    every point and repeat, and its ratio per mode (information)."""

    a: str
    b: str
    ratio: rules.CostRatio
    per_mode: dict


def cheaper_than(results, a, b, metric=COST_METRIC):
    """ "a is cheaper than b" on server CPU per message, every mode but churn. Reusable by any such
    claim (e.g. io_uring completion against epoll)."""
    ratio = rules.CostRatio(
        cost_points(results, a, metric), cost_points(results, b, metric), instance=idle_of
    )
    return Cheaper(a, b, ratio, ratio.group_ratios(lambda point: point[0]))


@dataclass(frozen=True)
class UntilDecided:
    """How measuring until decided went for one claim (env.json's `decide`, written by the sweep's
    extra rounds). extra_round False: decided with the planned repeats."""

    extra_round: bool
    extra_repeats: object = 0
    looks: object = 1
    max_looks: object = None
    decided: bool = True
    open: tuple = ()
    stopped: object = None
    undecidable: tuple = ()  # comparisons not measured again: the sitting alone straddles the edge


def until_decided(results, number) -> Optional[UntilDecided]:
    """None for a run that did not measure until decided."""
    decide = results.raw_env.get("decide")
    if not isinstance(decide, dict):
        return None
    entry = (decide.get("claims") or {}).get(str(number))
    if entry is None:
        return UntilDecided(extra_round=False)
    return UntilDecided(
        extra_round=True,
        extra_repeats=entry.get("extra_repeats", 0),
        looks=entry.get("looks", 1),
        max_looks=decide.get("max_looks"),
        decided=bool(entry.get("decided")),
        open=tuple(entry.get("open") or []),
        stopped=entry.get("stopped"),
        undecidable=tuple(entry.get("undecidable") or []),
    )
