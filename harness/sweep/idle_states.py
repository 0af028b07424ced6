"""CPU idle states: what they are on this machine, a PM QoS request meant to keep CPUs out of
them, and what holding that request measurably did here.

Why it matters more than any mechanism here: on a VM whose cpuidle driver halts an idle vCPU
(haltpoll, intel_idle, acpi_idle), waking it takes a host exit, and the CPU that wakes it pays the
IPI in its own system time. A ping-pong at low load sleeps and wakes on every message, so its
latency and the server's CPU per message measure that wake-up (on the reference VM: floor p50
79 µs halted vs 9.6 µs polling; chat-epoll 164 vs 40 µs). A server busy scanning 10000
descriptors rarely goes idle, so there the idle states also bend the *shape* of every curve.

Holding /dev/cpu_dma_latency open with the value 0 asks the kernel for zero exit latency. The
request is read by the cpuidle governor: with a driver that lists a polling state (POLL) and
deeper ones, idle CPUs then poll instead of entering the deeper states. Without a cpuidle driver
the request has no state to choose from and an idle CPU takes the kernel's default idle routine
whatever it says, so the sweep measures what the request did (measure_effect) instead of assuming
it. The request lasts exactly as long as the descriptor is open, so it is released on every exit
path, a crash or SIGKILL of the sweep included (the kernel drops it when the file is closed).
"""

import glob
import os
import statistics
import struct

from harness.common import children, idle_effect
from harness.common.environment import read_text

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


# -- what the request can do here ------------------------------------------------------------

# The name the kernel's cpuidle core gives its polling state (drivers/cpuidle/poll_state.c).
POLL_STATE = "POLL"


def _polls(state):
    return state.get("name") == POLL_STATE or "POLL" in (state.get("desc") or "")


def request_reach(cpuidle):
    """(can_poll, sentence): whether holding the request at 0 can make idle CPUs poll on this
    machine, said in words for env.json and the report. cpuidle is describe()'s dict."""
    driver = cpuidle.get("driver")
    states = [s for s in cpuidle.get("states") or [] if isinstance(s, dict)]
    names = ", ".join(s.get("name") or "?" for s in states)
    if not driver or driver == "none" or not states:
        return False, (
            f"this machine has no cpuidle driver (current_driver: {driver or 'absent'}) and lists"
            f" {'no idle states' if not states else 'states ' + names}: the request has no idle"
            " state to keep CPUs out of, so it cannot make idle CPUs poll here; an idle CPU takes"
            " the kernel's default idle routine whatever the request says"
        )
    deeper = [s for s in states if not _polls(s) and not s.get("disabled")]
    if not any(_polls(s) for s in states):
        return False, (
            f"cpuidle driver {driver} lists no polling state ({names}): the request keeps idle"
            f" CPUs in the shallowest state ({states[0].get('name')}), which does not poll"
        )
    if not deeper:
        return False, (
            f"cpuidle driver {driver} lists no enabled state deeper than polling ({names}): idle"
            " CPUs poll with or without the request, so it cannot change what they do here"
        )
    return True, (
        f"cpuidle driver {driver} ({names}): the request keeps idle CPUs polling instead of"
        f" entering {', '.join(s.get('name') or '?' for s in deeper)}"
    )


# -- what the request did here: the floor with and without it ----------------------------------

# Without, with, without, with, ...: interleaved so that a drift of the machine during the
# measurement shows as spread within each setting, not as an effect of the request. Three rounds,
# so that each median is a run and not the mean of two: here one disturbed 1 s run had a p99 of
# 2.9 ms against 55-63 µs for the others.
EFFECT_ROUNDS = 3
# Short runs of the 2-hop floor, about 8 s in all: a 1 s window holds some 10^4 round trips here,
# enough for a p99, and the effect we look for (x4-8 at low load with haltpoll) is far larger
# than the ±30 % one floor moves by from run to run.
EFFECT_WARMUP_S = 0.2
EFFECT_WINDOW_S = 1.0
WITHOUT, WITH = "without", "with"


