"""The claims in words: each claim's findings (the plain data the claims_* modules evaluate) turned
into the Claim the report shows — figure lines, the explanation, the headline. Nothing here
decides a verdict; every number and outcome comes from the findings."""

from plot import rules
from plot.claim_common import NOT_COMPARED, Claim
from plot.claims_epoll import evaluate_claim7


def decided_lines(until):
    """How measuring until decided went (claim_common.UntilDecided): [] for a run that did not
    measure until decided."""
    if until is None:
        return []
    if not until.extra_round:
        return ["measured until decided: decided with the planned repeats (no extra round)"]
    text = (
        f"measured until decided: {until.extra_repeats} extra round(s) of fresh"
        f" instances, {until.looks} look(s) of at most {until.max_looks}"
    )
    if until.decided:
        return [text + ", then decided"]
    return [text + f"; still undecided ({', '.join(until.open)}): {until.stopped}"]


def cheaper_lines(cheaper):
    """The figure lines of a claim_common.Cheaper: the pooled ratio, then the ratio per mode when
    more than one mode was measured."""
    figures = [
        "runs.csv, server CPU per message, every mode but churn: "
        + cheaper.ratio.describe(cheaper.a, cheaper.b)
    ]
    if len(cheaper.per_mode) > 1:
        figures.append(
            "ratio per mode (information): "
            + ", ".join(f"{mode} {r:.3f}" for mode, r in cheaper.per_mode.items())
        )
    return figures


def edge_against_level_why(outcome):
    m = f"{rules.EQUIVALENCE_MARGIN:.0%}"
    return {
        rules.CHEAPER: (
            "ET needed fewer wait calls and re-reports per message: over every point and repeat"
            f" its server CPU per message was lower than LT's by more than {m}, at"
            f" {rules.CONFIDENCE:.0%} confidence."
        ),
        rules.EQUIVALENT: (
            f"ET and LT cost the same within ±{m}. Explanation, not measured by this run: with few"
            " ready descriptors per call, re-reporting a descriptor costs little, so the trigger"
            " mode does not change what a message costs."
        ),
        rules.DEARER: (
            "LT was cheaper. Explanation, not measured by this run: with few ready descriptors"
            " per call re-reporting costs little, and ET's obligatory drain-until-EAGAIN read adds"
            " a system call."
        ),
        rules.NOT_CHEAPER: (
            f"ET did not save more than {m}: its interval lies at or above"
            f" {1 - rules.EQUIVALENCE_MARGIN:.2f} and reaches above"
            f" {1 + rules.EQUIVALENCE_MARGIN:.2f}."
        ),
        rules.UNDECIDED: (
            f"The interval of the ratio straddles {1 - rules.EQUIVALENCE_MARGIN:.2f}: a saving of"
            f" more than {m} is neither established nor excluded, and the sweep's extra rounds"
            " did not decide it (see how many it took)."
        ),
        rules.TOO_FEW_REPEATS: (
            f"With fewer than {rules.MIN_REPEATS_COMPARE} repeats per point noise alone could "
            f"pick the winner: rerun with at least {rules.MIN_REPEATS_COMPARE} repeats (the "
            "default sweep)."
        ),
    }[outcome]


def render_claim7(found):
    if found.outcome == NOT_COMPARED:
        return Claim(
            7,
            found.verdict,
            ["runs.csv: epoll-lt and epoll-et were not both measured at any point"],
            "Nothing to compare.",
        )
    figures = cheaper_lines(found.cheaper) + decided_lines(found.until_decided)
    return Claim(7, found.verdict, figures, edge_against_level_why(found.outcome))


def claim7(results):
    return render_claim7(evaluate_claim7(results))
