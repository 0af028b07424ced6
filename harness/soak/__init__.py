"""The soak run: `python3 -m harness.soak` (what `./bench soak` runs)."""
