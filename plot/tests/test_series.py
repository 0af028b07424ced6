"""Per-interval series files: reading them, and the plot that shows them."""

import csv
import os
import tempfile
import unittest

from plot import series
from plot.results_folder import ResultsFolder
from plot.tests import synthetic

HEADER = (
    "mechanism,mode,idle,label,interval,start_s,end_s,msgs,msgs_per_s,latencies,p50_us,p99_us,"
    "loadgen_cpu_pct,server_cpu_us,server_cpu_pct,server_lag_us"
)


def add_series(folder):
    """series/run-N.csv for every ok measured row at the largest idle count."""
    path = os.path.join(folder, "runs.csv")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        columns = list(reader.fieldnames) + ["series_file"]
        rows = list(reader)
    os.makedirs(os.path.join(folder, "series"), exist_ok=True)
    largest = max(int(r["idle"]) for r in rows if r["mechanism"] != "floor")
    written = 0
    for r in rows:
        if r["mechanism"] == "floor" or int(r["idle"]) != largest or r["bench_status"] != "ok":
            continue
        name = f"series/run-{r['run_id']}.csv"
        r["series_file"] = name
        with open(os.path.join(folder, name), "w") as f:
            f.write(HEADER + "\n")
            for i in range(4):
                f.write(
                    f"{r['mechanism']},{r['mode']},{largest},,{i + 1},{i * 0.5},{i * 0.5 + 0.5},"
                    f"{100 * (i + 1)},{200 * (i + 1)},{100 * (i + 1)},10.5,{20 + i},50,,,\n"
                )
        written += 1
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return written


class SeriesTest(unittest.TestCase):
    def test_reads_the_files_runs_csv_names(self):
        with tempfile.TemporaryDirectory() as tmp:
            folder = synthetic.write(os.path.join(tmp, "run"))
            written = add_series(folder)
            self.assertGreater(written, 0)
            found = series.runs_with_series(ResultsFolder(folder))
            self.assertEqual(len(found), written)
            run, rows = found[0]
            self.assertEqual(len(rows), 4)
            self.assertEqual(rows[2]["msgs_per_s"], 600.0)
            self.assertEqual(rows[1]["p99_us"], 21.0)
            self.assertIsNone(rows[0]["server_cpu_us"])  # empty stays empty, never 0
            self.assertEqual(rows[0]["mechanism"], run.mechanism)

    def test_plot_draws_series_only_when_a_run_kept_them(self):
        with tempfile.TemporaryDirectory() as tmp:
            folder = synthetic.write(os.path.join(tmp, "run"))
            synthetic.run_module("plot.plot", folder)
            self.assertFalse(os.path.exists(os.path.join(folder, "series.png")))
            add_series(folder)
            synthetic.run_module("plot.plot", folder)
            self.assertTrue(os.path.exists(os.path.join(folder, "series.png")))
            self.assertTrue(os.path.exists(os.path.join(folder, "series.svg")))


if __name__ == "__main__":
    unittest.main()
