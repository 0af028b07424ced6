"""The plots plot.py draws: file stem, title, and what a reader should look at.

Shared by plot.py (which draws them) and report.py (which embeds and explains them), so that the
report never links a plot under another name than the one drawn.
"""

FIGURES = [
    (
        "latency",
        "Latency vs idle connections",
        (
            "p50 and p99 round-trip latency of the active connections while N idle ones are held"
            " open. The dashed line is the blocking ping-pong floor (no chat server, no"
            " multiplexer): what loopback TCP costs by itself. select and poll climb away from it"
            " as idle connections grow; epoll stays near it. When the run measured it, the dash-dot"
            " line on pingpong panels is the relay floor: a blocking relay over a chat ping-pong's"
            " 4 hops and CPUs, no multiplexer."
        ),
    ),
    (
        "throughput",
        "Throughput vs idle connections",
        (
            "Messages delivered per second. A mechanism that scans every watched descriptor on each"
            " call loses throughput as idle connections are added; one that keeps the interest list"
            " in the kernel does not. When the run recorded bound_by, hollow markers are points the"
            " round trip or the loadgen bound (a rate, not a capacity), filled ones server-bound,"
            " and a dotted line in each mechanism's colour is its server capacity (10⁶ ÷ server CPU"
            " µs per message)."
        ),
    ),
    (
        "cpu_per_msg",
        "Server CPU per message vs idle connections",
        (
            "Server user + system CPU (kernel accounting over the measuring window) divided by"
            " messages. What each idle connection adds to it is plotted in *Cost per watched"
            " descriptor*, the figure claims 2, 4 and 8 use."
        ),
    ),
    (
        "fds_per_event",
        "Descriptors handed to the kernel per ready event",
        (
            "Descriptors passed to the wait call divided by events it returned: how much scanning"
            " buys one useful event. select and poll pass every watched descriptor on every call;"
            " epoll passes none (its interest list lives in the kernel), so its line lies on 0 of"
            " the symlog axis."
        ),
    ),
    (
        "micro_wait",
        "One wait call vs watched descriptors (micro-benchmark)",
        (
            "Google Benchmark timing of a single select / poll / epoll_wait call with N descriptors"
            " watched and one ready (log-log). A slope of 1 on this plot is linear growth; a flat"
            " line is cost independent of N."
        ),
    ),
    (
        "per_fd",
        "Cost per watched descriptor (claims 2, 4, 8)",
        (
            "What one more watched descriptor adds: (cost at N − cost at the smallest N) ÷ (N −"
            " smallest N), for one wait call (left, micro.csv) and for the server's CPU per"
            " message per idle connection (right, runs.csv). Linear growth is a flat line here;"
            " a line that rises is a cost growing faster than linearly, and a single slope fitted"
            " over it would describe no count. epoll lies on 0. Dotted in poll's colour: poll over"
            " the same N entries naming only a few distinct sockets (the shared family), which"
            " separates the per-entry work from the sockets' kernel objects."
        ),
    ),
    (
        "micro_ready",
        "Wait call vs ready descriptors, and epoll_ctl",
        (
            "Left: one wait call with N watched fixed and k of them ready. epoll_wait's cost grows"
            " with k, because each ready event is copied out to user space; select's and poll's"
            " stay dominated by N. Right: the cost of one epoll_ctl registration call (add, modify,"
            " delete) against the number already registered."
        ),
    ),
    (
        "churn",
        "Connection churn vs idle connections",
        (
            "Connections opened, used and closed per second. epoll pays epoll_ctl for every"
            " connection; select and poll pay their scan on every call instead."
        ),
    ),
    (
        "net_compare",
        "Loopback against veth",
        (
            "Per mechanism, pingpong p50 and p99 and the server CPU per message over each path of a"
            " `--net lo,veth` run (solid: loopback; hatched: the veth pair between two network"
            " namespaces), medians over repeats at the smallest idle count both paths served. The"
            " claims are judged on loopback only; this is where the paths meet."
        ),
    ),
    (
        "curves",
        "p99 against offered load (claim 12)",
        (
            "One open-loop run per point (loadgen --mode rate: messages sent at scheduled times,"
            " latency from the intended send time, so queueing counts): p99 against the msg/s the"
            " server achieved, one line per mechanism, one panel per idle count, log axes. The"
            " dashed line is the latency objective (--slo-p99). A curve bends up where the server"
            " nears its capacity; with thousands of idle connections select's and poll's knee"
            " moves left, epoll's stays. Hollow markers: offered beyond what the loadgen itself"
            " was measured to send."
        ),
    ),
    (
        "capacity",
        "Capacity at the latency objective vs idle connections (claim 12)",
        (
            "Per mechanism and idle count, the highest offered rate the server carried (≥ 99 %)"
            " within the objective, found by bisection in fresh instances, with its 95 % interval:"
            " the operator's one-glance answer to how much load each mechanism takes with N idle"
            " connections held open."
        ),
    ),
    (
        "series",
        "Per-second series at the largest idle count",
        (
            "Messages per second (top) and the p99 of each interval (bottom) through the measuring"
            " window, one line per run, at the largest idle count whose runs kept a series"
            " (series/run-N.csv: `--full`, windows longer than 10 s, or `--interval`). A flat line"
            " is a steady server; steps or spikes inside a window are drift the window's median"
            " hides."
        ),
    ),
]
