"""after_runs: Python's select.select witness (claim 1) run under py-select's interpreter and kept
in probe.json beside mux-probe's findings."""

import json
import os
import sys
import tempfile
import types
import unittest

from harness.sweep import after_runs

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def folder_with(py_select_first_line, probe):
    """A bin folder holding a py-select script with the given first line, and an out folder
    holding probe.json (or none when probe is None)."""
    tmp = tempfile.mkdtemp(prefix="after-runs-")
    bin_dir, out_dir = os.path.join(tmp, "bin"), os.path.join(tmp, "out")
    os.makedirs(bin_dir)
    os.makedirs(os.path.join(out_dir, "logs"))
    if py_select_first_line is not None:
        with open(os.path.join(bin_dir, "py-select"), "w") as f:
            f.write(py_select_first_line + "\n")
    if probe is not None:
        with open(os.path.join(out_dir, "probe.json"), "w") as f:
            json.dump(probe, f)
    return types.SimpleNamespace(bin=bin_dir, root=ROOT), out_dir


class PythonSelectWitnessTest(unittest.TestCase):
    def test_the_interpreter_is_py_selects_shebang(self):
        args, _ = folder_with("#!/usr/bin/python3 -u", None)
        self.assertEqual(
            after_runs.interpreter_of(os.path.join(args.bin, "py-select")), "/usr/bin/python3"
        )
        args, _ = folder_with("import select", None)
        self.assertIsNone(after_runs.interpreter_of(os.path.join(args.bin, "py-select")))
        self.assertIsNone(after_runs.interpreter_of(os.path.join(args.bin, "no-such")))

    def test_the_outcome_joins_mux_probes_findings(self):
        args, out_dir = folder_with("#!" + sys.executable, {"fd_setsize": 1024})
        self.assertEqual(after_runs.python_select_probe(args, out_dir), "ok")
        with open(os.path.join(out_dir, "probe.json")) as f:
            probe = json.load(f)
        self.assertEqual(probe["fd_setsize"], 1024)
        found = probe["python_select_ge_fdsetsize"]
        self.assertEqual(found["fd"], 1024)
        self.assertEqual(found["interpreter"], sys.executable)
        # CPython checks every descriptor against FD_SETSIZE before it builds the fd_set.
        self.assertEqual(
            found["outcome"], "raised ValueError: filedescriptor out of range in select()"
        )

    def test_no_py_select_is_a_reason_not_a_failure(self):
        args, out_dir = folder_with(None, {"fd_setsize": 1024})
        self.assertIn("skipped", after_runs.python_select_probe(args, out_dir))
        with open(os.path.join(out_dir, "probe.json")) as f:
            self.assertNotIn("python_select_ge_fdsetsize", json.load(f))

    def test_a_missing_probe_json_is_said(self):
        args, out_dir = folder_with("#!" + sys.executable, None)
        self.assertIn("not merged into probe.json", after_runs.python_select_probe(args, out_dir))


if __name__ == "__main__":
    unittest.main()
