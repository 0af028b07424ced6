"""The rules in plain words, with their thresholds, for the report: written from the constants of
plot/rules.py and plot/shape_rules.py, so the words cannot drift from the rules."""

from plot.rules import (
    CAPACITY_FALL_MARGIN,
    CONFIDENCE,
    CTL_MATTERS_RATIO,
    CTL_NEGLIGIBLE_RATIO,
    DEFAULT_SLO_P99_US,
    DEGRADES_REL,
    EQUIVALENCE_MARGIN,
    FD_MARGIN,
    LOADGEN_BUSY_PCT,
    LOOK_CONFIDENCE,
    MAX_LOOKS,
    SITTING_LOG_SD,
    SITTING_LOG_SD_CALLS,
    MAX_REL_FLAT,
    MIN_POINTS,
    MIN_R2,
    MIN_REL_GROWTH,
    MIN_REPEATS_COMPARE,
    OBJECTIVE_ACHIEVED_MIN,
    ORDER_OF_MAGNITUDE,
    POLL_BEYOND_FACTOR,
    PUBLISHED_FLAT_RATIO,
    PUBLISHED_GROWS_RATIO,
)
from plot.shape_rules import LOW_END_COST_FACTOR, PER_FD_MARGIN, SAME_PER_FD_MARGIN


def rules_text():
    """The rules in plain words, with their thresholds, for the report."""
    return [
        *series_shape_text(),
        "",
        *shape_rules_text(),
        *epoll_claims_text(),
        *comparison_rules_text(),
        *limit_and_capacity_text(),
        *combining_text(),
    ]


def series_shape_text():
    """The shape rule of a series (a least-squares line and its slope's interval)."""
    return [
        (
            "**Shape of a series** (a cost against ready descriptors: claims 8 and 9)."
            " A least-squares line is fitted through every repeat's point (for micro.csv, through"
            f" the per-N medians of its repetitions), with the {CONFIDENCE:.0%} Student-t interval"
            " of its slope. The fitted change across the measured range is divided by the value at"
            " the smallest x."
        ),
        (
            "- *grows linearly*: even the low end of the interval adds at least"
            f" {MIN_REL_GROWTH:.0%} of the starting value over the range, and a straight line"
            f" through the medians explains at least R² = {MIN_R2} of their variance (*grows, not"
            " linearly* when R² is lower);"
        ),
        (
            f"- *flat*: the whole interval changes the value by at most ±{MAX_REL_FLAT:.0%} over"
            " the range;"
        ),
        (
            "- *unclear* otherwise (the data are too noisy to tell), and *too few points* below"
            f" {MIN_POINTS} distinct x values."
        ),
    ]


def epoll_claims_text():
    """Claims 8 and 9: how their pieces of evidence combine."""
    return [
        (
            "**Claim 8**: two halves. epoll's cost against the watched count (server CPU per"
            " message against idle connections; one epoll_wait against N watched) must be *flat*"
            " by the cost rule above, and one epoll_wait against k ready descriptors must *grow*"
            " (the line fit above). Confirmed when both hold, refuted when the watched cost grows"
            " or the ready series is flat, inconclusive otherwise (e.g. no micro.csv: the ready"
            " half is not measured)."
        ),
        (
            "**Claim 9**: each piece of evidence refutes it: the probe's mmap of an epoll"
            " descriptor failing, the probe's epoll_wait into a read-only buffer failing with"
            " EFAULT (the kernel copies into user memory), and one epoll_wait's cost *growing* with"
            " the number of ready events (a cost per event, as a copy per event predicts); a"
            " successful mmap would count for the claim. The kernel source is cited beside them,"
            " never used as a verdict by itself."
        ),
    ]


