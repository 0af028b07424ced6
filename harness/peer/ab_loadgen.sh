#!/usr/bin/env bash
# Interleaved A/B of two loadgen builds against one server instance: what a change to the
# load generator's hot path owes (the server-side A/B is ab_builds.sh). The server is pinned to
# one CPU and the loadgen to the other, as the sweep places them; the idle states are held off
# (/dev/cpu_dma_latency at 0, the sweep's default) when we may; the two builds alternate A B, B A,
# A B, ... so that drift during the sitting hits both alike.
#
# Per run it prints the loadgen's CPU per delivered message (loadgen_cpu_pct x window / msgs: the
# figure that must stay well below the server's for a flood row to measure the server), the
# server's (server_cpu_us_per_msg) and the throughput; then per build the medians with min-max.
#
#   harness/peer/ab_loadgen.sh A_LOADGEN B_LOADGEN [--server BIN] [--rounds N] [--warmup S]
#                              [--duration S] [--server-cpu N] [--loadgen-cpu N] [-- LOADGEN ARGS]
# e.g. harness/peer/ab_loadgen.sh /tmp/old/loadgen build/bin/loadgen --rounds 5 -- --mode flood
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
[ $# -ge 2 ] || { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
a="$1" b="$2"
shift 2
server="$here/build/bin/chat-epoll" rounds=3 warmup=0.3 duration=2 server_cpu=1 loadgen_cpu=0
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --server) server="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --server-cpu) server_cpu="$2"; shift 2 ;;
    --loadgen-cpu) loadgen_cpu="$2"; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done
[ ${#extra[@]} -gt 0 ] || extra=(--mode flood)
for f in "$a" "$b" "$server"; do [ -x "$f" ] || { echo "not executable: $f" >&2; exit 2; }; done
work="$(mktemp -d)"
cleanup() { for p in $(jobs -p); do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
# The PM QoS request holds while the descriptor is open (the kernel drops it on close).
if exec 3>/dev/cpu_dma_latency 2>/dev/null; then
  printf '\x00\x00\x00\x00' >&3
  states=block
else
  states=allow
fi
"$server" --port 0 --quiet --cpu "$server_cpu" >"$work/server.out" 2>&1 &
spid=$!
for _ in $(seq 100); do grep -q '^listening' "$work/server.out" && break; sleep 0.02; done
port="$(sed -n 's/^listening [0-9.]*:\([0-9]*\) .*/\1/p' "$work/server.out")"
[ -n "$port" ] || { echo "the server did not listen: $(cat "$work/server.out")" >&2; exit 1; }

echo "round,build,msgs,throughput_msgs_s,loadgen_cpu_pct,loadgen_cpu_us_per_msg,server_cpu_us_per_msg,status" \
  | tee "$work/rows.csv"
for r in $(seq "$rounds"); do
  order=(A B)
  [ $((r % 2)) = 0 ] && order=(B A)
  for build in "${order[@]}"; do
    bin="$a"
    [ "$build" = B ] && bin="$b"
    "$bin" --port "$port" --cpu "$loadgen_cpu" --server-pid "$spid" --warmup "$warmup" \
      --duration "$duration" --json "${extra[@]}" 2>"$work/loadgen.err" >"$work/row.json" \
      || { echo "loadgen $build failed: $(tail -3 "$work/loadgen.err")" >&2; exit 1; }
    /usr/bin/python3 - "$work/row.json" "$r" "$build" <<'PY' | tee -a "$work/rows.csv"
import json, sys
r = json.load(open(sys.argv[1]))
msgs = float(r["msgs"])
# The window as measured (msgs / throughput), not the one asked for.
window_s = msgs / float(r["throughput_msgs_s"])
lg = float(r["loadgen_cpu_pct"]) / 100 * window_s * 1e6 / msgs
print(f"{sys.argv[2]},{sys.argv[3]},{r['msgs']},{float(r['throughput_msgs_s']):.0f},"
      f"{float(r['loadgen_cpu_pct']):.1f},{lg:.3f},{r['server_cpu_us_per_msg']},{r['status']}")
PY
  done
done
kill "$spid"
wait "$spid" 2>/dev/null || true
/usr/bin/python3 - "$work/rows.csv" "$states" "$a" "$b" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
print(f"# idle states: {sys.argv[2]}; A = {sys.argv[3]}, B = {sys.argv[4]}")
for build in ("A", "B"):
    mine = [r for r in rows if r["build"] == build]
    for col in ("loadgen_cpu_us_per_msg", "server_cpu_us_per_msg", "throughput_msgs_s",
                "loadgen_cpu_pct"):
        v = [float(r[col]) for r in mine]
        print(f"# {build} {col:24} median {statistics.median(v):10.3f}  "
              f"(min {min(v):.3f}, max {max(v):.3f}, n={len(v)})")
    print(f"# {build} statuses: {', '.join(sorted({r['status'] for r in mine}))}")
PY
