#!/bin/sh
# run.sh FUZZER CORPUS WORKDIR SECONDS - one fuzz test of CTest (tests/CMakeLists.txt): replays
# every input of the committed corpus (a crash there is a regression), then fuzzes for SECONDS
# more. New inputs go to WORKDIR, never into the committed corpus; a crashing input is saved
# as WORKDIR/crash-* and fails the test.
set -eu
fuzzer=$1 corpus=$2 work=$3 seconds=$4
[ -x "$fuzzer" ] || { echo "run.sh: $fuzzer: not built" >&2; exit 1; }
[ -d "$corpus" ] || { echo "run.sh: $corpus: no seed corpus" >&2; exit 1; }
rm -rf "$work"
mkdir -p "$work/new"
# -error_exitcode=1: libFuzzer's default (77) would read as CTest's skip code
"$fuzzer" -runs=0 -error_exitcode=1 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$work/" "$corpus"
"$fuzzer" -max_total_time="$seconds" -error_exitcode=1 -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$work/" "$work/new" "$corpus"
