"""The report's layout: the answers first (the verdict table within the first 30 lines of
report.md, every verdict linking to its evidence), the diagnostics after the evidence in their
order of importance, and report.html self-contained and built from the same Document."""

import os
import re
import tempfile
import unittest

from plot import claims, document, report, report_html, rules
from plot.tests import synthetic

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = os.path.join(os.path.dirname(os.path.dirname(HERE)), "results", "reference")

VERDICT_HEADER = "| # | claim | verdict | headline figure | evidence |"
DIAGNOSTICS = [
    "## Drift and spread",
    "## What bound each point",
    "## The machine and the run",
    "## CPU idle states",
    "## Latency against the floors",
    "## Failed points",
]


def folders():
    """The committed reference, and a synthetic run with every claim's inputs."""
    tmp = tempfile.TemporaryDirectory()
    return tmp, [REFERENCE, synthetic.write(tmp.name, churn=True)]


class Markdown(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp, paths = folders()
        cls.texts = {p: report.build(p)[2] for p in paths}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_the_verdict_table_ends_within_the_first_30_lines(self):
        for path, text in self.texts.items():
            lines = text.split("\n")
            start = lines.index(VERDICT_HEADER)
            end = start + 2
            while lines[end].startswith("| "):
                end += 1
            rows, last = lines[start + 2 : end], end - 1
            self.assertEqual(len(rows), len(claims.CLAIMS), path)
            self.assertLess(last, 30, f"{path}: the verdict table ends on line {last + 1}")

    def test_the_run_line_and_the_warnings_come_before_it(self):
        text = self.texts[REFERENCE]
        head = text[: text.index("## Verdicts")]
        self.assertIn("**The run:** ", head)
        for needle in ("mechanisms ", "idle connections 0, ", "3 repeat(s)", " s in all"):
            self.assertIn(needle, head)
        # Every warning is one line linking to its details.
        for line in head.split("\n"):
            if "Warning" in line:
                self.assertRegex(line, r"^- \*\*Warning.*\]\(#[a-z-]+\)\.$")

    def test_every_verdict_links_to_its_row_of_evidence(self):
        for path, text in self.texts.items():
            for number in range(1, 12):
                self.assertIn(f"[claim {number}](#claim-{number})", text, path)
                self.assertIn(f'| <a id="claim-{number}"></a>{number} |', text, path)

    def test_the_story_then_the_wins_then_the_evidence_then_the_diagnostics(self):
        text = self.texts[REFERENCE]
        order = [
            "## Verdicts",
            "## The story in two plots",
            "![Latency vs idle connections](latency.png)",
            "![Server CPU per message vs idle connections](cpu_per_msg.png)",
            "## Where each mechanism wins",
            "## The claims",
            "## Plots",
        ] + DIAGNOSTICS
        at = [text.index(h) for h in order]
        self.assertEqual(at, sorted(at), "sections out of order")
        # The story's plots are not drawn twice.
        self.assertEqual(text.count("(latency.png)"), 1)

    def test_where_each_mechanism_wins_names_one_per_idle_count(self):
        text = self.texts[REFERENCE]
        wins = text[text.index("## Where each mechanism wins") :]
        wins = wins[: wins.index("\n## ")]
        self.assertIn("| idle connections | lowest p50 latency (µs) | next |", wins)
        self.assertRegex(wins, r"\| 19,000 \| (≈ )?\*\*[a-z-]+\*\* [\d.,]+ \|")

    def test_internal_links_reach_a_heading_or_an_anchor(self):
        for path, text in self.texts.items():
            anchors = {document.slug(h) for h in re.findall(r"^#+ (.+)$", text, re.M)}
            anchors |= set(re.findall(r'<a id="([^"]+)"></a>', text))
            for target in re.findall(r"\]\(#([^)]+)\)", text):
                self.assertIn(target, anchors, f"{path}: #{target}")


class Headline(unittest.TestCase):
    """The verdict table's one figure per claim."""

    def test_the_first_figure_tagged_with_the_verdict(self):
        c = claims.Claim(8, rules.CONFIRMED, ["a [flat? inconclusive]", "b [flat? confirmed]"], "")
        self.assertEqual(c.headline, "b [flat? confirmed]")

    def test_else_the_first_figure_up_to_its_first_semicolon_outside_brackets(self):
        c = claims.Claim(2, rules.REFUTED, ["x (1; 2) → grows; detail", "y"], "")
        self.assertEqual(c.headline, "x (1; 2) → grows")

    def test_a_claim_may_name_its_own(self):
        c = claims.Claim(10, rules.CONFIRMED, ["first", "second"], "", headline="second")
        self.assertEqual(c.headline, "second")


class Html(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        results, _, doc = report.document(REFERENCE)
        cls.doc, cls.page = doc, report_html.page(doc, results.path)

    def test_it_fetches_nothing(self):
        for pattern in (r"<script", r"<link", r"src=\"https?:", r"@import", r"url\(https?:"):
            self.assertNotRegex(self.page, pattern)

    def test_every_figure_is_an_inline_svg(self):
        figures = [b for s in self.doc.sections for b in s.blocks if isinstance(b, document.Figure)]
        self.assertGreaterEqual(len(figures), 8)
        self.assertEqual(self.page.count("<svg "), len(figures))
        self.assertNotIn("<img", self.page)
        for f in figures:
            self.assertIn(f'<figure id="{f.stem}">', self.page)

    def test_ids_are_unique(self):
        ids = re.findall(r'\sid="([^"]+)"', self.page)
        duplicates = {i for i in ids if ids.count(i) > 1}
        self.assertEqual(duplicates, set())

    def test_the_verdict_table_is_the_first_table_and_links_its_evidence(self):
        first = self.page.index("<table>")
        self.assertLess(self.page.index('<section id="verdicts">'), first)
        self.assertIn("headline figure", self.page[first : self.page.index("</table>")])
        for number in range(1, 12):
            self.assertIn(f'href="#claim-{number}"', self.page)
            self.assertIn(f'<tr id="claim-{number}">', self.page)

    def test_the_contents_list_every_section(self):
        for s in self.doc.sections:
            self.assertIn(f'<a href="#{s.anchor}">', self.page)
            self.assertIn(f'<section id="{s.anchor}">', self.page)

    def test_it_reads_on_a_phone(self):
        self.assertIn('name="viewport" content="width=device-width, initial-scale=1"', self.page)
        self.assertIn('<div class="scroll"><table>', self.page)


if __name__ == "__main__":
    unittest.main()
