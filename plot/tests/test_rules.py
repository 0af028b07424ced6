"""The verdict rules on synthetic series: linear is confirmed, flat refuted, noisy inconclusive."""

import os
import random
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import claims  # noqa: E402
import rules  # noqa: E402
from results_folder import Series  # noqa: E402

IDLE = [0, 100, 500, 1000, 2000, 5000, 10000]


def series(shape, relative_noise, seed=1, xs=IDLE, repeats=3):
    rng = random.Random(seed)
    s = Series("test")
    for x in xs:
        for r in range(1, repeats + 1):
            s.add(x, shape(x) * (1 + rng.uniform(-relative_noise, relative_noise)), r)
    return s


class ShapeRules(unittest.TestCase):
    def test_linear_series_grows_linearly_and_confirms_a_growth_claim(self):
        fit = rules.Fit(series(lambda x: 6.0 + 0.004 * x, 0.03))
        self.assertEqual(fit.shape, rules.GROWS_LINEAR)
        self.assertAlmostEqual(fit.slope, 0.004, delta=0.0004)
        self.assertGreater(fit.slope_low, 0)
        self.assertEqual(len(fit.repeat_slopes), 3)
        self.assertEqual(claims.growth_verdict(fit, "grows-linear"), rules.CONFIRMED)

    def test_flat_series_is_flat_and_refutes_a_growth_claim(self):
        fit = rules.Fit(series(lambda x: 6.0, 0.03))
        self.assertEqual(fit.shape, rules.FLAT)
        self.assertEqual(claims.growth_verdict(fit, "grows-linear"), rules.REFUTED)
        self.assertEqual(claims.growth_verdict(fit, "flat"), rules.CONFIRMED)

    def test_noisy_series_is_unclear_and_inconclusive(self):
        # A real 50 % rise buried in ±90 % noise: neither growth nor flatness can be claimed.
        fit = rules.Fit(series(lambda x: 6.0 + 0.0003 * x, 0.9, seed=3))
        self.assertEqual(fit.shape, rules.UNCLEAR)
        self.assertEqual(claims.growth_verdict(fit, "grows-linear"), rules.INCONCLUSIVE)
        self.assertEqual(claims.growth_verdict(fit, "flat"), rules.INCONCLUSIVE)

    def test_small_but_certain_rise_is_not_called_growth(self):
        # +10 % over the range, measured precisely: flat by the stated threshold, not "grows".
        fit = rules.Fit(series(lambda x: 6.0 + 0.00006 * x, 0.005))
        self.assertEqual(fit.shape, rules.FLAT)

    def test_strongly_curved_growth_is_not_linear(self):
        fit = rules.Fit(series(lambda x: 1.0 + (x / 1000.0) ** 3, 0.01))
        self.assertEqual(fit.shape, rules.GROWS)
        self.assertEqual(claims.growth_verdict(fit, "grows-linear"), rules.INCONCLUSIVE)
        self.assertEqual(claims.growth_verdict(fit, "grows"), rules.CONFIRMED)

    def test_falling_series_refutes_growth(self):
        fit = rules.Fit(series(lambda x: 20.0 - 0.0015 * x, 0.01))
        self.assertEqual(fit.shape, rules.FALLS)
        self.assertEqual(claims.growth_verdict(fit, "grows-linear"), rules.REFUTED)

    def test_too_few_points_decide_nothing(self):
        fit = rules.Fit(series(lambda x: 6.0 + x, 0.0, xs=[0, 1000]))
        self.assertEqual(fit.shape, rules.TOO_FEW)
        self.assertEqual(claims.growth_verdict(fit, "grows-linear"), rules.INCONCLUSIVE)

    def test_all_zero_series_is_flat(self):
        # epoll's descriptors passed per event: zero everywhere must not divide by zero.
        fit = rules.Fit(series(lambda x: 0.0, 0.0))
        self.assertEqual(fit.shape, rules.FLAT)

    def test_single_repeat_without_residual_spread_still_fits(self):
        fit = rules.Fit(series(lambda x: 5.0 + 0.01 * x, 0.0, repeats=1))
        self.assertEqual(fit.shape, rules.GROWS_LINEAR)


class OtherRules(unittest.TestCase):
    def test_comparison_needs_disjoint_ranges(self):
        self.assertEqual(rules.compare_lower_is_better([1.0, 1.1, 1.2], [2.0, 2.1, 2.2]), "a")
        self.assertEqual(rules.compare_lower_is_better([2.0, 2.1, 2.2], [1.0, 1.1, 1.2]), "b")
        self.assertEqual(rules.compare_lower_is_better([1.0, 1.02, 1.5], [0.9, 1.01, 1.4]), "same")
        self.assertEqual(rules.compare_lower_is_better([1.0, 1.3, 2.0], [0.9, 1.6, 1.9]), "overlap")

    def test_combine_needs_agreement(self):
        C, R, I = rules.CONFIRMED, rules.REFUTED, rules.INCONCLUSIVE
        self.assertEqual(rules.combine([C, I]), C)
        self.assertEqual(rules.combine([R, I, R]), R)
        self.assertEqual(rules.combine([C, R]), I)
        self.assertEqual(rules.combine([]), I)

    def test_t_quantiles_shrink_with_degrees_of_freedom(self):
        values = [rules.t95(df) for df in (1, 2, 5, 10, 31, 50, 200, 5000)]
        self.assertEqual(values, sorted(values, reverse=True))
        self.assertEqual(rules.t95(31), rules.t95(30))  # between entries: the wider interval

    def test_rules_text_names_every_threshold(self):
        text = "\n".join(rules.rules_text())
        for value in ("50%", "25%", "0.9", "75%", "5%", "64", "0.5", "0.1"):
            self.assertIn(value, text)


if __name__ == "__main__":
    unittest.main()
