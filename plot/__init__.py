"""Plots, the report and the comparison of results folders, run from the repository root:
`python3 -m plot.plot RUN`, `python3 -m plot.report RUN`, `python3 -m plot.compare_runs A B`,
`python3 -m plot.histograms A.json B.json`. Importing the package needs no matplotlib."""