def comparison_rules_text():
    """Comparisons between mechanisms (7, 10's churn half, 11) and measuring until decided."""
    return [
        (
            "**Comparisons between mechanisms (7, the churn half of 10, 11)** need at least"
            f" {MIN_REPEATS_COMPARE} repeats of each point: with fewer, noise alone could pick the"
            ' winner, so the comparison is *inconclusive* and its figures say "needs ≥'
            f' {MIN_REPEATS_COMPARE} repeats, this run has N". No verdict is decided by comparing'
            " min–max ranges; those stay in tables and plots as information."
        ),
        (
            "**A cheaper than B (7)**: decided once, on every point and repeat together, from "
            "server CPU per message in every mode but churn. At each point (mode × idle count) "
            "the cost ratio A / B is taken within each repeat pair (repeat r of A and of B ran "
            "back to back) on a log scale; what is estimated is the mean over the measured points "
            "(the plan's points: a rerun measures the same ones). Every mode of one idle count in "
            "one repeat ran on the same fresh servers, so the unit of independence is that "
            "instance: the interval is a Student t over the spread of the instances' mean log "
            f"ratios, at {LOOK_CONFIDENCE:.2%} per look (below), with a between-sittings sd of "
            f"{SITTING_LOG_SD} in log ({SITTING_LOG_SD_CALLS} for system calls) added in "
            "quadrature: repeats in one sweep share its sitting and cannot see how far the ratio "
            "moves from one sweep to the next, measured over nine sweeps at unchanged code "
            "(docs/claims.md#between-sittings). Confirmed when the whole interval "
            f"is below {1 - EQUIVALENCE_MARGIN:.2f} (A saves more than {EQUIVALENCE_MARGIN:.0%}); "
            f"refuted when the whole interval is at or above {1 - EQUIVALENCE_MARGIN:.2f} (A saves "
            f"at most {EQUIVALENCE_MARGIN:.0%}: as cheap within ±{EQUIVALENCE_MARGIN:.0%}, or "
            f"dearer, said for information); inconclusive while it straddles "
            f"{1 - EQUIVALENCE_MARGIN:.2f}. One edge only, so a ratio near 1 or near "
            f"{1 + EQUIVALENCE_MARGIN:.2f} cannot make two runs disagree. A point with fewer than "
            f"{MIN_REPEATS_COMPARE} repeat pairs (a repeat failed or was loadgen-bound) is left "
            "out and counted."
        ),
        (
            "**Measured until decided**: after the planned repeats the sweep looks at every claim "
            "decided by such an interval; while one straddles its edge, or has lost points, the "
            "sweep runs another round of fresh instances of exactly the points that feed it (only "
            "the mechanisms and modes concerned) and looks again, at most "
            f"{MAX_LOOKS} looks in all and within --decide-budget seconds. Each look uses the "
            f"Bonferroni level {LOOK_CONFIDENCE:.2%} = 1 − {1 - CONFIDENCE:.0%} / {MAX_LOOKS}, "
            "however many looks the run makes, so stopping at the first decision cannot raise the "
            f"chance of a wrong verdict above {1 - CONFIDENCE:.0%}. A claim whose interval would "
            "straddle its edge even with unlimited repeats (the between-sittings part alone "
            "reaches past it from every estimate the repeats allow) is not measured again: it "
            "cannot be decided in one sitting. The report says, per claim, how many looks, "
            "repeats and points it took and whether the budget ran out."
        ),
        (
            "**Fewer calls, cheaper server (11)**: uring-completion against epoll-lt, two"
            " decisions by the rule of claim 7 over every regime measured for both (mode × active"
            " connections × message size × idle count, in the primary placement and idle states;"
            " churn left out): first on the server's system calls per message, then on its CPU"
            " per message. Confirmed when both are *cheaper*; refuted when the system calls are"
            " not fewer by more than the margin, or fewer while the CPU is not cheaper by more than"
            " it (the calls saved did not make the server cheaper); inconclusive otherwise."
            " Which model wins in each regime (ratio of medians beyond"
            f" ±{EQUIVALENCE_MARGIN:.0%}) is listed for information and never decides."
        ),
    ]


def limit_and_capacity_text():
    """Limits (1, 3), observed behaviour (5, 6), registration (10), capacity (12)."""
    return [
        (
            "**Limits (1, 3)**: select's limit is confirmed when select was refused only once its"
            f" descriptors reached FD_SETSIZE − {FD_MARGIN} or more (the server holds a few"
            " descriptors besides the idle ones) and served every point below; refuted if plain"
            f" select served a point needing descriptors ≥ FD_SETSIZE + {FD_MARGIN}. poll has no"
            f" maximum of its own when it served at least {POLL_BEYOND_FACTOR} × FD_SETSIZE idle"
            " connections with every one still open (the bound it meets is RLIMIT_NOFILE, a"
            " per-process limit)."
        ),
        (
            "**Observed behaviour (5, 6)**: from `probe.json` (written by `mux-probe`, which makes"
            " a descriptor ready, does not service it and waits again): confirmed when every"
            " observation the claim needs is yes, refuted when one is no, inconclusive when the"
            " probe was not run."
        ),
        (
            "**Registration (10)**: epoll_ctl add + del for one connection against one epoll_wait"
            f" call: confirmed when ≥ {CTL_MATTERS_RATIO} of a call, refuted when ≤"
            f" {CTL_NEGLIGIBLE_RATIO}, inconclusive between. With churn rows, also by the rule of"
            " claim 7 on the time per connection (1 / connections per second) of poll against"
            " epoll-lt at the smallest idle count, paired by repeat: confirmed when poll's is lower"
            f" by more than {EQUIVALENCE_MARGIN:.0%} (registration costs epoll what poll does not"
            " pay); otherwise churn gives no verdict (epoll saves on the wait side what it pays in"
            " registration)."
        ),
        (
            "**Capacity at a latency objective (12)**: an offered rate meets the objective when"
            f" the server achieved ≥ {OBJECTIVE_ACHIEVED_MIN:.0%} of it, lost nothing, and its"
            " p99 is within the objective (`--slo-p99`, default"
            f" {DEFAULT_SLO_P99_US:g} µs); a repeat's capacity is the highest rate that met it"
            " below the lowest that did not (a lower bound when the loadgen used ≥"
            f" {LOADGEN_BUSY_PCT:g} % of a CPU at that rate, or no rate failed). Per mechanism,"
            " capacity at its largest idle count ÷ at its smallest, with its"
            f" {CONFIDENCE:.0%} interval over ≥ {MIN_REPEATS_COMPARE} fresh-instance repeats:"
            f" *does not fall* when the whole interval is ≥ {1 - CAPACITY_FALL_MARGIN:.2f},"
            f" *falls* when all of it is below. Confirmed when every epoll measured does not fall"
            " and every select and poll measured falls (in proportion: its time per message at"
            " capacity not slower than linear in idle connections, by the per-descriptor rule,"
            " when the counts give a shape); refuted when any does the opposite; inconclusive"
            " otherwise, and when the run has no curves."
        ),
    ]


