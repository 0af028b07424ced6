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
    Finding,
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
    completion_ratios,
    evaluate_claim11,
    regime_points,
)
from plot.claims_curves import evaluate_claim12
from plot.claims_epoll import churn_points, evaluate_claim7, evaluate_claim9, evaluate_claim10
from plot.claims_limits import evaluate_claim1, evaluate_claim3, evaluate_claim5, evaluate_claim6
from plot.claims_shape import evaluate_claim8, evaluate_linear_cost
from plot import claims_text as text
from plot import claims_text_limits as text_limits
from plot import claims_text_shape as text_shape
from plot.claims_text import claim7, claim9, claim10, claim11, claim12  # noqa: F401
from plot.claims_text_limits import claim1, claim3, claim5, claim6  # noqa: F401
from plot.claims_text_shape import claim8, linear_cost_claim  # noqa: F401
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
        self.decidable = True  # one mechanism against itself: no sitting term (idle_growth.py)


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
        # Undecided but not decidable: only the sitting's own spread straddles the edge, and more
        # rounds of this sitting cannot narrow that (rules.SITTING_LOG_SD).
        # (decidable is False only for an undecided ratio, so it alone says it.)
        self.undecidable = not ratio.decidable
        if open_ is None:
            open_ = (not ratio.decided and ratio.decidable) or ratio.left_out > 0
        self.open = open_
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
    calls, cpu = completion_ratios(results)
    # The CPU decides claim 11 only once the calls are fewer: measure it again only then.
    cpu_open = (
        not cpu.decided and cpu.decidable and calls.outcome in (rules.CHEAPER, rules.UNDECIDED)
    )
    found.append(Comparison(11, "system calls per message", calls, [a, b]))
    found.append(Comparison(11, "server CPU per message", cpu, [a, b], open_=cpu_open))
    return found


def findings(results, anchors=None):
    """Every claim evaluated, in claim order: a Finding each (plain data, no words)."""
    anchors = anchors or load_anchors()
    facts = [
        evaluate_claim1(results),
        evaluate_linear_cost(results, 2, "select"),
        evaluate_claim3(results),
        evaluate_linear_cost(results, 4, "poll"),
        evaluate_claim5(results),
        evaluate_claim6(results),
        evaluate_claim7(results),
        evaluate_claim8(results),
        evaluate_claim9(results, anchors),
        evaluate_claim10(results),
        evaluate_claim11(results),
        evaluate_claim12(results),
    ]
    return [Finding(number, f) for number, f in enumerate(facts, start=1)]


RENDERERS = {
    1: text_limits.render_claim1,
    2: text_shape.render_linear_cost,
    3: text_limits.render_claim3,
    4: text_shape.render_linear_cost,
    5: text_limits.render_claim5,
    6: text_limits.render_claim6,
    7: text.render_claim7,
    8: text_shape.render_claim8,
    9: text.render_claim9,
    10: text.render_claim10,
    11: text.render_claim11,
    12: text.render_claim12,
}


def render(finding):
    """A Finding in words: the Claim the report, the HTML and `./bench compare` show."""
    return RENDERERS[finding.number](finding.facts)


def evaluate(results, anchors=None):
    """Every claim evaluated and rendered, in claim order."""
    return [render(f) for f in findings(results, anchors)]
