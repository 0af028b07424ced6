"""A `--net lo,veth` run: the claims judged on loopback only, the comparison section and figure,
and ./bench compare keeping the paths apart."""

import csv
import os
import tempfile
import unittest

from plot import claims
from plot import compare_runs
from plot import net_compare
from plot import report
from plot.results_folder import ResultsFolder
from plot.tests import synthetic


def with_net(lo_folder, veth_folder, out):
    """lo_folder's rows (net=lo) plus veth_folder's measured rows (net=veth), one runs.csv."""
    rows, header = [], None
    for folder, net, measured_only in ((lo_folder, "lo", False), (veth_folder, "veth", True)):
        with open(os.path.join(folder, "runs.csv"), newline="") as f:
            reader = csv.DictReader(f)
            header = header or list(reader.fieldnames) + ["net"]
            for r in reader:
                if measured_only and r["mechanism"] == "floor":
                    continue
                r["net"] = "lo" if r["mechanism"] == "floor" else net
                r["run_id"] = len(rows) + 1
                rows.append(r)
    os.makedirs(out, exist_ok=True)
    for name in os.listdir(lo_folder):
        if name != "runs.csv" and os.path.isfile(os.path.join(lo_folder, name)):
            with open(os.path.join(lo_folder, name), "rb") as src:
                with open(os.path.join(out, name), "wb") as dst:
                    dst.write(src.read())
    with open(os.path.join(out, "runs.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return out


def verdicts(folder):
    results = ResultsFolder(folder)
    return {c.number: c.verdict for c in claims.evaluate(results, claims.load_anchors())}


class NetCompareTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        tmp = cls.tmp.name
        cls.lo = synthetic.write(os.path.join(tmp, "lo"))
        # The veth rows are flat for select and poll: judged on them, claims 2 and 4 would change.
        cls.veth = synthetic.write(os.path.join(tmp, "veth"), scan=0.0, seed=11)
        cls.both = with_net(cls.lo, cls.veth, os.path.join(tmp, "both"))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_claims_are_judged_on_loopback_only(self):
        judged = verdicts(self.both)
        self.assertEqual(judged, verdicts(self.lo))
        # Not vacuous: the veth rows alone give other verdicts.
        self.assertNotEqual(verdicts(self.veth), judged)
        results = ResultsFolder(self.both)
        self.assertEqual(results.nets, ["lo", "veth"])
        self.assertEqual(results.judged_net, "lo")
        self.assertTrue(all(r.net == "lo" for r in results.runs))

    def test_a_run_without_the_column_is_loopback(self):
        results = ResultsFolder(self.lo)  # no net column: loopback
        self.assertEqual(results.nets, ["lo"])
        self.assertEqual(net_compare.report_lines(results), [])

    def test_a_veth_only_run_is_judged_on_veth_and_says_so(self):
        only = os.path.join(self.tmp.name, "veth-only")
        with_net(self.veth, self.veth, only)
        with open(os.path.join(only, "runs.csv"), newline="") as f:
            reader = csv.DictReader(f)
            rows = [r for r in reader if r["net"] != "lo" or r["mechanism"] == "floor"]
            header = reader.fieldnames
        with open(os.path.join(only, "runs.csv"), "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=header)
            writer.writeheader()
            writer.writerows(rows)
        results = ResultsFolder(only)
        self.assertEqual((results.nets, results.judged_net), (["veth"], "veth"))
        self.assertEqual(verdicts(only), verdicts(self.veth))
        self.assertIn("## Over veth", net_compare.report_lines(results))

    def test_report_section_compares_each_mechanism(self):
        _, _, text = report.build(self.both)
        self.assertIn("## Loopback against veth", text)
        self.assertIn("**The claims and the other plots use the lo rows only**", text)
        c = net_compare.Comparison(ResultsFolder(self.both))
        self.assertEqual(c.idle, 0)
        self.assertEqual(set(c.values), {"select", "poll", "epoll-lt", "epoll-et"})
        for per_net in c.values.values():
            self.assertIsNotNone(per_net["veth"]["p50_us"])
            self.assertIsNotNone(per_net["lo"]["server_cpu_us_per_msg"])

    def test_figure_is_drawn(self):
        from plot import plot

        written = plot.render(self.both)
        self.assertIn(os.path.join(self.both, "net_compare.png"), written)
        self.assertNotIn(os.path.join(self.lo, "net_compare.png"), plot.render(self.lo))

    def test_compare_never_pairs_two_paths(self):
        results = ResultsFolder(self.both)
        points = compare_runs.collect(results, "allow")
        nets = {key[0][-1] for key in points}
        self.assertEqual(nets, {"lo", "veth"})
        for (scenario, mechanism, idle), entry in points.items():
            self.assertTrue(all(r.net == scenario[-1] for r in entry["ok"]), scenario)


if __name__ == "__main__":
    unittest.main()