def combining_text():
    """Several pieces of evidence for one claim, and published figures."""
    return [
        (
            "**Several pieces of evidence** for one claim: confirmed when at least one confirms and"
            " none refutes, refuted in the mirror case, inconclusive when they disagree or none"
            " decides."
        ),
        (
            "**Published figures**: a published series *grows* when its last value is ≥ "
            f"{PUBLISHED_GROWS_RATIO:g} × its first and is *flat* within {PUBLISHED_FLAT_RATIO:g} "
            "×; ours by the shape rule above. *Same shape* when both agree; *same order of "
            f"magnitude* when two figures are within a factor {ORDER_OF_MAGNITUDE:g}; throughput "
            f"*degrades* when it loses at least {DEGRADES_REL:.0%}."
        ),
    ]


def shape_rules_text():
    """The per-descriptor rule in plain words, for rules_text()."""
    m = PER_FD_MARGIN
    return [
        (
            "**Cost per watched descriptor (claims 2, 4, and 8's watched half)**. The cost one"
            " descriptor adds at N is (cost(N) − cost(N0)) / (N − N0), N0 the smallest count"
            " measured (0 idle connections in runs.csv; the smallest N in micro.csv): subtracting"
            " the fixed cost of a call or a message leaves what the descriptors cost. *Linear*"
            " means this figure is flat. It is compared at the two ends of the measured range:"
            f" the low end is the smallest count costing ≥ {LOW_END_COST_FACTOR:g} × cost(N0)"
            " (below it the added cost is a difference of near-equal figures), the high end the"
            " largest count. The ratio high / low gets a"
            f" {CONFIDENCE:.0%} interval (means over repeats — micro.csv: over repetitions, from"
            " ns_per_call_repeats —, delta method on the log, Welch–Satterthwaite degrees of"
            f" freedom). Within ±{m:.0%} ({1 - m:.2f} … {1 + m:.2f}): *linear*; wholly above"
            f" {1 + m:.2f}: *grows at least linearly*, and the figures say by how much per"
            " descriptor from which count to which, and up to which count it stayed within the"
            f" margin (never a single slope over a bend); wholly below {1 - m:.2f}: *slower than"
            f" linear*; otherwise *unclear*. The margin is MAX_REL_FLAT (±{MAX_REL_FLAT:.0%}):"
            " linear is flatness of the per-descriptor cost."
        ),
        (
            "- The cost itself *grows* when the interval of cost(largest) / cost(N0) lies wholly"
            f" at or above {1 + MIN_REL_GROWTH:.2f}, and is *flat* when it lies within"
            f" ±{MAX_REL_FLAT:.0%}."
        ),
        (
            '- Claims 2 and 4 ("grows linearly"): confirmed when the cost grows and the whole'
            " interval of the per-descriptor ratio is at or above"
            f" {1 - PER_FD_MARGIN:.2f} (linear or rising: each descriptor adds at least a fixed"
            " cost, what the claim teaches; which of the two is said in the figures and never"
            " moves the verdict); refuted when the cost is flat or grows slower than linearly;"
            " inconclusive otherwise. Claim 8's watched half: confirmed when the whole interval"
            f" of cost(high end) / cost(low end) is at most {1 + MAX_REL_FLAT:.2f}, refuted when"
            " all of it is above, inconclusive while it straddles: one edge, as for the"
            " comparisons."
        ),
        (
            "- select against poll: their per-descriptor costs at each count both measured (above"
            f" both low ends), ratio with the same interval; they *match* within"
            f" ±{SAME_PER_FD_MARGIN:.0%}. For information; never a verdict."
        ),
    ]
