"""What env.json and soak.json record about the machine, the build and the run's settings."""

import os
import platform
import resource
import socket
import subprocess
import sys


def read_text(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _run(cmd, cwd=None, timeout=10):
    try:
        done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip()


def cpu_model():
    text = read_text("/proc/cpuinfo") or ""
    for line in text.splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or None


def cmake_cache(build_dir):
    """The build's compiler and flags, from CMakeCache.txt (None entries when unknown)."""
    wanted = [
        "CMAKE_CXX_COMPILER",
        "CMAKE_BUILD_TYPE",
        "CMAKE_CXX_FLAGS",
        "CMAKE_CXX_FLAGS_RELEASE",
        "MUXBENCH_SANITIZE",
        "MUXBENCH_WERROR",
    ]
    found = {k: None for k in wanted}
    text = read_text(os.path.join(build_dir, "CMakeCache.txt")) if build_dir else None
    for line in (text or "").splitlines():
        if "=" not in line or line.startswith(("#", "//")):
            continue
        key, value = line.split("=", 1)
        key = key.split(":", 1)[0]
        if key in found:
            found[key] = value
    compiler = found["CMAKE_CXX_COMPILER"]
    version = _run([compiler, "--version"]) if compiler else None
    return {
        "cmake_cache": os.path.join(build_dir, "CMakeCache.txt") if text else None,
        "compiler": compiler,
        "compiler_version": version.splitlines()[0] if version else None,
        "build_type": found["CMAKE_BUILD_TYPE"],
        "cxx_flags": found["CMAKE_CXX_FLAGS"],
        "cxx_flags_release": found["CMAKE_CXX_FLAGS_RELEASE"],
        "sanitize": found["MUXBENCH_SANITIZE"],
    }


def git_state(root):
    commit = _run(["git", "rev-parse", "HEAD"], cwd=root)
    status = _run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root)
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def tool_version(path):
    out = _run([path, "--version"])
    return out.splitlines()[0] if out else None


def machine():
    uname = os.uname()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return {
        "hostname": socket.gethostname(),
        "kernel": f"{uname.sysname} {uname.release} {uname.version}",
        "arch": uname.machine,
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "cpus_allowed": sorted(os.sched_getaffinity(0)),
        "cpu_governor": read_text("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        "virtualization": _run(["systemd-detect-virt"]),
        "rlimit_nofile": {"soft": soft, "hard": hard},
        "fs_file_max": read_text("/proc/sys/fs/file-max"),
        "ip_local_port_range": read_text("/proc/sys/net/ipv4/ip_local_port_range"),
        "somaxconn": read_text("/proc/sys/net/core/somaxconn"),
        "python": {"executable": sys.executable, "version": platform.python_version()},
    }


def confounders():
    """Settings of the machine that move these figures as much as a mechanism does.

    Mitigations make every system call dearer (KPTI without PCID: up to several times), the
    frequency governor and turbo change the speed under a short burst, THP changes the cost of
    the holds' memory, the clocksource decides what a timestamp costs (tsc is a vDSO read, a
    hypervisor clock may be a system call), and isolated or tickless CPUs change who else runs
    on the measured CPUs."""
    vuln_dir = "/sys/devices/system/cpu/vulnerabilities"
    try:
        names = sorted(os.listdir(vuln_dir))
    except OSError:
        names = []
    cmdline = read_text("/proc/cmdline") or ""
    words = cmdline.split()

    def kernel_arg(key):
        values = [w.split("=", 1)[1] for w in words if w.startswith(key + "=")]
        return values[-1] if values else None

    return {
        "vulnerabilities": {n: read_text(os.path.join(vuln_dir, n)) for n in names},
        "mitigations_arg": kernel_arg("mitigations"),
        "cpufreq_governor": read_text("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        "cpufreq_driver": read_text("/sys/devices/system/cpu/cpu0/cpufreq/scaling_driver"),
        "no_turbo": read_text("/sys/devices/system/cpu/intel_pstate/no_turbo"),
        "thp": read_text("/sys/kernel/mm/transparent_hugepage/enabled"),
        "clocksource": read_text(
            "/sys/devices/system/clocksource/clocksource0/current_clocksource"
        ),
        "isolation": {
            "isolcpus": kernel_arg("isolcpus"),
            "nohz_full": kernel_arg("nohz_full"),
            "rcu_nocbs": kernel_arg("rcu_nocbs"),
            "sys_isolated": read_text("/sys/devices/system/cpu/isolated"),
        },
        "virtualization": _run(["systemd-detect-virt"]),
        "kernel_cmdline": cmdline,
    }
