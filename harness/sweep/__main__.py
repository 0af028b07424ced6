"""`python3 -m harness.sweep [options]` from the repository root: the sweep (what ./bench runs)."""

import sys

from harness.sweep.cli import main

sys.exit(main())
