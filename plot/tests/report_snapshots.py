"""The safety net of a refactoring of plot/: every report.md and compare.md the committed results
folders give, written into a folder (`save`) and compared with a saved one (`check`).

    python3 -m plot.tests.report_snapshots save /tmp/before     (from the checkout before)
    python3 -m plot.tests.report_snapshots check /tmp/before    (from the checkout after)

It calls `plot.report.build` and `plot.compare_runs.Comparison.markdown`, the two entry points
whose text a refactoring must keep, and writes nothing into the results folders. The mechanism
registry is read from a fake server in a fixed folder and the checkout's path is replaced by
`<checkout>`, so the text does not depend on which checkout, or which build of it, runs the
script. Exit status 1 when a text differs (the unified diff is printed), 0 when every text is
the same."""

import difflib
import glob
import os
import stat
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# The registry the committed runs were judged with (chat-epoll --list-mechanisms at 58f2b7d).
LISTING = (
    '[{"name":"select","cost_independent_of_idle":false},'
    '{"name":"poll","cost_independent_of_idle":false},'
    '{"name":"epoll-lt","cost_independent_of_idle":true},'
    '{"name":"epoll-et","cost_independent_of_idle":true},'
    '{"name":"uring","cost_independent_of_idle":true},'
    '{"name":"uring-completion","cost_independent_of_idle":true}]'
)
BIN = "/tmp/muxbench-report-snapshots-bin"

# (name, folder A, folder B) for ./bench compare; folders relative to the checkout.
COMPARISONS = [
    ("reference-vs-idle-states", "results/reference", "results/reference-idle-states"),
    ("active-counts-vs-4k", "results/active-counts", "results/active-counts-4k"),
    ("uring-close-old1-vs-new1", "results/uring-close/ab/old-1", "results/uring-close/ab/new-1"),
    ("reference-vs-run-G", "results/reference", "plot/tests/data/run-G"),
]


def report_folders():
    """Every committed folder holding a runs.csv the report reads, relative to the checkout."""
    found = glob.glob(os.path.join(ROOT, "results", "**", "runs.csv"), recursive=True)
    found += glob.glob(os.path.join(ROOT, "plot", "tests", "data", "*", "runs.csv"))
    return sorted(os.path.relpath(os.path.dirname(p), ROOT) for p in found)


def fake_bin():
    os.makedirs(BIN, exist_ok=True)
    path = os.path.join(BIN, "chat-epoll")
    with open(path, "w") as f:
        f.write(f"#!/bin/sh\ncat <<'EOF'\n{LISTING}\nEOF\n")
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return BIN


def texts():
    """{file name: text} of every report and comparison."""
    from plot import compare_runs, report

    bin_dir = fake_bin()
    out = {}
    for folder in report_folders():
        out[folder.replace("/", "+") + ".report.md"] = report.build(
            os.path.join(ROOT, folder), bin_dir
        )[2]
    for name, a, b in COMPARISONS:
        comparison = compare_runs.Comparison(os.path.join(ROOT, a), os.path.join(ROOT, b))
        out[name + ".compare.md"] = comparison.markdown(
            os.path.basename(a), os.path.basename(b), "/tmp/compare-out"
        )
    # Folders are shown as absolute paths: the checkout's own place is not the text's business.
    return {name: text.replace(ROOT, "<checkout>") for name, text in out.items()}


def save(folder):
    os.makedirs(folder, exist_ok=True)
    for name, text in texts().items():
        with open(os.path.join(folder, name), "w") as f:
            f.write(text)
    print(f"saved {len(os.listdir(folder))} texts into {folder}")
    return 0


def check(folder):
    differ = 0
    now = texts()
    for name in sorted(set(now) | set(os.listdir(folder))):
        path = os.path.join(folder, name)
        before = open(path).read() if os.path.isfile(path) else ""
        after = now.get(name, "")
        if before != after:
            differ += 1
            sys.stdout.writelines(
                difflib.unified_diff(
                    before.splitlines(True),
                    after.splitlines(True),
                    "before/" + name,
                    "after/" + name,
                )
            )
    print(f"{len(now)} texts, {differ} differ", file=sys.stderr)
    return 1 if differ else 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("save", "check"):
        sys.exit(__doc__)
    sys.exit((save if sys.argv[1] == "save" else check)(sys.argv[2]))
