"""`python3 -m harness.soak [options]` from the repository root: the soak (`./bench soak`)."""

import sys

from harness.soak.soak import main

sys.exit(main())
