"""The report's section on the machine and the run: env.json, and the machine settings that move
the figures as much as a mechanism (confounders)."""


from plot.markdown import cell
from plot import run_row


from plot.report_diagnostics import idle_states_effect, idle_states_env


def vulnerability_rows(conf):
    """The CPU vulnerabilities, counted by state, the affected ones named."""
    rows = []
    vulns = conf.get("vulnerabilities")
    if isinstance(vulns, dict) and vulns:
        groups = {"not affected": [], "mitigated": [], "vulnerable": [], "other": []}
        for name, text in sorted(vulns.items()):
            t = str(text or "")
            key = (
                "not affected"
                if t.startswith("Not affected")
                else (
                    "mitigated"
                    if t.startswith("Mitigation")
                    else "vulnerable"
                    if t.startswith("Vulnerable")
                    else "other"
                )
            )
            groups[key].append((name, t))
        summary = f"{len(vulns)} listed: " + ", ".join(
            f"{len(v)} {k}" for k, v in groups.items() if v
        )
        detail = [
            f"{n}: {t[:80]}" for k in ("vulnerable", "mitigated", "other") for n, t in groups[k]
        ]
        rows.append(
            ("CPU vulnerabilities", summary + (" — " + "; ".join(detail) if detail else ""))
        )
    return rows


def setting_rows(conf):
    """Mitigations, frequency, THP, clocksource, isolation, virtualization (env.json
    `confounders`)."""
    rows = []
    if conf.get("mitigations_arg"):
        rows.append(("mitigations= (kernel command line)", conf["mitigations_arg"]))
    if conf:
        rows.append(
            (
                "cpufreq governor",
                conf.get("cpufreq_governor") or "none exposed (no cpufreq; usual on a VM)",
            )
        )
        if conf.get("cpufreq_driver"):
            rows.append(("cpufreq driver", conf["cpufreq_driver"]))
        if conf.get("no_turbo") not in (None, ""):
            rows.append(("intel_pstate no_turbo", conf["no_turbo"]))
        rows.append(("transparent huge pages", conf.get("thp") or "unknown"))
        rows.append(("clocksource", conf.get("clocksource") or "unknown"))
        iso = conf.get("isolation") if isinstance(conf.get("isolation"), dict) else {}
        rows.append(
            (
                "CPU isolation",
                ", ".join(f"{k}={v}" for k, v in iso.items() if v not in (None, ""))
                or "none (no isolcpus, nohz_full)",
            )
        )
        rows.append(("virtualization", conf.get("virtualization") or "unknown"))
    return rows


def cpuidle_rows(results):
    """The cpuidle driver, governor and states (env.json `idle_states`)."""
    rows = []
    cpuidle = idle_states_env(results).get("cpuidle")
    if isinstance(cpuidle, dict):
        rows.append(
            (
                "cpuidle driver / governor",
                f"{cpuidle.get('driver') or 'none'} / {cpuidle.get('governor') or 'none'}",
            )
        )
        states = []
        for st in cpuidle.get("states") or []:
            if not isinstance(st, dict):
                continue
            text = (
                f"{st.get('name')} (exit {st.get('latency_us')} µs, residency"
                f" {st.get('residency_us')} µs"
            )
            states.append(text + (", disabled)" if st.get("disabled") else ")"))
        rows.append(("cpuidle states", "; ".join(states) or "none listed"))
    return rows


def request_rows(results):
    """What the PM QoS request can do and did, and whether it was held."""
    rows = []
    effect = idle_states_effect(results)
    if effect is not None:
        rows.append(
            (
                "PM QoS request can make idle CPUs poll",
                {True: "yes", False: "no"}.get(effect.get("request_can_poll"), "unknown"),
            )
        )
        ratios = [
            f"{key} ×{effect[key + '_ratio']:.2f}"
            for key in ("p50", "p99")
            if effect.get(key + "_ratio") is not None
        ]
        rows.append(
            (
                "floor with ÷ without the request (measured)",
                ", ".join(ratios) if effect.get("measured") and ratios else "not measured",
            )
        )
    env = idle_states_env(results)
    if env:
        held = env.get("held")
        rows.append(("idle states requested", ", ".join(env.get("requested") or []) or "–"))
        rows.append(
            (
                "idle states blocked (PM QoS held)",
                (
                    {True: "yes", False: "no", None: "not requested"}.get(held, held)
                    if held is not None or run_row.BLOCK not in (env.get("requested") or [])
                    else "unknown"
                ),
            )
        )
    return rows


def confounder_rows(results):
    """(label, text) rows for the machine settings that move these figures as much as a
    mechanism."""
    conf = results.raw_env.get("confounders")
    conf = conf if isinstance(conf, dict) else {}
    return (
        vulnerability_rows(conf)
        + setting_rows(conf)
        + cpuidle_rows(results)
        + request_rows(results)
    )


def machine_section(results):
    e = results.env
    keys = [
        ("cpu_model", "CPU"),
        ("cores", "cores"),
        ("kernel", "kernel"),
        ("rlimit_nofile", "RLIMIT_NOFILE"),
        ("compiler", "compiler"),
        ("flags", "flags"),
        ("placement", "placement"),
        ("server_cpu", "server CPU"),
        ("loadgen_cpu", "loadgen CPU"),
        ("hostname", "host"),
        ("started_utc", "started (UTC)"),
        ("sweep_duration_s", "sweep duration (s)"),
        ("git_commit", "git commit"),
    ]
    out = ["## The machine and the run", "", "| | |", "|---|---|"]
    for key, label in keys:
        if key in e and e[key] not in (None, ""):
            out.append(f"| {label} | {cell(e[key])} |")
    if not e:
        out.append("| env.json | missing: machine unknown |")
    extra = sorted(set(e) - {k for k, _ in keys} - {"command_line"})
    for key in extra:
        value = e[key]
        if isinstance(value, (str, int, float, bool)):
            out.append(f"| {cell(key)} | {cell(value)} |")
    confounders = confounder_rows(results)
    if confounders:
        out += [
            "",
            (
                "Machine settings that can move these figures (env.json `confounders`,"
                " `idle_states`). Explanation, not measured by this run: mitigations make every"
                " system call dearer, the frequency governor and the idle states change how fast a"
                " sleeping CPU answers, THP the cost of the holds' memory, the clocksource what a"
                " timestamp costs, isolation and virtualization who else runs on the measured CPUs."
            ),
            "",
            "| setting | value |",
            "|---|---|",
        ]
        out += [f"| {cell(label)} | {cell(value)} |" for label, value in confounders]
    command = e.get("command_line")
    if command:
        if isinstance(command, list):
            command = " ".join(str(c) for c in command)
        out += ["", "Command line:", "", "```", str(command), "```"]
    inputs = [
        f"runs.csv ({len(results.runs)} rows)",
        "micro.csv"
        + (f" ({len(results.micro)} rows)" if results.micro is not None else ": absent"),
        "probe.json" + (": present" if results.probe is not None else ": absent"),
        "env.json" + (": present" if results.env else ": absent"),
    ]
    out += ["", "Inputs: " + ", ".join(inputs) + "."]
    for note in results.notes:
        out.append(f"Note: {note}.")
    return out
