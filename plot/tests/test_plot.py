"""plot.py renders a small results folder; without matplotlib it says in one line how to get it."""

import os
import tempfile
import unittest

from plot.tests import synthetic

HERE = os.path.dirname(os.path.abspath(__file__))
PLOT = os.path.dirname(HERE)


RUNS_PLOTS = ["latency", "throughput", "cpu_per_msg", "fds_per_event"]
MICRO_PLOTS = ["micro_wait", "micro_ready"]


def run_plot(folder, env=None):
    return synthetic.run_module("plot.plot", folder, env=env)


# No skip when matplotlib is missing: ctest runs this with MUXBENCH_PYTHON, which must have it,
# and a failure then carries plot.py's one-line hint on how to install it.
class Render(unittest.TestCase):
    def assert_plots(self, folder, stems):
        for stem in stems:
            for ext in ("png", "svg"):
                path = os.path.join(folder, f"{stem}.{ext}")
                self.assertTrue(os.path.isfile(path), path)
                self.assertGreater(os.path.getsize(path), 1000, path)

    def render_every_plot(self, folder):
        """plot.py on a folder that has runs, micro and churn rows: every plot written; returns
        the SVG text of each plot by stem."""
        proc = run_plot(folder)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assert_plots(folder, RUNS_PLOTS + MICRO_PLOTS + ["churn"])
        svgs = {}
        for stem in ("latency", "throughput"):
            with open(os.path.join(folder, f"{stem}.svg")) as f:
                svgs[stem] = f.read()
        return svgs

    def test_full_folder_renders_every_plot(self):
        with tempfile.TemporaryDirectory() as d:
            synthetic.write(d, churn=True, select_dynamic=True)
            svg = self.render_every_plot(d)["latency"]
            for label in (
                "FD_SETSIZE = 1024",
                "refused: FD_SETSIZE",
                "blocking ping-pong floor",
                "Synthetic CPU",
            ):
                self.assertIn(label, svg)

    def test_runs_only_folder_renders_the_runs_plots(self):
        with tempfile.TemporaryDirectory() as d:
            synthetic.write(d, micro=False, probe=False, env=False)
            proc = run_plot(d)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assert_plots(d, RUNS_PLOTS)
            for stem in MICRO_PLOTS + ["churn"]:
                self.assertFalse(os.path.exists(os.path.join(d, f"{stem}.png")))

    def test_header_only_runs_csv_is_reported_not_crashed(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "runs.csv"), "w") as f:
                f.write(",".join(synthetic.LOADGEN_COLUMNS + synthetic.BENCH_COLUMNS) + "\n")
            proc = run_plot(d)
            self.assertEqual(proc.returncode, 1)
            self.assertIn("no plottable rows", proc.stderr)
            self.assertNotIn("Traceback", proc.stderr)

    def test_new_columns_render_their_conventions(self):
        with tempfile.TemporaryDirectory() as d:
            synthetic.write_new(d, churn=True, select_dynamic=True)
            svgs = self.render_every_plot(d)
            latency, throughput = svgs["latency"], svgs["throughput"]
            for label in (
                "relay floor (4 hops, no multiplexer)",
                "blocking ping-pong floor",
                "hollow marker: latency- or loadgen-bound point (filled: server-bound)",
                "first row of each mode = idle states blocked",
                "idle states allowed",
            ):
                self.assertIn(label, latency)
            for label in (
                "server capacity",
                "upper row = idle states blocked",
                "lower row = idle states allowed",
                "hollow marker",
            ):
                self.assertIn(label, throughput)

    def test_reference_folder_still_renders_without_the_new_columns(self):
        reference = os.path.join(os.path.dirname(PLOT), "results", "reference")
        with tempfile.TemporaryDirectory() as d:
            run = synthetic.without_new_columns(reference, os.path.join(d, "reference"))
            latency = self.render_every_plot(run)["latency"]
            self.assertIn("blocking ping-pong floor", latency)
            for absent in ("relay floor", "hollow marker", "idle states"):
                self.assertNotIn(absent, latency)


class Markers(unittest.TestCase):
    """bound_by decides a marker's fill: hollow when most repeats were latency- or loadgen-bound."""

    def test_hollow_and_filled_markers_follow_bound_by(self):
        from plot import plot
        from plot.point_series import Series

        plt = plot.import_pyplot()
        s = Series("test")
        for x, bounds in (
            (0, ["latency"] * 3),
            (100, ["server"] * 3),
            (1000, ["server", "loadgen", "loadgen"]),
        ):
            for repeat, b in enumerate(bounds, 1):
                s.add(x, 10.0 + x / 100, repeat, bound_by=b)
        fig, ax = plt.subplots()
        plot.draw_series(ax, s, "poll", lambda x: x or 1)
        line, hollow = ax.lines
        self.assertEqual(list(line.get_markevery()), [1])
        self.assertEqual(list(hollow.get_xdata()), [1, 1000])
        self.assertEqual(hollow.get_markerfacecolor(), "white")
        plt.close(fig)

        fig, ax = plt.subplots()
        unrecorded = Series("old")
        unrecorded.add(0, 1.0, 1)
        plot.draw_series(ax, unrecorded, "poll")
        self.assertEqual(len(ax.lines), 1)
        self.assertIsNone(ax.lines[0].get_markevery())
        plt.close(fig)


class WithoutMatplotlib(unittest.TestCase):
    def test_says_in_one_line_how_to_get_matplotlib(self):
        with tempfile.TemporaryDirectory() as d:
            # A package named matplotlib that fails to import stands in for a Python without it.
            os.makedirs(os.path.join(d, "fake", "matplotlib"))
            with open(os.path.join(d, "fake", "matplotlib", "__init__.py"), "w") as f:
                f.write("raise ImportError('no matplotlib here')\n")
            synthetic.write(os.path.join(d, "run"))
            env = dict(os.environ, PYTHONPATH=os.path.join(d, "fake"))
            proc = run_plot(os.path.join(d, "run"), env)
            self.assertNotEqual(proc.returncode, 0)
            lines = proc.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, proc.stderr)
            self.assertIn("sudo apt-get install python3-matplotlib", lines[0])
            self.assertIn("/usr/bin/python3", lines[0])


if __name__ == "__main__":
    unittest.main()
