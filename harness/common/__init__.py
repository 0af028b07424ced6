"""What the sweep (harness.sweep), the soak run (harness.soak) and the plots and report (plot)
share: the leaf of the harness, importing nothing above it.

Layers, each importing only those below it (harness/tests/test_layers.py checks the import
graph):
  harness.common  output, time, signals, child processes, helper tools, finding binaries, the
                  mechanism listing, the machine's limits (preflight), runs.csv's columns,
                  micro.json's reader, what the idle-state request did in words;
  plot            evaluation and rendering of a results folder; of the harness it imports
                  harness.common only;
  harness.soak    the soak run: harness.common (and plot only as a program it runs);
  harness.sweep   the sweep: harness.common and plot.

One error convention for everything here: a function that cannot do what it was asked raises an
exception whose message says what failed and what to do about it -- ValueError for a request that
cannot be met (an unknown mechanism, a missing binary), children.StartError for a child that did
not come up, tools.ToolFailed for a helper program that failed, OSError passed through. Nothing
here prints (output.sayer's functions excepted), exits, or returns an error string: the entry
points (harness.sweep.cli, harness.soak.soak) catch, say the message and choose the exit status.
What a measurement observed is data, not an error: a loadgen run's outcome
(children.RunResult.error, written into runs.csv), a server's stop problem (children.Server.stop,
written into servers.jsonl), a program that prints no --help (mechanisms.help_text's "").
"""
