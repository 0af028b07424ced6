"""The sweep's voice: every line it says goes to stderr as `sweep: ...` (harness.common.output)."""

from harness.common.output import sayer

say = sayer("sweep")
