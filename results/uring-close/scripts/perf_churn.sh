#!/usr/bin/env bash
# perf_churn.sh BIN IDLE OUTDIR: uring-completion from BIN on CPU 1, loadgen churn with IDLE idle
# connections on CPU 0; once every idle connection is up, 3 s of perf record -e cpu-clock -g on
# the server, and /stats (accepted, cpu_user_us, cpu_sys_us) before and after those 3 s.
set -euo pipefail
bin=$1 idle=$2 out=$3 port=8931
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
"$bin/chat-uring" --model completion --port $port --quiet --cpu 1 >"$out/server.out" 2>&1 &
spid=$!
trap 'kill $spid 2>/dev/null || true' EXIT
sleep 0.3
"$bin/loadgen" --port $port --mode churn --idle "$idle" --warmup 2 --duration 12 --cpu 0 \
  --server-pid $spid --csv-header >"$out/loadgen.csv" 2>"$out/loadgen.err" &
lpid=$!
for i in $(seq 600); do
  n=$(ls /proc/$spid/fd | wc -l)
  [ "$n" -ge "$idle" ] && break
  sleep 0.05
done
sleep 2.5  # into the churn window
/usr/bin/python3 "$here/stats.py" $port >"$out/stats-before.json"
perf record -e cpu-clock -F 4999 -g -p $spid -o "$out/perf.data" -- sleep 3 2>"$out/perf.err"
/usr/bin/python3 "$here/stats.py" $port >"$out/stats-after.json"
wait $lpid || true
kill $spid; wait $spid || true
/usr/bin/python3 - "$out" <<'PY'
import json, sys
d = sys.argv[1]
a = json.load(open(f"{d}/stats-before.json")); b = json.load(open(f"{d}/stats-after.json"))
n = b["accepted"] - a["accepted"]
u = b["cpu_user_us"] - a["cpu_user_us"]; s = b["cpu_sys_us"] - a["cpu_sys_us"]
print(f"{d}: {n} connections in the perf window; server user {u/n:.1f} us/conn, system {s/n:.1f} us/conn")
PY
