#!/usr/bin/env bash
# Runs every libFuzzer target of a fuzz build, one at a time, and prints one line per target.
#   tests/fuzz/run_fuzzers.sh BUILD_DIR [--minutes N | --seconds N] [--runs N] [--target NAME]
# ./bench fuzz builds BUILD_DIR (clang, -DMUXBENCH_FUZZ=ON) and calls this; .ci/run uses a short
# bounded run. Each target reads its committed corpus (tests/fuzz-corpus/NAME) and a working
# corpus it grows (BUILD_DIR/fuzz-work/NAME); crashes, leaks and timeouts go to
# BUILD_DIR/fuzz-findings/<UTC time>/NAME/, named in the output with the failing check. Exit
# status 1 if anything was found.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${1:?usage: run_fuzzers.sh BUILD_DIR [--minutes N | --seconds N] [--runs N] [--target NAME]}"
shift
seconds=60 runs="" only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) seconds=$(($2 * 60)); shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --target) only="$2"; shift 2 ;;
    *) echo "run_fuzzers: unknown option $1" >&2; exit 2 ;;
  esac
done

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
findings_root="$build/fuzz-findings/$stamp"
found=0 ran=0
for bin in "$build"/fuzz/*-fuzzer; do
  [ -x "$bin" ] || continue
  name="$(basename "$bin" -fuzzer)"
  [ -z "$only" ] || [ "$only" = "$name" ] || continue
  ran=$((ran + 1))
  work="$build/fuzz-work/$name" findings="$findings_root/$name"
  mkdir -p "$work" "$findings"
  dict="$here/tests/fuzz/dicts/$name.dict"
  args=(-max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$findings/")
  [ -n "$runs" ] && args+=(-runs="$runs")
  [ -f "$dict" ] && args+=(-dict="$dict")
  log="$findings/fuzz.log"
  echo "fuzz $name: up to ${seconds} s${runs:+ or $runs runs} ..."
  rc=0
  "$bin" "${args[@]}" "$work" "$here/tests/fuzz-corpus/$name" >"$log" 2>&1 || rc=$?
  final_stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
  last="$(grep -E '^#[0-9]+' "$log" | tail -1 || true)"
  cov="$(sed -n 's/.* cov: \([0-9]*\) ft: \([0-9]*\) corp: \([0-9]*\).*/cov \1, features \2, corpus \3/p' <<<"$last")"
  crashes=("$findings"/crash-* "$findings"/leak-* "$findings"/timeout-* "$findings"/oom-*)
  n=0
  for f in "${crashes[@]}"; do [ -e "$f" ] && n=$((n + 1)); done
  echo "fuzz $name: $(final_stat number_of_executed_units) runs, $(final_stat average_exec_per_sec) exec/s," \
       "${cov:-no coverage line}; findings: $n (exit $rc)"
  if [ "$n" -gt 0 ] || [ "$rc" -ne 0 ]; then
    found=1
    grep -m1 -E 'INVARIANT VIOLATED|ERROR: AddressSanitizer|runtime error|ERROR: libFuzzer|ERROR: LeakSanitizer' "$log" | sed 's/^/  /' || true
    for f in "${crashes[@]}"; do [ -e "$f" ] && echo "  input: $f"; done
    echo "  log: $log (replay one input: $bin INPUT; add it to tests/fuzz-corpus/$name once fixed)"
  else
    rm -f "$log"
  fi
done
[ "$ran" -gt 0 ] || { echo "run_fuzzers: no fuzz target${only:+ named $only} in $build/fuzz" >&2; exit 2; }
if [ "$found" -ne 0 ]; then
  echo "fuzz: FINDINGS in $findings_root"
  exit 1
fi
rmdir "$findings_root"/* "$findings_root" 2>/dev/null || true
echo "fuzz: no findings ($ran targets)"
