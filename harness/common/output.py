"""Progress and problems go to stderr, one line each, prefixed with the program that says them
(`sweep: ...`, `soak: ...`), flushed at once so that they interleave with the children's in
order; stdout stays for what a caller reads (the report's path)."""

import sys


def sayer(program):
    """The `say(text)` of one program."""

    def say(text):
        print(f"{program}: {text}", file=sys.stderr, flush=True)

    return say
