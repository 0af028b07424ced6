"""Where each mechanism wins: at every idle count of the cost mode, the mechanism with the lowest
median p50 latency and the one with the lowest median server CPU per message, and how far the
next one is. Plain data for the report's top; for information, never a verdict (the claims'
rules decide those)."""

from dataclasses import dataclass

from plot import rules
from plot.claims import COST_METRIC, cost_mode

# What the top of the report ranks: the two figures the story is told with.
RANKED = [("p50_us", "p50 latency (µs)"), (COST_METRIC, "server CPU per message (µs)")]


@dataclass
class Place:
    """The lowest median of one metric at one idle count, and the next lowest."""

    best: str
    value: float
    next_best: str = ""
    next_value: float = None

    @property
    def tie(self):
        """The next is within rules.EQUIVALENCE_MARGIN: no mechanism wins here."""
        return self.next_value is not None and self.next_value <= self.value * (
            1 + rules.EQUIVALENCE_MARGIN
        )


@dataclass
class Wins:
    mode: str
    metrics: list  # [(metric, words)]
    rows: list  # [(idle, {metric: Place or None})]


def place(results, mode, metric, idle):
    medians = []
    for mech in results.mechanisms(results.scenario_runs(mode)):
        s = results.series(mode, mech, metric)
        if idle in s.xs():
            medians.append((s.median(idle), mech))
    if not medians:
        return None
    medians.sort()
    (value, best), rest = medians[0], medians[1:]
    return Place(best, value, *(reversed(rest[0]) if rest else ()))


def evaluate(results):
    """Wins in the cost mode (pingpong when measured), or None when no mode has CPU per message."""
    mode = cost_mode(results)
    if mode is None:
        return None
    idles = sorted({r.idle for r in results.scenario_runs(mode) if not r.is_floor})
    rows = [(idle, {m: place(results, mode, m, idle) for m, _ in RANKED}) for idle in idles]
    return Wins(mode, RANKED, [(idle, places) for idle, places in rows if any(places.values())])
