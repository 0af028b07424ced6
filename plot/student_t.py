"""Student's t quantiles, standard library only (the project keeps to it: no scipy).

t95 reads the published two-sided 95 % table; t_quantile computes any confidence by bisection on
the t distribution's CDF, the regularized incomplete beta function (continued fraction, Lentz's
method). plot/tests/test_rules.py checks one against the other.
"""

import math

# Two-sided 95 % Student t quantiles by degrees of freedom; between entries the smaller df is
# used, which widens the interval (the cautious side).
# fmt: off
_T95 = {
    1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262,
    10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110,
    18: 2.101, 19: 2.093, 20: 2.086, 21: 2.080, 22: 2.074, 23: 2.069, 24: 2.064, 25: 2.060,
    26: 2.056, 27: 2.052, 28: 2.048, 29: 2.045, 30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980,
}
# fmt: on


def t95(df):
    if df <= 0:
        return math.inf
    best = max(k for k in _T95 if k <= df) if df < 120 else 120
    return _T95[best] if df < 1000 else 1.960


def t_quantile(confidence, df):
    """The two-sided Student t quantile at `confidence` with df degrees of freedom, by bisection
    on the t distribution's CDF (the regularized incomplete beta function below). Written here
    because the project keeps to the standard library (no scipy); test_rules checks it against
    the published 95 % table (_T95)."""
    if df <= 0:
        return math.inf
    tail = (1 - confidence) / 2
    low, high = 0.0, 1.0
    while t_tail(high, df) > tail:
        high *= 2
    for _ in range(100):
        mid = (low + high) / 2
        if t_tail(mid, df) > tail:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def t_tail(t, df):
    """P(T > t) for Student's t with df degrees of freedom, t >= 0."""
    return 0.5 * incomplete_beta(df / (df + t * t), df / 2, 0.5)


def incomplete_beta(x, a, b):
    """The regularized incomplete beta function I_x(a, b), by its continued fraction (Lentz's
    method), on the side where it converges fast."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1) / (a + b + 2):
        return front * beta_fraction(x, a, b) / a
    return 1 - front * beta_fraction(1 - x, b, a) / b


def beta_fraction(x, a, b):
    tiny = 1e-300
    c, d = 1.0, 1 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 300):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= d * c
        if abs(d * c - 1) < 1e-15:
            break
    return result
