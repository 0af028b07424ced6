"""The sweep driver: `python3 -m harness.sweep` (what `./bench` runs)."""
