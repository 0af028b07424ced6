"""The teaching claims of SPEC sections 6 and 7, each judged from a results folder by rules.py.

Each claim returns a Claim: its verdict, the figures behind it (one line per piece of evidence)
and one sentence a teacher can read out. Missing inputs (no micro.csv, no probe.json, a
mechanism not swept) make the evidence say so and the verdict inconclusive; they never crash.
"""


from plot import rules

# The claims live in these modules; what callers reach as claims.NAME is imported here.
from plot.claim_common import (  # noqa: F401
    CLAIMS,
    COST_METRIC,
    COST_MODES,
    EPOLLS,
    Claim,
    cheaper_than,
    cost_mode,
    decided_lines,
    idle_of,
    load_anchors,
)
from plot.claims_completion import (  # noqa: F401
    COMPLETION,
    COMPLETION_BASELINE,
    SYSCALL_METRIC,
    claim11,
    completion_regimes,
    regime_points,
)
from plot.claims_epoll import churn_points, claim7, claim9, claim10
from plot.claims_limits import claim1, claim3, claim5, claim6
from plot.claims_shape import (  # noqa: F401
    SHARED_FAMILY,
    claim8,
    flat_verdict,
    growth_verdict,
    linear_cost_claim,
    linear_verdict,
    micro_cost_points,
    micro_wait_fit,
    runs_cost_fit,
    runs_cost_points,
)


class Comparison:
    """A claim decided by a rules.CostRatio, and what feeds it: the sweep measures these
    mechanisms, modes and idle counts again while `open` (SPEC §8, measure until decided)."""

    def __init__(self, claim, what, ratio, mechanisms, open_=None):
        self.claim, self.what, self.ratio = claim, what, ratio
        self.mechanisms = list(mechanisms)
        points = list(ratio.d) + ratio.lost
        self.modes = list(dict.fromkeys(p[0] for p in points))
        self.counts = sorted({idle_of(p) for p in points})
        # A point with too few repeats (a failed run) changes what is estimated: measure it again.
        self.open = (not ratio.decided or ratio.left_out > 0) if open_ is None else open_
        if not points:
            self.open = False  # neither side measured: nothing to repeat


def comparisons(results):
    """Every comparison a verdict rests on, in claim order (7, 10's churn half, 11's two)."""
    et, _ = cheaper_than(results, "epoll-et", "epoll-lt")
    found = [Comparison(7, "server CPU per message", et, EPOLLS)]
    churn = results.series("churn", "epoll-lt", "conns_per_s")
    if churn.xs():
        x0 = churn.xs()[0]
        ratio = rules.CostRatio(
            churn_points(results, "poll", x0), churn_points(results, "epoll-lt", x0)
        )
        found.append(Comparison(10, "time per connection (churn)", ratio, ["poll", "epoll-lt"]))
    a, b = COMPLETION, COMPLETION_BASELINE
    calls, cpu = (
        rules.CostRatio(
            regime_points(results, a, metric), regime_points(results, b, metric), instance=idle_of
        )
        for metric in (SYSCALL_METRIC, COST_METRIC)
    )
    # The CPU decides claim 11 only once the calls are fewer: measure it again only then.
    cpu_open = not cpu.decided and calls.outcome in (rules.CHEAPER, rules.UNDECIDED)
    found.append(Comparison(11, "system calls per message", calls, [a, b]))
    found.append(Comparison(11, "server CPU per message", cpu, [a, b], open_=cpu_open))
    return found


def evaluate(results, anchors=None):
    anchors = anchors or load_anchors()
    return [
        claim1(results),
        linear_cost_claim(results, 2, "select"),
        claim3(results),
        linear_cost_claim(results, 4, "poll"),
        claim5(results),
        claim6(results),
        claim7(results),
        claim8(results),
        claim9(results, anchors),
        claim10(results),
        claim11(results),
    ]
