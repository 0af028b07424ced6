"""The documentation cannot drift from the code, nor the code cite what is not there.

- No source file cites "SPEC §N" (the product spec is not in the repository; docs/ is).
- Every docs/PAGE.md#anchor a source file names exists: the page, and the heading or anchor.
- Every relative link of README.md and docs/*.md resolves, anchors included.
- docs/results.md lists the runs.csv columns exactly as the code writes them, in order: the bench's
  (harness/common/runs_csv.py) and the loadgen's (its --csv-header, when a built loadgen is given).

    python3 -m tests.test_docs [--bin BUILD/bin]      (from the repository root)
"""

import argparse
import os
import re
import subprocess
import sys
import unittest

from harness.common import runs_csv

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")
LOADGEN_BIN = None  # set by --bin

SOURCE_SUFFIXES = (".cpp", ".h", ".py", ".sh", ".cmake", ".txt")
SOURCE_NAMES = ("bench", "run")  # ./bench and .ci/run
SPEC_CITATION = re.compile(r"SPEC (§|section)")
DOCS_REFERENCE = re.compile(r"docs/([\w.-]+\.md)(#[\w-]+)?")
MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")
# Pages that another part of issue 20 writes (how to read the report): links to them are checked
# like any other as soon as the page is in the tree.
WRITTEN_ELSEWHERE = set()


def tracked_files():
    """The files git tracks (the tree's own walk when this is not a git checkout)."""
    try:
        out = subprocess.run(
            ["git", "-C", ROOT, "ls-files"], capture_output=True, text=True, check=True
        ).stdout
        return [p for p in out.splitlines() if os.path.isfile(os.path.join(ROOT, p))]
    except (OSError, subprocess.CalledProcessError):
        found = []
        for top, dirs, files in os.walk(ROOT):
            dirs[:] = [d for d in dirs if not d.startswith((".git", "build")) and d != "results"]
            found += [os.path.relpath(os.path.join(top, f), ROOT) for f in files]
        return found


def source_files():
    """Source, build and script files; not this one, whose text names the patterns it looks for."""
    this = os.path.relpath(os.path.abspath(__file__), ROOT)
    return [
        p
        for p in tracked_files()
        if not p.startswith(("results/", "docs/"))
        and p != this
        and (p.endswith(SOURCE_SUFFIXES) or os.path.basename(p) in SOURCE_NAMES)
    ]


def outside_code_fences(text):
    """The lines of a markdown text that are not inside ``` fences, with their numbers."""
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            yield number, line


def slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path):
    found, seen = set(), {}
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for _, line in outside_code_fences(text):
        m = re.match(r"#{1,6} (.*)", line)
        if m:
            base = slug(m.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
        found.update(re.findall(r'<a id="([^"]+)"', line))
    return found


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8", errors="replace") as f:
        return f.read()


def missing_target(page, anchor):
    """Why docs/page#anchor does not resolve, or None."""
    rel = os.path.normpath(page)
    path = os.path.join(ROOT, rel)
    if not os.path.isfile(path):
        return None if rel in WRITTEN_ELSEWHERE else f"{rel} does not exist"
    if anchor and anchor not in anchors(path):
        return f"{rel} has no heading or anchor #{anchor}"
    return None


class CodeCitations(unittest.TestCase):
    def test_no_source_file_cites_the_spec(self):
        found = [
            f"{p}:{n}: {line.strip()}"
            for p in source_files()
            for n, line in enumerate(read(p).splitlines(), 1)
            if SPEC_CITATION.search(line)
        ]
        self.assertEqual(found, [], "cite docs/PAGE.md#section instead:\n" + "\n".join(found))

    def test_every_docs_page_a_source_file_names_exists(self):
        broken, cited = [], 0
        for p in source_files():
            for n, line in enumerate(read(p).splitlines(), 1):
                for page, anchor in DOCS_REFERENCE.findall(line):
                    cited += 1
                    why = missing_target(os.path.join("docs", page), anchor.lstrip("#"))
                    if why:
                        broken.append(f"{p}:{n}: {why}")
        self.assertGreater(cited, 10)  # the scan sees the comments at all
        self.assertEqual(broken, [], "\n".join(broken))


class DocumentationLinks(unittest.TestCase):
    def test_every_relative_link_resolves(self):
        pages = ["README.md"] + sorted(
            os.path.join("docs", f) for f in os.listdir(DOCS) if f.endswith(".md")
        )
        broken = []
        for page in pages:
            for n, line in outside_code_fences(read(page)):
                for target in MARKDOWN_LINK.findall(line):
                    if re.match(r"[a-z]+:", target):
                        continue  # http:, https:, mailto:, file:
                    path, _, anchor = target.partition("#")
                    rel = os.path.join(os.path.dirname(page), path) if path else page
                    if path and not path.endswith(".md"):
                        if not os.path.exists(os.path.join(ROOT, rel)):
                            broken.append(f"{page}:{n}: {target}: no such file")
                        continue
                    why = missing_target(rel, anchor)
                    if why:
                        broken.append(f"{page}:{n}: {target}: {why}")
        self.assertEqual(broken, [], "\n".join(broken))

    def test_readme_is_a_front_page(self):
        self.assertLessEqual(len(read("README.md").splitlines()), 250)


def documented_columns(heading):
    """The column names of the table under `### heading` in docs/results.md, in order: the
    backquoted names of each row's first cell."""
    lines = read(os.path.join("docs", "results.md")).splitlines()
    start = lines.index(f"### {heading}")
    names = []
    for line in lines[start + 1 :]:
        if line.startswith("#"):
            break
        if line.startswith("| `"):
            names += re.findall(r"`([a-z0-9_]+)`", line.split("|")[1])
    return names


def loadgen_header(loadgen):
    """The header loadgen writes before its row. It prints it only with a row, so this runs the
    cheapest run it has: the loopback floor (no server) for 50 ms."""
    p = subprocess.run(
        [loadgen, "--mode", "floor", "--warmup", "0", "--duration", "0.05", "--csv-header"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if p.returncode != 0 or not p.stdout:
        raise AssertionError(f"{loadgen} --csv-header failed ({p.returncode}): {p.stderr}")
    return p.stdout.splitlines()[0].split(",")


class RunsCsvColumns(unittest.TestCase):
    def test_the_bench_columns_are_the_code_list(self):
        self.assertEqual(documented_columns("The bench's columns"), runs_csv.BENCH_COLUMNS)

    def test_the_loadgen_columns_keep_the_contract_at_both_ends(self):
        documented = documented_columns("The loadgen's columns")
        contract, hostile = runs_csv.LOADGEN_COLUMNS, runs_csv.HOSTILE_COLUMNS
        self.assertEqual(documented[: len(contract)], contract)
        # The hostile columns stay together, in their order (later columns are added after them).
        self.assertIn(hostile[0], documented)
        start = documented.index(hostile[0])
        self.assertEqual(documented[start : start + len(hostile)], hostile)
        self.assertEqual(len(documented), len(set(documented)), "a column listed twice")

    def test_the_loadgen_columns_are_what_loadgen_writes(self):
        if not LOADGEN_BIN or not os.access(LOADGEN_BIN, os.X_OK):
            self.skipTest("no built loadgen (give --bin BUILD/bin)")
        self.assertEqual(documented_columns("The loadgen's columns"), loadgen_header(LOADGEN_BIN))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", help="a build's bin directory, whose loadgen is asked its header")
    args, rest = parser.parse_known_args()
    if args.bin:
        LOADGEN_BIN = os.path.join(os.path.abspath(args.bin), "loadgen")
    unittest.main(argv=[sys.argv[0]] + rest)
