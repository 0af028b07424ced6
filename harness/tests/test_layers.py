"""The Python side's layering and sizes, read from the source (nothing is imported or run).

Layers (harness/common/__init__.py says why): harness.common is the leaf; plot imports of the
harness only harness.common; harness.soak and harness.micro import of the harness only
harness.common (and themselves); harness.sweep may import everything below it. Every import
counts, the ones inside functions and the tests' too. And no Python module of the repository
(harness, plot, the Python servers, the tests) over MAX_LINES lines: past that, a module holds
more than one job (split it by job, as harness/sweep/ is split into cli, planning, executor,
...); no function over MAX_FUNCTION_LINES (split it by step) unless LONG_ON_PURPOSE says why.
"""

import ast
import os
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAX_LINES = 600
MAX_FUNCTION_LINES = 60
SIZED = ("harness", "plot", "servers/python", "tests")  # the Python held to these sizes
# Functions allowed past MAX_FUNCTION_LINES, each with its reason (said at the function too).
LONG_ON_PURPOSE = {
    ("tests/fuzz/make_seeds.py", "chat_core_seeds"): "one table of named seeds, not steps",
}

# package (as a path prefix) -> the packages of the repository it may import; anything else of
# harness and plot is forbidden to it.
ALLOWED = {
    "harness/common": ("harness.common",),
    "harness/soak": ("harness.common", "harness.soak"),
    "harness/micro": ("harness.common", "harness.micro"),
    "plot": ("harness.common", "plot"),
}
OURS = ("harness", "plot")
# Helpers that existed twice (or more) before harness.common: each is defined by one module only.
ONE_HOME = {
    "say": None,  # no `def say`: each program makes its own with harness.common.output.sayer
    "utc_now": "harness/common/clock.py",
    "find_mechanisms": "harness/sweep/planning.py",  # says and returns None; the search is
    "find": "harness/common/mechanisms.py",  # ... here (mechanisms.find), raising ValueError
    "run_tool": "harness/common/tools.py",
    "root_on_path": "harness/common/tools.py",
    "python_module": "harness/common/tools.py",
    "plotting_python": "harness/common/plotting_python.py",
    "human_bytes": "harness/common/preflight.py",
}


def python_files(*tops):
    for top in tops:
        for folder, dirs, files in os.walk(os.path.join(ROOT, top)):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for name in sorted(files):
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    yield os.path.relpath(path, ROOT)


def imported_modules(path):
    """Every module the file at path imports."""
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return list(modules_imported_by(f.read(), path))


def modules_imported_by(source, name="<source>"):
    """(line, module) of every import in source, at any depth (absolute imports; the
    repository uses no relative ones)."""
    tree = ast.parse(source, name)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                yield node.lineno, "." * node.level + (node.module or "")
            elif node.module:
                # `from harness import sweep` imports harness.sweep.
                for alias in node.names:
                    yield node.lineno, f"{node.module}.{alias.name}"


def within(module, packages):
    return any(module == p or module.startswith(p + ".") for p in packages)


def violations(rules=None, tops=("harness", "plot")):
    """`path:line imports module` for each import that crosses a layer upwards."""
    rules = ALLOWED if rules is None else rules
    found = []
    for path in python_files(*tops):
        prefix = next((p for p in rules if path == p or path.startswith(p + "/")), None)
        if prefix is None:
            continue
        for line, module in imported_modules(path):
            if module.startswith("."):
                found.append(f"{path}:{line} imports {module} (relative imports hide the layer)")
            elif within(module, OURS) and not within(module, rules[prefix]):
                found.append(f"{path}:{line} imports {module}")
    return found


def top_level_definitions(*tops):
    """{function name: [path, ...]} of every module-level def outside the tests."""
    found = {}
    for path in python_files(*tops):
        if "/tests/" in path:
            continue
        with open(os.path.join(ROOT, path), encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                found.setdefault(node.name, []).append(path)
    return found


def functions_longer_than(source, limit, name="<source>"):
    """(name, lines) of every function or method in source longer than limit lines, nested ones
    included."""
    for node in ast.walk(ast.parse(source, name)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            lines = node.end_lineno - node.lineno + 1
            if lines > limit:
                yield node.name, lines


def long_functions(*tops):
    """`path name: N lines` of each function over MAX_FUNCTION_LINES."""
    found = []
    for path in python_files(*tops):
        with open(os.path.join(ROOT, path), encoding="utf-8") as f:
            source = f.read()
        for name, lines in functions_longer_than(source, MAX_FUNCTION_LINES, path):
            if (path, name) not in LONG_ON_PURPOSE:
                found.append(f"{path} {name}: {lines} lines")
    return found


class LayersTest(unittest.TestCase):
    def test_no_upward_import(self):
        self.assertEqual(
            violations(),
            [],
            "imports that cross the layers (harness/common/__init__.py): move what is shared "
            "down into harness.common",
        )

    def test_the_check_sees_every_kind_of_import(self):
        source = (
            "import harness.sweep.plan\n"
            "from harness import sweep\n"
            "def f():\n"
            "    from harness.sweep.plan import PRESETS\n"
        )
        self.assertEqual(
            list(modules_imported_by(source)),
            [(1, "harness.sweep.plan"), (2, "harness.sweep"), (4, "harness.sweep.plan.PRESETS")],
        )
        self.assertFalse(within("harness.sweep.plan", ALLOWED["plot"]))
        self.assertTrue(within("harness.common.preflight", ALLOWED["plot"]))

    def test_each_shared_helper_has_one_home(self):
        found = top_level_definitions("harness", "plot")
        for name, home in ONE_HOME.items():
            with self.subTest(name):
                self.assertEqual(found.get(name, []), [home] if home else [])

    def test_modules_are_small(self):
        big = []
        for path in python_files(*SIZED):
            with open(os.path.join(ROOT, path), encoding="utf-8") as f:
                lines = sum(1 for _ in f)
            if lines > MAX_LINES:
                big.append(f"{path}: {lines} lines")
        self.assertEqual(big, [], f"modules over {MAX_LINES} lines: split them by job")

    def test_functions_are_short(self):
        self.assertEqual(
            long_functions(*SIZED),
            [],
            f"functions over {MAX_FUNCTION_LINES} lines: split them by step",
        )

    def test_the_length_check_sees_methods_and_nested_functions(self):
        body = "".join(f"            x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))
        source = (
            "def short():\n    pass\n"
            "class C:\n    def m(self):\n        def inner():\n" + body + "        return inner\n"
        )
        self.assertEqual(
            list(functions_longer_than(source, MAX_FUNCTION_LINES)),
            [("m", MAX_FUNCTION_LINES + 3), ("inner", MAX_FUNCTION_LINES + 1)],
        )


if __name__ == "__main__":
    unittest.main()
