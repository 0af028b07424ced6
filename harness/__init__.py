"""muxbench's harness: what is shared (harness.common, the leaf: see its docstring for the layers
and the one error convention), the sweep driver (harness.sweep), the soak run (harness.soak) and
the micro-benchmark conversion (harness.micro). Run from the repository root, e.g.
`python3 -m harness.sweep --help`."""
