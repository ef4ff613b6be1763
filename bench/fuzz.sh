#!/usr/bin/env bash
# fuzz.sh SECONDS [HARNESS...] - runs each libFuzzer harness of tests/fuzz (default: all) for
# SECONDS on one core, starting from its committed seed corpus, and prints a Markdown table
# of executions, executions per second, corpus size and crashes (the table of bench/RESULTS.md).
# Built with clang in build-fuzz/ (ASan + UBSan + libFuzzer); new inputs go to
# build-fuzz/work-HARNESS/, crashing inputs to build-fuzz/work-HARNESS/crash-*: add each as a
# regression input to tests/fuzz/corpus/HARNESS/ once fixed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:?usage: bench/fuzz.sh SECONDS [HARNESS...]}
shift
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(trace scenario losslog checkpoint proto keys allow)
out=$root/build-fuzz
clang=$(command -v clang || command -v clang-14 || true)
[ -n "$clang" ] || { echo "fuzz.sh: clang is missing (Debian: clang libclang-rt-14-dev)" >&2; exit 2; }
cmake -S "$root/tests/fuzz" -B "$out" -DCMAKE_C_COMPILER="$clang" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$out" -j2 >/dev/null
echo "| harness | seconds | executions | exec/s | corpus | crashes |"
echo "|---|---:|---:|---:|---:|---:|"
status=0
for h in "${harnesses[@]}"; do
  work=$out/work-$h
  rm -rf "$work"
  mkdir -p "$work/new"
  set +e
  "$out/fuzz_$h" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -error_exitcode=1 \
    -print_final_stats=1 -artifact_prefix="$work/" "$work/new" "$root/tests/fuzz/corpus/$h" \
    >"$work/log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
  crashes=$(find "$work" -maxdepth 1 -name 'crash-*' -o -maxdepth 1 -name 'leak-*' -o \
    -maxdepth 1 -name 'timeout-*' -o -maxdepth 1 -name 'oom-*' | wc -l)
  corpus=$(find "$work/new" "$root/tests/fuzz/corpus/$h" -type f | wc -l)
  [ "$rc" -eq 0 ] || status=1
  rate=$(( ${execs:-0} / seconds ))
  echo "| $h | $seconds | ${execs:-?} | $rate | $corpus | $crashes |"
done
exit $status
