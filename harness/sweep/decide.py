"""Measuring until decided (docs/claims.md#measured-until-decided): after the planned repeats,
extra rounds of fresh instances for the claims whose interval still straddles its edge.

The rule (when a claim is decided, how many looks, at which confidence) lives in plot/rules.py
and which points feed which claim in plot/claims.py (`comparisons`); this module only runs the
rounds they ask for, within the time budget, and records what happened in env.json's `decide`.
"""

import time

from harness.sweep import plan
from plot import claims, rules
from plot.results_folder import ResultsFolder


# Why a comparison is not measured again although undecided (Comparison.undecidable).
SITTING_BOUND = (
    "cannot be decided in one sitting: the spread between sittings alone"
    " (rules.SITTING_LOG_SD) straddles the edge, whatever the repeats"
)


def open_comparisons(out_dir):
    """(open, undecidable): the comparisons whose ratio is not decided yet and that more rounds
    could decide, and those that no round of this sitting could; from runs.csv as written so
    far."""
    every = claims.comparisons(ResultsFolder(out_dir))
    return [c for c in every if c.open], [c for c in every if c.undecidable and not c.open]


def round_plan(open_, counts):
    """{idle count: (mechanism names, modes)} for one extra round: at each count that feeds an
    open comparison, the union of what the open comparisons need there, in the sweep's order."""
    needs = {}
    for c in open_:
        for count in c.counts:
            if count not in counts:
                continue
            mechs, modes = needs.setdefault(count, ([], []))
            mechs.extend(m for m in c.mechanisms if m not in mechs)
            modes.extend(m for m in c.modes if m not in modes)
    return {count: needs[count] for count in counts if count in needs}


def round_cost(needs, args):
    """Expected seconds of one round: per count, the set-up and one run per mechanism and mode."""
    seconds = 0.0
    for count, (mechs, modes) in needs.items():
        seconds += len(mechs) * plan.setup_cost(count)
        seconds += (
            len(mechs) * len(modes) * len(args.variants) * plan.run_cost(args.warmup, args.duration)
        )
    return seconds


def fitting(open_, sweep, room, pace):
    """The open comparisons the next round measures: all of them when their round fits in `room`
    seconds, else as many as fit, cheapest round first (points two comparisons share are counted
    once); [] when not even the cheapest fits."""
    chosen = []
    for c in sorted(open_, key=lambda c: round_cost(round_plan([c], sweep.counts), sweep.args)):
        trial = chosen + [c]
        if round_cost(round_plan(trial, sweep.counts), sweep.args) * pace <= room:
            chosen = trial
    return [c for c in open_ if c in chosen]


def label(c):
    return f"claim {c.claim} ({c.what})"


def measure_until_decided(sweep, budget_s):
    """Runs extra rounds while a comparison is open, at most rules.MAX_LOOKS looks in all and
    within budget_s seconds; returns the record written to env.json's `decide`."""
    start = time.monotonic()
    record = {
        "budget_s": budget_s,
        "max_looks": rules.MAX_LOOKS,
        "look_confidence": rules.LOOK_CONFIDENCE,
        "looks": 1,
        "extra_repeats": 0,
        "claims": {},
    }
    repeat = sweep.args.repeats
    # The estimate of a round's seconds, corrected by how long the last round really took.
    pace = 1.0
    while True:
        open_, undecidable = open_comparisons(sweep.out_dir)
        look(record, open_, undecidable)
        if undecidable:
            sweep.note(
                f"look {record['looks']}: {SITTING_BOUND}: "
                + ", ".join(label(c) for c in undecidable)
            )
        if not open_:
            break
        names = ", ".join(label(c) for c in open_)
        if record["looks"] >= rules.MAX_LOOKS:
            stop(record, open_, f"{rules.MAX_LOOKS} looks made (the rule's most)")
            sweep.note(f"still undecided after {rules.MAX_LOOKS} looks: {names}")
            break
        spent = time.monotonic() - start
        chosen = fitting(open_, sweep, budget_s - spent, pace)
        if not chosen:
            cost = round_cost(round_plan(open_, sweep.counts), sweep.args) * pace
            stop(
                record,
                open_,
                f"the --decide-budget of {budget_s:g} s ran out ({spent:.0f} s spent, the"
                f" cheapest round needs more than what is left; all of them about {cost:.0f} s)",
            )
            sweep.note(f"undecided, no budget left for another round: {names}")
            break
        needs = round_plan(chosen, sweep.counts)
        cost = round_cost(needs, sweep.args) * pace
        repeat += 1
        record["looks"] += 1
        record["extra_repeats"] += 1
        left = [label(c) for c in open_ if c not in chosen]
        sweep.note(
            f"look {record['looks'] - 1}: undecided: {names}; extra round, repeat {repeat}"
            + (f", without {', '.join(left)} (its round does not fit the budget)" if left else "")
        )
        began = time.monotonic()
        sweep.extra_round(needs, repeat)
        pace = max(1.0, (time.monotonic() - began) / max(cost / pace, 1e-3))
        for number in dict.fromkeys(str(c.claim) for c in chosen):
            record["claims"][number]["extra_repeats"] += 1
    record["seconds"] = round(time.monotonic() - start, 1)
    return record


def look(record, open_, undecidable=()):
    """Notes, per claim ever undecided, the look it was last seen at and whether it is decided
    now, what of it is still open, and what of it no round of this sitting could decide."""
    for c in list(open_) + list(undecidable):
        record["claims"].setdefault(str(c.claim), {"extra_repeats": 0})
    for number, entry in record["claims"].items():
        still = [label(c) for c in open_ if str(c.claim) == number]
        stuck = [label(c) for c in undecidable if str(c.claim) == number]
        if entry.get("decided") is not True:
            entry.update(looks=record["looks"], decided=not still and not stuck, open=still)
        if stuck:
            entry.update(undecidable=stuck)
            if not still:
                entry["stopped"] = SITTING_BOUND


def stop(record, open_, why):
    for c in open_:
        record["claims"][str(c.claim)]["stopped"] = why
