"""Churn rows of runs.csv files: connections/s and server CPU per connection, median (min-max)."""

import csv
import statistics
import sys
from collections import defaultdict


def spread(values, fmt):
    return f"{statistics.median(values):{fmt}} ({min(values):.1f}-{max(values):.1f})"


def main(paths):
    rows = defaultdict(lambda: defaultdict(list))
    for path in paths:
        for r in csv.DictReader(open(path)):
            if r["mode"] != "churn":
                continue
            k = (r["mechanism"], int(r["idle"]))
            rows[k]["cps"].append(float(r["conns_per_s"] or 0))
            rows[k]["cpu"].append(float(r["server_cpu_us_per_msg"] or 0))
    for (mechanism, idle), d in sorted(rows.items()):
        print(
            f"{mechanism:18s} idle={idle:6d} n={len(d['cps'])} "
            f"conns/s {spread(d['cps'], '8.0f')}  server us/conn {spread(d['cpu'], '7.1f')}"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
