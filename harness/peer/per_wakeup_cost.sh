#!/usr/bin/env bash
# Server CPU per wake-up of the chat servers beside sockperf's server, measured side by side in
# one sitting: every server pinned to one CPU, its client to the other, no idle connections, one
# message in flight (ping-pong), so each server wake-up is one recv and one send in both. The
# chat servers are driven by loadgen's pingpong mode (two clients, the server relays A -> B and
# back), sockperf's server by `sockperf pp` (the server echoes). Each figure is the server's CPU
# time from /proc/PID/stat (clock ticks) divided by the messages of the same interval.
#
# Why both idle states: on a VM a halted vCPU's wake-up dominates a lightly loaded server's CPU
# time; holding /dev/cpu_dma_latency at 0 (as ./bench does by default) keeps idle CPUs polling,
# and the ratio is judged there.
#
# Servers: chat-select, chat-poll, chat-epoll (level-triggered), chat-epoll-et (chat-epoll
# --edge), chat-uring (its poll model), each judged against sockperf's server on the same
# mechanism (sockperf-select, -poll, -epoll; sockperf has no edge-triggered or io_uring mode, so
# those two are judged against sockperf-epoll). --bin-a DIR adds every chat server of another
# build as A:chat-..., run in the same rotation: an interleaved A/B of two builds, with sockperf
# as the common yardstick. --peer-idle 1 holds one idle connection to sockperf's server, as
# loadgen's /stats connection is one to the chat server's (default 0: sockperf as it comes).
#
#   harness/peer/per_wakeup_cost.sh [--bin DIR] [--bin-a DIR] [--repeats N] [--duration S]
#                                   [--size BYTES] [--idle-states allow,block] [--servers LIST]
#                                   [--peer-idle N]
# Prints one CSV row per run, then the medians (min-max) and each chat/sockperf ratio paired by
# repeat, with its 95 % interval and whether it meets <= 1.05x (harness/peer/wakeup_ratio.py).
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
bin="$here/build/bin" bin_a="" peer_idle=0 repeats=5 duration=3 size=64 states="allow,block"
servers="chat-select,chat-poll,chat-epoll,chat-epoll-et,sockperf-select,sockperf-poll,sockperf-epoll"
server_cpu=1 client_cpu=0
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin="$2"; shift 2 ;;
    --bin-a) bin_a="$(cd "$2" && pwd)"; shift 2 ;;
    --peer-idle) peer_idle="$2"; shift 2 ;;
    --repeats) repeats="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --size) size="$2"; shift 2 ;;
    --idle-states) states="$2"; shift 2 ;;
    --servers) servers="$2"; shift 2 ;;
    -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done
if ! command -v sockperf >/dev/null; then
  if [ "$(id -u)" = 0 ]; then apt-get install -y -q sockperf >/dev/null
  else echo "sockperf is missing: sudo apt-get install -y sockperf" >&2; exit 2; fi
fi
[ -x "$bin/loadgen" ] || { echo "no $bin/loadgen: build first (./bench build)" >&2; exit 2; }
work="$(mktemp -d)"
cleanup() { for p in $(jobs -p); do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
ticks_per_s="$(getconf CLK_TCK)"
cpu_us() { awk -v t="$ticks_per_s" '{printf "%d", ($14 + $15) * 1000000 / t}' "/proc/$1/stat"; }
port=$((20000 + RANDOM % 20000))

# run_one SERVER -> "msgs cpu_us"
run_one() {
  local server="$1" spid msgs c0 c1 fd idle_fds=() dir="$bin" args=()
  port=$((port + 1))
  case "$server" in A:*) dir="$bin_a" server="${server#A:}" ;; esac
  case "$server" in
    chat-epoll-et) server=chat-epoll args=(--edge) ;;
    chat-uring) args=(--model poll) ;;
  esac
  case "$server" in
    chat-*)
      taskset -c "$server_cpu" "$dir/$server" --port "$port" --quiet "${args[@]}" \
        >"$work/server.out" 2>&1 &
      spid=$!
      for _ in $(seq 100); do grep -q '^listening' "$work/server.out" && break; sleep 0.02; done
      "$bin/loadgen" --port "$port" --mode pingpong --size "$size" --warmup 0.5 \
        --duration "$duration" --cpu "$client_cpu" --server-pid "$spid" --json \
        2>/dev/null >"$work/row.json"
      kill "$spid"; wait "$spid" || true
      /usr/bin/env python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))
print(r["msgs"], r["server_cpu_us"])' "$work/row.json" ;;
    sockperf-*)
      echo "T:127.0.0.1:$port" >"$work/feed"
      taskset -c "$server_cpu" sockperf sr -f "$work/feed" -F "${server#sockperf-}" \
        --timeout=-1 >"$work/server.out" 2>&1 &
      spid=$!
      sleep 0.3
      # loadgen keeps one idle connection of its own to the chat server (its /stats control
      # connection), which a poll or select server checks on every wake-up; --peer-idle N gives
      # sockperf's server as many, so that both watch the same sockets.
      idle_fds=()
      for _ in $(seq "$peer_idle"); do exec {fd}<>"/dev/tcp/127.0.0.1/$port"; idle_fds+=("$fd"); done
      c0="$(cpu_us "$spid")"
      # sockperf pp's whole run (its 0.4 s warm-up included) against the server's CPU of the
      # same interval: the message count is its [Total Run] line.
      taskset -c "$client_cpu" sockperf pp --tcp -i 127.0.0.1 -p "$port" -m "$size" \
        -t "$duration" >"$work/client.out" 2>&1
      c1="$(cpu_us "$spid")"
      for fd in "${idle_fds[@]}"; do exec {fd}>&-; done
      kill "$spid"; wait "$spid" 2>/dev/null || true
      msgs="$(sed -n 's/.*Total Run.*ReceivedMessages=\([0-9]*\).*/\1/p' "$work/client.out")"
      echo "$msgs $((c1 - c0))" ;;
  esac
}

echo "server,idle_states,repeat,msgs,server_cpu_us,server_cpu_us_per_wakeup" | tee "$work/rows.csv"
IFS=, read -ra server_list <<<"$servers"
if [ -n "$bin_a" ]; then
  for s in "${server_list[@]}"; do
    case "$s" in chat-*) server_list+=("A:$s") ;; esac
  done
fi
IFS=, read -ra state_list <<<"$states"
for state in "${state_list[@]}"; do
  exec 3>&-
  if [ "$state" = block ]; then
    # The PM QoS request holds while the descriptor is open (the kernel drops it on close).
    exec 3>/dev/cpu_dma_latency
    printf '\x00\x00\x00\x00' >&3
  fi
  for r in $(seq "$repeats"); do
    # Rotate the order each repeat, so that drift during the sitting hits every server alike.
    n=${#server_list[@]}
    for i in $(seq 0 $((n - 1))); do
      s="${server_list[$(((i + r) % n))]}"
      read -r msgs cpu <<<"$(run_one "$s")"
      echo "$s,$state,$r,$msgs,$cpu,$(awk -v c="$cpu" -v m="$msgs" 'BEGIN{printf "%.2f", c/m}')" \
        | tee -a "$work/rows.csv"
    done
  done
done
exec 3>&-
# Medians, then each chat server against its sockperf peer as a paired ratio with a 95 %
# interval (harness/peer/wakeup_ratio.py says why a median ratio is not enough here).
PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" /usr/bin/env python3 -m harness.peer.wakeup_ratio \
  "$work/rows.csv"
