#!/usr/bin/env bash
# ab.sh OLD_BIN NEW_BIN ROUNDS OUT: interleaved A/B of uring-completion churn at 0 and 19000 idle
# (old new, new old, ...: the order flips each round), one sweep per side per round. Run it under
# flock -x /tmp/muxbench.lock.
set -euo pipefail
old=$1 new=$2 rounds=$3 out=$4
cd "$(dirname "$0")/../../.."  # the repository root: python3 -m harness.sweep
for r in $(seq "$rounds"); do
  if [ $((r % 2)) = 1 ]; then order="old new"; else order="new old"; fi
  for side in $order; do
    bin=$old; [ $side = new ] && bin=$new
    echo "== round $r: $side" >&2
    PYTHONPATH=. /usr/bin/python3 -m harness.sweep --bin "$bin" --loadgen "$new/loadgen" \
      --mechanisms uring-completion --modes churn --counts 0,19000 --repeats 1 \
      --no-micro --no-plots --out "$out" --name "$side-$r" 2>&1 | grep -E "done in|not ok" >&2
  done
done
