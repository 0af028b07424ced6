"""plot/peers_section.py, the report's "Our loops beside the libraries and the tutorial": ours ÷
each peer with its interval at 0, 1000 and the largest idle count, the goal (ours at most 1.0×
libevent's same backend) per backend, the teaching claims judged on each group; the one line of a
run without peers; the heading in report.md, report.html and the contents. Synthetic rows only
(plot/tests/synthetic.py), so the tests assert what the rules say, never a timing.

Run by ctest (plot_peers_section), or by hand from the muxbench root:
    /usr/bin/python3 -m unittest -v plot.tests.test_peers_section
"""

import json
import os
import shutil
import tempfile
import unittest
from types import SimpleNamespace

from plot import (
    claims,
    claims_limits,
    document,
    idle_growth,
    peers,
    peers_section,
    report,
    report_html,
    rules,
    rules_words,
)
from plot.results_folder import ResultsFolder
from plot.tests import synthetic
from plot.tests import synthetic_peers
from plot.tests.test_idle_growth import built_registry, fake_server

TITLE = peers_section.TITLE
LARGEST = max(synthetic.IDLE)


def text_of(section):
    return document.markdown(document.Document("t", [], [section]))


def row_of(text, first_cells):
    """The table row of text that starts with these cells."""
    start = "| " + " | ".join(first_cells) + " |"
    return next(line for line in text.split("\n") if line.startswith(start))


PYTHON_PROBE_FIGURE = "probe: Python's select.select (/usr/bin/python3 3.11.2) on descriptor 1024: "