def effect_runs_order(rounds=EFFECT_ROUNDS):
    return [setting for _ in range(rounds) for setting in (WITHOUT, WITH)]


def floor_figures(loadgen, loadgen_cpu, server_cpu, log_path, label):
    """One 2-hop floor run: {p50_us, p99_us, status}; status is the loadgen's or why it failed."""
    cmd = [loadgen, "--mode", "floor", "--cpu", str(loadgen_cpu), "--peer-cpu", str(server_cpu)]
    cmd += ["--warmup", str(EFFECT_WARMUP_S), "--duration", str(EFFECT_WINDOW_S)]
    cmd += ["--csv-header", "--label", label]
    timeout_s = 20.0 + 3.0 * (EFFECT_WARMUP_S + EFFECT_WINDOW_S)
    result = children.run_loadgen(cmd, log_path, timeout_s)
    if result.row is None:
        return {"p50_us": None, "p99_us": None, "status": "error:" + result.error}
    return {
        "p50_us": _number(result.row.get("p50_us")),
        "p99_us": _number(result.row.get("p99_us")),
        "status": result.row.get("status") or "error:no status",
    }


def _number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def summarize_effect(runs):
    """Medians per setting and the ratios with ÷ without, from the ok runs; None where a setting
    has no ok run."""
    out = {}
    for figure in ("p50_us", "p99_us"):
        medians = {}
        for setting in (WITHOUT, WITH):
            values = [
                r[figure]
                for r in runs
                if r["request"] == setting and r["status"] == "ok" and r[figure] is not None
            ]
            medians[setting] = statistics.median(values) if values else None
            out[f"{figure[:3]}_{setting}_us"] = medians[setting]
        ok = bool(medians[WITHOUT]) and medians[WITH] is not None
        out[f"{figure[:3]}_ratio"] = round(medians[WITH] / medians[WITHOUT], 3) if ok else None
    return out


def measure_effect(request, run_floor, cpuidle=None, rounds=EFFECT_ROUNDS):
    """env.json's idle_states_effect: the floor without and with the request, interleaved, and
    what the request can do here. run_floor(label) -> floor_figures()'s dict. The request is left
    as it was found (held or not)."""
    cpuidle = describe() if cpuidle is None else cpuidle
    can_poll, reach = request_reach(cpuidle)
    effect = {
        "cpuidle_driver": cpuidle.get("driver"),
        "cpuidle_states": [s.get("name") for s in cpuidle.get("states") or []],
        "request_can_poll": can_poll,
        "what_the_request_can_do": reach,
        "warmup_s": EFFECT_WARMUP_S,
        "window_s": EFFECT_WINDOW_S,
        "runs": [],
    }
    was_held = request.held
    try:
        # Tried before the first run: without the request there is nothing to compare.
        orders = effect_runs_order(rounds) if request.block() else []
        for n, setting in enumerate(orders):
            if not _hold(request, setting == WITH):
                break
            figures = run_floor(f"idle-effect-{setting}-{n // 2 + 1}")
            effect["runs"].append(dict(request=setting, round=n // 2 + 1, **figures))
    finally:
        _hold(request, was_held)
    effect.update(summarize_effect(effect["runs"]))
    effect["measured"] = effect["p50_ratio"] is not None
    if request.why_not:
        effect["why_not"] = request.why_not
    return effect


def _hold(request, held):
    """Sets the request held or released; False (why_not set) when it could not be held."""
    if held:
        return request.block()
    request.allow()
    return True


def effect_sentence(effect):
    """One line: what holding the request did to the floor here (or why it was not measured)."""
    if not effect.get("measured"):
        why = idle_effect.why_not_measured(effect)
        return f"what holding the request does was not measured: {why}"
    rounds = idle_effect.rounds(effect)
    return (
        f"holding the request changed the floor's {idle_effect.floor_changes(effect, _us)} on this"
        f" machine (median of {rounds} interleaved run{'s' if rounds != 1 else ''} each)"
    )


def _us(value):
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def effect_summary(effect):
    """The sweep's line: what the request can do here, then what it did."""
    return f"{effect['what_the_request_can_do']}; {effect_sentence(effect)}"
