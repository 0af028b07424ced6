#!/usr/bin/env bash
# Interleaved A/B of two builds' servers: the sweep alternates between the A and B server
# binaries (A B, B A, A B, ...: the order flips every round, so drift during the sitting hits both
# alike), one repeat per point per round, always with the same loadgen; then the rounds of each
# side are merged into one results folder and `./bench compare A B` judges them (medians,
# one-sided Mann-Whitney per point, claims whose verdicts differ; exit 1 on a regression).
#
#   harness/peer/ab_builds.sh A_BIN B_BIN [--rounds N] [--out DIR] [--loadgen PATH] [-- SWEEP ARGS]
# e.g. harness/peer/ab_builds.sh /tmp/old/build/bin build/bin --rounds 3 -- --counts 0,1000,10000
# A refactor of a measured path must show this, old build as A, new as B.
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
[ $# -ge 2 ] || { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
a_bin="$(cd "$1" && pwd)" b_bin="$(cd "$2" && pwd)"
shift 2
rounds=3 out="$here/results/ab-$(date -u +%Y%m%dT%H%M%SZ)" loadgen="$b_bin/loadgen"
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --loadgen) loadgen="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "unknown option $1 (sweep arguments go after --)" >&2; exit 2 ;;
  esac
done
mkdir -p "$out/rounds"
for r in $(seq "$rounds"); do
  if [ $((r % 2)) = 1 ]; then order="A B"; else order="B A"; fi
  for side in $order; do
    bin="$a_bin"; [ "$side" = B ] && bin="$b_bin"
    echo "== round $r/$rounds: $side ($bin)" >&2
    "$here/bench" --bin "$bin" --loadgen "$loadgen" --repeats 1 --no-micro --no-plots \
      --out "$out/rounds" --name "$side-$r" "$@" >&2
  done
done
for side in A B; do
  mkdir -p "$out/$side"
  cp "$out/rounds/$side-1/env.json" "$out/$side/"
  first=1
  for r in $(seq "$rounds"); do
    if [ $first = 1 ]; then cat "$out/rounds/$side-$r/runs.csv"; first=0
    else tail -n +2 "$out/rounds/$side-$r/runs.csv"; fi
  done >"$out/$side/runs.csv"
done
echo "A = $a_bin, B = $b_bin, $rounds interleaved rounds; merged in $out/A and $out/B" >&2
exec "$here/bench" compare "$out/A" "$out/B" --out "$out/compare"
