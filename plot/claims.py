"""The teaching claims of docs/claims.md, each judged from a results folder by rules.py.

Each claim is evaluated, then rendered: claims_limits, claims_shape, claims_epoll,
claims_completion and claims_curves return its findings as plain data (frozen dataclasses: the
verdict, the outcome, the ratios, fits and counts it rests on; no prose), and claims_text,
claims_text_limits and claims_text_shape turn them into a Claim: its verdict, the figures behind
it (one line per piece of evidence) and one sentence a teacher can read out. Missing inputs (no
micro.csv, no probe.json, a mechanism not swept) make the evidence say so and the verdict
inconclusive; they never crash.
"""


from plot import rules
from plot import shape_rules
from plot.rules import CONFIRMED, INCONCLUSIVE, REFUTED

# The claims live in these modules; what callers reach as claims.NAME is imported here.
from plot.claim_common import (  # noqa: F401
    CLAIMS,
    COST_METRIC,
    COST_MODES,
    EPOLLS,
    Claim,
    cheaper_than,
    cost_mode,
    idle_of,
    load_anchors,
)
from plot.claims_completion import (  # noqa: F401
    COMPLETION,
    COMPLETION_BASELINE,
    SYSCALL_METRIC,
    completion_regimes,
    regime_points,
)
from plot.claims_epoll import churn_points
from plot.claims_text import claim7, claim9, claim10, claim11, claim12
from plot.claims_text_limits import claim1, claim3, claim5, claim6
from plot.claims_text_shape import claim8, linear_cost_claim
from plot.claims_shape import (  # noqa: F401
    SHARED_FAMILY,
    flat_verdict,
    growth_verdict,
    linear_verdict,
    micro_cost_points,
    micro_wait_fit,
    runs_cost_fit,
    runs_cost_points,
)


class FlatRatio:
    """Claim 8's runs.csv half as a comparison: one epoll's server CPU per message at the largest
    idle count over the lowest's (shape_rules.PerFdShape's cost ratio at the look level), flat when
    the whole interval is at most 1 + MAX_REL_FLAT, growing when all of it is above. It offers what
    a rules.CostRatio offers a Comparison and `./bench compare` (points, ratio, interval, verdict).
    """

    def __init__(self, mode, points):
        shape = shape_rules.PerFdShape(points, rules.LOOK_CONFIDENCE)
        ends = shape.xs[:1] + shape.xs[-1:] if len(shape.xs) >= 2 else []
        self.d = {(mode, x): None for x in ends}
        self.lost, self.left_out = [], 0
        self.ratio, self.low, self.high = shape.cost_ratio or (None, None, None)
        self.verdict = flat_verdict(shape)
        self.decided = self.verdict != INCONCLUSIVE
        self.outcome = {CONFIRMED: "flat", REFUTED: "grows"}.get(self.verdict, "undecided")


def flat_comparison(results, mechanism):
    mode, points = runs_cost_points(results, mechanism)
    return Comparison(
        8,
        f"{mechanism} server CPU per message, largest idle count / lowest",
        FlatRatio(mode, points),
        [mechanism],
    )


class Comparison:
    """A claim decided by an interval (a rules.CostRatio, or FlatRatio), and what feeds it: the
    sweep measures these mechanisms, modes and idle counts again while `open`
    (docs/claims.md#measured-until-decided)."""

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
    """Every comparison a verdict rests on, in claim order (7, 8's runs.csv half per epoll, 10's
    churn half, 11's two)."""
    et = cheaper_than(results, "epoll-et", "epoll-lt").ratio
    found = [Comparison(7, "server CPU per message", et, EPOLLS)]
    found += [flat_comparison(results, mech) for mech in EPOLLS]
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
        claim12(results),
    ]
