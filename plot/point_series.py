"""`Series`: per-x lists of per-repeat values, the shape every plot and every rule works on."""

import statistics

from plot.run_row import BOUND_SERVER


class Series:
    """Per-x lists of per-repeat values: the shape every plot and every rule works on."""

    def __init__(self, name):
        self.name = name
        self.points = []  # (x, y, repeat or None)
        self.bound = {}  # x -> bound_by of each repeat (only when the run recorded it)

    def add(self, x, y, repeat=None, low=None, high=None, bound_by=""):
        self.points.append((float(x), float(y), repeat))
        if bound_by:
            self.bound.setdefault(float(x), []).append(bound_by)
        if low is not None or high is not None:
            self.bounds = getattr(self, "bounds", {})
            self.bounds[float(x)] = (low, high)

    def xs(self):
        return sorted({p[0] for p in self.points})

    def values_at(self, x):
        return [p[1] for p in self.points if p[0] == x]

    def median(self, x):
        return statistics.median(self.values_at(x))

    def low(self, x):
        bounds = getattr(self, "bounds", {}).get(x)
        if bounds and bounds[0] is not None:
            return bounds[0]
        return min(self.values_at(x))

    def high(self, x):
        bounds = getattr(self, "bounds", {}).get(x)
        if bounds and bounds[1] is not None:
            return bounds[1]
        return max(self.values_at(x))

    def server_bound(self, x):
        """True when most repeats at x were server-bound, False when most were not, None when
        unrecorded."""
        bounds = self.bound.get(float(x))
        if not bounds:
            return None
        return sum(1 for b in bounds if b == BOUND_SERVER) * 2 > len(bounds)

    def __len__(self):
        return len(self.points)
