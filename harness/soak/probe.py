"""What the soak reads from a running server: /proc (descriptors, RSS, CPU) and its /stats line.

/proc/PID/fd counts every descriptor the server holds (listener, stdio, the mechanism's own
epoll or io_uring descriptor, one per connection); VmRSS is its resident memory and VmHWM the
highest it has been; utime + stime (fields 14 and 15 of /proc/PID/stat) its CPU. /stats is asked
over a fresh TCP connection, as any client would, so a server that stopped serving new clients
fails it even when its process is still there.
"""

import json
import os
import socket
import time

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
STATS_TIMEOUT_S = 5.0
STATS_KEYS = (
    "accepted",
    "refused",
    "current",
    "peak",
    "msgs_in",
    "msgs_out",
    "bytes_in",
    "bytes_out",
    "slow_dropped",
    "overlong_dropped",
)


def descriptors(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def memory_kib(pid):
    """(VmRSS, VmHWM) in KiB."""
    found = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0])
    return found["VmRSS"], found["VmHWM"]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def process(pid):
    """fds, rss_kib, rss_peak_kib, cpu_s of a live process; raises OSError when it is gone."""
    rss, hwm = memory_kib(pid)
    return {
        "fds": descriptors(pid),
        "rss_kib": rss,
        "rss_peak_kib": hwm,
        "cpu_s": round(cpu_seconds(pid), 3),
    }


def ask_stats(host, port, timeout_s=STATS_TIMEOUT_S):
    """(the /stats JSON as a dict, None) or (None, why not)."""
    deadline = time.monotonic() + timeout_s
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as s:
            s.sendall(b"/stats\n")
            buf = b""
            while True:
                s.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = s.recv(65536)
                if not chunk:
                    return None, "closed before answering /stats: " + _last_line(buf)
                buf += chunk
                for line in buf.split(b"\n")[:-1]:
                    if line.startswith(b"{"):
                        return json.loads(line), None
    except socket.timeout:
        return None, f"no /stats answer within {timeout_s:g} s"
    except OSError as e:
        return None, f"/stats connection failed: {e}"
    except ValueError as e:
        return None, f"unparsable /stats line: {e}"


def _last_line(buf):
    lines = [line for line in buf.decode("utf-8", "replace").split("\n") if line.strip()]
    return lines[-1][:120] if lines else "nothing received"
