"""How often the "A is cheaper than B" rule (rules.CostRatio, claim 7) errs, on 1000 synthetic
sweeps.

Each sweep is shaped like the default one: 2 modes (ping-pong ~28 µs a message, flood ~1 µs) ×
8 idle counts (0 … 19000), 3 repeats, and for each point
  - a baseline cost that rises with the idle count (+50 % over the sweep) and a systematic point
    effect (lognormal, sigma 0.3, fixed for the sweep, the same for both mechanisms): points
    differ by far more than the difference sought;
  - per run, independent multiplicative noise: lognormal with sigma 0.2 ("±20 %" as one standard
    deviation of the log; heavier-tailed than uniform ±20 %, whose sd is 0.115);
  - per repeat pair, a shared "instance" factor (lognormal, sigma 0.1) that both mechanisms of
    repeat r get, since they ran back to back on a machine in one state.
B costs the baseline, A costs `ratio` × B. The rule must:
  (a) with no true difference (ratio 1), confirm "A cheaper" in at most 5 % of the sweeps;
  (b) with a true 20 % saving (ratio 0.8), same noise, 3 repeats, confirm it in at least 80 %;
  (c) with 1 repeat (a --quick run), never confirm, however large the saving.
The rates are printed. Seeded: the same numbers on every run. The margin (rules.EQUIVALENCE_MARGIN)
is never tuned to pass this test.
"""

import math
import random
import unittest


from plot import rules

SWEEPS = 1000
SEED = 20250109
MODES = {"pingpong": 28.0, "flood": 1.05}
IDLE = [0, 100, 500, 1000, 2000, 5000, 10000, 19000]
IDLE_GROWTH = 0.5  # baseline rises by 50 % from 0 to the largest idle count
POINT_SIGMA = 0.3  # systematic point-to-point differences (log scale), shared by A and B
RUN_SIGMA = 0.2  # the ±20 % noise of one run (log scale), independent for every run
SHARED_SIGMA = 0.1  # the instance component a repeat pair shares (log scale)
FALSE_CONFIRM_MAX = 0.05
POWER_MIN = 0.80


def sweep(rng, ratio, repeats=3, noise="lognormal", ratio_sigma=0.0):
    """One sweep: ({(mode, idle): [(repeat, cost)]} for A, the same for B). ratio_sigma: the true
    log ratio itself varies from point to point by this much (0 = the same ratio everywhere)."""
    a, b = {}, {}
    for mode, level in MODES.items():
        for idle in IDLE:
            base = level * (1 + IDLE_GROWTH * idle / IDLE[-1]) * math.exp(rng.gauss(0, POINT_SIGMA))
            point_ratio = ratio * math.exp(rng.gauss(0, ratio_sigma)) if ratio_sigma else ratio
            for r in range(1, repeats + 1):
                shared = math.exp(rng.gauss(0, SHARED_SIGMA))

                def run():
                    if noise == "lognormal":
                        return math.exp(rng.gauss(0, RUN_SIGMA))
                    return 1 + rng.uniform(-0.2, 0.2)

                a.setdefault((mode, idle), []).append((r, point_ratio * base * shared * run()))
                b.setdefault((mode, idle), []).append((r, base * shared * run()))
    return a, b


def rates(ratio, repeats=3, noise="lognormal", ratio_sigma=0.0, seed=SEED):
    """Fractions of SWEEPS sweeps the rule confirmed, refuted and left inconclusive."""
    rng = random.Random(seed)
    counts = {
        rules.CONFIRMED: 0,
        rules.REFUTED: 0,
        rules.INCONCLUSIVE: 0,
        rules.EQUIVALENT: 0,
        rules.DEARER: 0,
        rules.NOT_CHEAPER: 0,
    }
    for _ in range(SWEEPS):
        c = rules.CostRatio(*sweep(rng, ratio, repeats, noise, ratio_sigma))
        counts[c.verdict] += 1
        if c.outcome in (rules.EQUIVALENT, rules.DEARER, rules.NOT_CHEAPER):
            counts[c.outcome] += 1
    return {v: n / SWEEPS for v, n in counts.items()}


def show(label, r):
    print(
        (
            f"  {label}: confirmed {r[rules.CONFIRMED]:.1%}, refuted {r[rules.REFUTED]:.1%} (as"
            f" cheap within the margin {r[rules.EQUIVALENT]:.1%}, B cheaper {r[rules.DEARER]:.1%},"
            f" neither but no saving beyond the margin {r[rules.NOT_CHEAPER]:.1%}),"
            f" inconclusive {r[rules.INCONCLUSIVE]:.1%}"
        ),
        flush=True,
    )


class Power(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        print(
            f"\nCostRatio on {SWEEPS} synthetic sweeps ({len(MODES)} modes × {len(IDLE)} idle"
            f" counts; run noise lognormal sigma {RUN_SIGMA}, shared per pair sigma {SHARED_SIGMA},"
            f" point effects sigma {POINT_SIGMA}; margin ±{rules.EQUIVALENCE_MARGIN:.0%}):"
        )

    def test_a_no_true_difference_is_rarely_confirmed(self):
        r = rates(1.0)
        show("(a) no difference, 3 repeats, false-confirmation rate", r)
        self.assertLessEqual(r[rules.CONFIRMED], FALSE_CONFIRM_MAX)

    def test_b_a_true_20_percent_saving_is_confirmed(self):
        r = rates(0.8)
        show("(b) true 20% saving, 3 repeats, confirmation rate", r)
        self.assertGreaterEqual(r[rules.CONFIRMED], POWER_MIN)

    def test_c_one_repeat_never_confirms(self):
        for ratio in (0.8, 0.5):
            r = rates(ratio, repeats=1)
            show(f"(c) 1 repeat, true ratio {ratio}", r)
            self.assertEqual(r[rules.CONFIRMED], 0.0)
            self.assertEqual(r[rules.INCONCLUSIVE], 1.0)

    def test_d_uniform_noise_meets_the_same_bounds(self):
        # Uniform ±20 % per run (sd 0.115): lighter than the lognormal above, so easier.
        r0, r1 = rates(1.0, noise="uniform"), rates(0.8, noise="uniform")
        show("(d) uniform ±20% noise, no difference", r0)
        show("(d) uniform ±20% noise, true 20% saving", r1)
        self.assertLessEqual(r0[rules.CONFIRMED], FALSE_CONFIRM_MAX)
        self.assertGreaterEqual(r1[rules.CONFIRMED], POWER_MIN)

    def test_e_a_ratio_that_varies_over_points_stays_honest(self):
        # The true saving itself differs from point to point (sd 0.1 on the log ratio): the interval
        # over points must widen with it, not confirm a saving that is zero on average.
        r0 = rates(1.0, ratio_sigma=0.1)
        r1 = rates(0.8, ratio_sigma=0.1)
        show("(e) ratio varying over points (sigma 0.1), no difference on average", r0)
        show("(e) ratio varying over points (sigma 0.1), 20% saving on average", r1)
        self.assertLessEqual(r0[rules.CONFIRMED], FALSE_CONFIRM_MAX)


if __name__ == "__main__":
    unittest.main(verbosity=1)
