"""Signals of the long-running programs (the sweep, the soak run)."""

import signal


def sigterm_as_interrupt():
    """From now on a SIGTERM unwinds the program as a Ctrl-C does (KeyboardInterrupt), so that
    the same cleanup runs: children stopped, finished rows kept, namespaces removed."""

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)


# The exit status of a program stopped by Ctrl-C or SIGTERM (128 + SIGINT, as a shell reports
# it): what it finished is kept.
EXIT_INTERRUPTED = 130
