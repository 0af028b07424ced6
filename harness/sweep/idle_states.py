"""CPU idle states: what they are on this machine, and a PM QoS request that keeps CPUs out of them.

Why it matters more than any mechanism here: on a VM whose cpuidle driver halts an idle vCPU
(haltpoll, intel_idle, acpi_idle), waking it takes a host exit, and the CPU that wakes it pays the
IPI in its own system time. A ping-pong at low load sleeps and wakes on every message, so its
latency and the server's CPU per message measure that wake-up (on the reference VM: floor p50
79 µs halted vs 9.6 µs polling; chat-epoll 164 vs 40 µs). A server busy scanning 10000
descriptors never halts, so the idle states also bend the *shape* of every curve.

Holding /dev/cpu_dma_latency open with the value 0 asks the kernel for zero exit latency: idle
CPUs then poll (state0 / POLL) instead of halting. The request lasts exactly as long as the
descriptor is open, so it is released on every exit path, a crash or SIGKILL of the sweep
included (the kernel drops it when the file is closed).
"""

import glob
import os
import struct

from harness.sweep.environment import read_text

DEVICE = "/dev/cpu_dma_latency"
BLOCK = "block"
ALLOW = "allow"
CHOICES = (BLOCK, ALLOW)


def parse(text):
    """'block', 'allow' or 'block,allow' -> list of states, in the given order, each once."""
    states = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        if item not in CHOICES:
            raise ValueError(
                f"--idle-states takes block, allow or both (block,allow), not {item!r}"
            )
        if item not in states:
            states.append(item)
    if not states:
        raise ValueError("--idle-states needs block, allow or block,allow")
    return states


def describe(cpu_root="/sys/devices/system/cpu"):
    """The cpuidle driver, governor and states (of cpu0; the others match on the VMs we know)."""
    states = []
    for path in sorted(
        glob.glob(os.path.join(cpu_root, "cpu0", "cpuidle", "state*")),
        key=lambda p: int(p.rsplit("state", 1)[1]),
    ):
        latency, residency = read_text(os.path.join(path, "latency")), read_text(
            os.path.join(path, "residency")
        )
        states.append(
            {
                "name": read_text(os.path.join(path, "name")),
                "desc": read_text(os.path.join(path, "desc")),
                "latency_us": int(latency) if latency and latency.isdigit() else None,
                "residency_us": int(residency) if residency and residency.isdigit() else None,
                "disabled": read_text(os.path.join(path, "disable")) == "1",
            }
        )
    return {
        "driver": read_text(os.path.join(cpu_root, "cpuidle", "current_driver")),
        "governor": read_text(os.path.join(cpu_root, "cpuidle", "current_governor"))
        or read_text(os.path.join(cpu_root, "cpuidle", "current_governor_ro")),
        "states": states,
    }


class LatencyRequest:
    """A PM QoS CPU latency request of 0 µs, on while `block()`ed, off after `allow()`."""

    def __init__(self, device=None):
        # MUXBENCH_CPU_DMA_LATENCY points the sweep's tests at a file of their own.
        self.device = device or os.environ.get("MUXBENCH_CPU_DMA_LATENCY") or DEVICE
        self.fd = None
        self.why_not = None  # set when the request could not be made

    @property
    def held(self):
        return self.fd is not None

    def block(self):
        """Returns True when the request holds; otherwise why_not says why (one line)."""
        if self.fd is not None:
            return True
        try:
            # O_CLOEXEC: a server or loadgen must not inherit (and outlive us with) the request.
            fd = os.open(self.device, os.O_RDWR | os.O_CLOEXEC)
        except OSError as e:
            self.why_not = (
                f"cannot open {self.device} ({e.strerror}); run as root to measure with idle states"
                " blocked"
            )
            return False
        try:
            os.write(fd, struct.pack("i", 0))
            # Reading back gives the value now in force for the whole system.
            now = os.read(fd, 4)
            if len(now) == 4 and struct.unpack("i", now)[0] != 0:
                raise OSError(
                    0,
                    f"the kernel reports {struct.unpack('i', now)[0]} µs in force after writing 0",
                )
        except OSError as e:
            os.close(fd)
            self.why_not = f"{self.device}: {e.strerror or e}"
            return False
        self.fd = fd
        self.why_not = None
        return True

    def allow(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