class PeersSection(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="peers-section-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.folder = synthetic.write(os.path.join(self.tmp, "run"))

    def evaluate(self, **peers):
        synthetic_peers.with_peers(self.folder, **peers)
        results = ResultsFolder(self.folder)
        registry = synthetic_peers.peer_registry()
        return (
            peers_section.evaluate(results, registry),
            text_of(peers_section.section(results, registry)),
        )

    def test_peers_slower_than_ours_read_at_most_1x_at_every_idle_count(self):
        pairs, text = self.evaluate()
        self.assertEqual(len(pairs), 7)
        for p in pairs:
            counts = [c.idle for c in p.cells[peers_section.COST]]
            self.assertEqual(counts, [0, 1000, LARGEST])
            for cells in p.cells.values():
                for c in cells:
                    if p.ours == "select" and c.idle == LARGEST:
                        self.assertEqual(c.outcome, peers_section.NOT_COMPARED)
                        self.assertEqual(c.why, "both refused (FD_SETSIZE)")
                        continue
                    self.assertEqual(c.outcome, peers_section.AT_MOST, (p.peer, c.idle))
                    self.assertLess(c.ratio.high, 1.0)
        self.assertIn(
            "- **poll ÷ libevent-poll**: server CPU per message: ours ≤ 1.0× libevent-poll at"
            " every idle count (0, 1,000, 10,000)",
            text,
        )
        self.assertIn(
            "- **select ÷ py-select**: server CPU per message: ours ≤ 1.0× py-select at every"
            " idle count (0, 1,000); not compared at 10,000 (both refused (FD_SETSIZE))",
            text,
        )
        for ours, libevent in (("poll", "libevent-poll"), ("epoll-lt", "libevent-epoll")):
            self.assertEqual(
                row_of(text, [ours, libevent]),
                f"| {ours} | {libevent} | **yes**, at 0, 1,000, 10,000 idle |",
            )
        self.assertIn("**yes**, at 0, 1,000 idle; not compared at 10,000", text)

    def test_a_peer_faster_at_one_idle_count_is_named_with_its_figure(self):
        pairs, text = self.evaluate(factors={"libevent-epoll": {1000: 0.8}})
        pair = next(p for p in pairs if p.peer == "libevent-epoll")
        cost = {c.idle: c for c in pair.cells[peers_section.COST]}
        self.assertEqual(cost[1000].outcome, peers_section.ABOVE)
        self.assertGreater(cost[1000].ratio.low, 1 + rules.EQUIVALENCE_MARGIN)
        self.assertAlmostEqual(cost[1000].ratio.ratio, 1.25, delta=0.06)
        self.assertEqual(cost[0].outcome, peers_section.AT_MOST)
        self.assertEqual(cost[LARGEST].outcome, peers_section.AT_MOST)
        reading = next(line for line in text.split("\n") if "**epoll-lt ÷ libevent-epoll**" in line)
        self.assertIn(
            f"server CPU per message: ours against libevent-epoll: above at 1,000 idle:"
            f" {cost[1000].figure()}, ours ",
            reading,
        )
        self.assertIn("≤ 1.0× at 0, 10,000", reading)
        goal = row_of(text, ["epoll-lt", "libevent-epoll"])
        self.assertIn(f"**no**: above at 1,000 idle: {cost[1000].figure()}", goal)
        self.assertIn("≤ 1.0× at 0, 10,000", goal)
        # libuv was not faster anywhere: its reading stays at most 1.0×.
        self.assertIn("ours ≤ 1.0× libuv at every idle count", text)

    def test_a_run_without_peers_has_the_one_line(self):
        results = ResultsFolder(self.folder)
        section = peers_section.section(results, synthetic_peers.peer_registry())
        self.assertEqual(section.title, TITLE)
        self.assertEqual(section.blocks, [document.Text([peers_section.ABSENT, ""])])
        self.assertIn("`--mechanisms +libraries,+python`", peers_section.ABSENT)

    def test_peers_the_registry_leaves_in_our_group_are_not_peers(self):
        synthetic_peers.with_peers(self.folder)
        registry = idle_growth.Registry(groups={}, source="a registry from before `group`")
        text = text_of(peers_section.section(ResultsFolder(self.folder), registry))
        self.assertIn(peers_section.ABSENT, text)

    def test_python_poll_grows_and_python_epoll_is_flat_in_the_group_table(self):
        _, text = self.evaluate()
        poll = row_of(text, ["4: poll's cost grows at least linearly with idle connections"])
        self.assertIn("py-poll **confirmed**", poll.split(" | ")[3])
        self.assertIn("libevent-poll **confirmed**", poll.split(" | ")[2])
        epoll = row_of(text, ["8 (watched half): epoll's cost does not depend on idle connections"])
        self.assertIn("py-epoll **confirmed**", epoll.split(" | ")[3])
        self.assertIn("libuv **confirmed**", epoll.split(" | ")[2])

    def test_a_python_epoll_that_grows_is_refuted_in_the_group_table(self):
        growing = {i: 3.0 * (1 + i / 1000) for i in synthetic.IDLE}
        _, text = self.evaluate(factors={"py-epoll": growing})
        epoll = row_of(text, ["8 (watched half): epoll's cost does not depend on idle connections"])
        self.assertIn("py-epoll **refuted**", epoll.split(" | ")[3])
        self.assertIn("epoll-lt **confirmed**", epoll.split(" | ")[1])

    def test_py_select_refusing_past_1024_is_a_witness_for_claim_1(self):
        _, text = self.evaluate()
        refusal = next(line for line in text.split("\n") if line.startswith("| 1: select"))
        self.assertIn("py-select **confirmed** (refused from 2,000 idle)", refusal)
        self.assertIn("libevent-select **confirmed**", refusal)
        claim = claims.claim1(ResultsFolder(self.folder))
        self.assertEqual(claim.verdict, rules.CONFIRMED)
        self.assertTrue(any(f.startswith("witness py-select: ") for f in claim.figures))
        self.assertIn("So did libevent-select and py-select", claim.explanation)

    def with_python_probe(self, outcome):
        path = os.path.join(self.folder, "probe.json")
        with open(path) as f:
            probe = json.load(f)
        probe["python_select_ge_fdsetsize"] = {
            "interpreter": "/usr/bin/python3",
            "version": "3.11.2",
            "fd": 1024,
            "outcome": outcome,
        }
        with open(path, "w") as f:
            json.dump(probe, f)
        return claims.claim1(ResultsFolder(self.folder))

    def test_pythons_select_raising_value_error_in_the_probe_is_claim_1s_third_witness(self):
        before = claims.claim1(ResultsFolder(self.folder))
        self.assertFalse(any("Python's select.select" in f for f in before.figures))
        outcome = "raised ValueError: filedescriptor out of range in select()"
        claim = self.with_python_probe(outcome)
        self.assertIn(PYTHON_PROBE_FIGURE + outcome, claim.figures)
        self.assertIn("Python's select.select refused descriptor 1024 too", claim.explanation)
        self.assertEqual(claim.verdict, rules.CONFIRMED)

    def test_a_python_select_that_took_the_descriptor_is_shown_and_not_counted(self):
        claim = self.with_python_probe("returned: 0 ready")
        self.assertIn(PYTHON_PROBE_FIGURE + "returned: 0 ready", claim.figures)
        self.assertNotIn("Python's select.select refused", claim.explanation)
        found = claims_limits.evaluate_claim1(ResultsFolder(self.folder))
        self.assertIsNone(found.python_probe.verdict)

    def test_a_single_repeat_is_not_compared_and_says_why(self):
        shutil.rmtree(self.folder)
        synthetic.write(self.folder, repeats=1)
        pairs, text = self.evaluate(only=["libevent-poll"])
        (pair,) = pairs
        for c in pair.cells[peers_section.COST]:
            self.assertEqual(c.outcome, peers_section.NOT_COMPARED)
            self.assertEqual(c.why, rules_words.needs_repeats(1))
        self.assertIn(
            "**undecided**: no idle count compared", row_of(text, ["poll", "libevent-poll"])
        )

    def test_the_goal_says_undecided_where_the_interval_straddles_the_edge(self):
        def cell(idle, ratio, low, high):
            r = SimpleNamespace(ratio=ratio, low=low, high=high, confidence=rules.CONFIDENCE)
            return peers_section.Cell(idle, (1, 1), r, peers_section.outcome(r))

        refused = peers_section.Cell(LARGEST, why="both refused (FD_SETSIZE)")
        pair = peers_section.Pair("poll", "libevent-poll", "libraries")
        pair.cells[peers_section.COST] = [
            cell(0, 0.9, 0.85, 0.95),
            cell(1000, 1.03, 0.99, 1.07),
            refused,
        ]
        synthetic_peers.with_peers(self.folder, only=["libevent-poll"])
        words = peers_section.goal_held(ResultsFolder(self.folder), [pair], "poll")
        self.assertEqual(
            words,
            "**undecided**: the interval reaches past 1.05 at 1,000 idle: ×1.03 (95% CI 0.99 …"
            " 1.07); ≤ 1.0× at 0; not compared at 10,000 (both refused (FD_SETSIZE))",
        )
        pair.cells[peers_section.COST][0] = cell(0, 1.2, 1.1, 1.3)
        words = peers_section.goal_held(ResultsFolder(self.folder), [pair], "poll")
        self.assertTrue(words.startswith("**no**: above at 0 idle: ×1.20"), words)
        self.assertIn("; undecided at 1,000 idle", words)


class Render(unittest.TestCase):
    """The section through the report's own document code: report.md, report.html, contents."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="peers-render-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.folder = synthetic.write(os.path.join(self.tmp, "run"), micro=False)
        synthetic_peers.with_peers(self.folder)
        self.bin = fake_server(os.path.join(self.tmp), synthetic_peers.peer_listing())

    def test_the_heading_is_in_report_md_report_html_and_the_contents(self):
        _, _, doc = report.document(self.folder, self.bin)
        md = document.markdown(doc)
        self.assertIn(f"\n## {TITLE}\n", md)
        self.assertIn("| epoll-lt | libevent-epoll | **yes**", md)
        page = report_html.page(doc, self.folder)
        anchor = document.slug(TITLE)
        self.assertIn(f'<section id="{anchor}"><h2>{TITLE}</h2>', page)
        toc = page[page.index('<nav class="toc wide"') :]
        toc = toc[: toc.index("</nav>")]
        self.assertIn(f'<a href="#{anchor}">{TITLE}</a>', toc)

    def test_the_registry_is_read_with_groups_and_refusals(self):
        registry = idle_growth.read_registry([self.bin])
        self.assertEqual(registry.problem, "")
        self.assertEqual(registry.groups["py-poll"], "python")
        self.assertEqual(registry.groups["epoll-lt"], "ours")
        self.assertEqual(registry.refuses_fd_setsize, synthetic_peers.REFUSES_FD_SETSIZE)


class BuiltRegistry(unittest.TestCase):
    """The pairing table (plot/peers.py) and the synthetic registry against the built servers."""

    def test_every_peer_of_the_table_is_a_peer_in_the_built_registry(self):
        registry = built_registry(self)
        for ours, peer in peers.pairs():
            self.assertEqual(registry.groups.get(ours), "ours", ours)
            self.assertEqual(registry.groups.get(peer), synthetic_peers.PEER_GROUPS[peer], peer)
        self.assertEqual(registry.refuses_fd_setsize, synthetic_peers.REFUSES_FD_SETSIZE)


if __name__ == "__main__":
    unittest.main()
