"""muxbench's harness: the sweep driver (harness.sweep) and the micro-benchmark conversion
(harness.micro). Run from the repository root, e.g. `python3 -m harness.sweep --help`."""
