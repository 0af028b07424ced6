"""Which Python draws the plots: one that can import matplotlib.

On Debian only /usr/bin/python3 sees python3-matplotlib; a pyenv or venv python3 earlier on PATH
does not. The one place that searches for it is `./bench python` (find_python in the bench
script, which CMake asks too); here are the checks the Python side makes before asking it.
"""

import importlib.util
import os
import subprocess
import sys

INSTALL_HINT = (
    "install it with `sudo apt-get install python3-matplotlib` and run with /usr/bin/python3, "
    "the interpreter that sees Debian's packages"
)


def has_matplotlib():
    """Whether this interpreter can import matplotlib (without importing it)."""
    try:
        return importlib.util.find_spec("matplotlib") is not None
    except (ImportError, ValueError):
        return False


def plotting_python(root):
    """This interpreter if it has matplotlib, else the one `ROOT/bench python` finds, else this
    one (the plots then fail with INSTALL_HINT)."""
    if has_matplotlib():
        return sys.executable
    bench = os.path.join(root, "bench")
    if os.access(bench, os.X_OK):
        found = subprocess.run([bench, "python"], capture_output=True, text=True)
        if found.returncode == 0 and found.stdout.strip():
            return found.stdout.strip()
    return sys.executable
