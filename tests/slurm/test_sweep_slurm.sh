#!/usr/bin/env bash
# test_sweep_slurm.sh - the example sweep (scenarios/sweeps/paper-threshold.yaml: threshold x
# hysteresis x site count, 36 points) run on two local workers and as a job array on a real
# single-node Slurm that this test starts and stops itself (scripts/slurm_cluster.sh), must give
# the same table. Also: a second --slurm submits nothing once every point has its report, and
# --collect rebuilds the same table.
#
# Usage: test_sweep_slurm.sh SPILLWAY   (run from the source tree; CTest does both)
# Exit: 0 pass, 1 fail, 77 skipped (no Slurm/munge binaries, or not root). Under CI=true a
# skip is a failure: the bootstrap (scripts/bootstrap.sh) installs slurm-wlm and munge.
set -uo pipefail

spillway=${1:?usage: $0 SPILLWAY}
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
sweep=$src/scenarios/sweeps/paper-threshold.yaml

skip() {
  if [ "${CI:-}" = "true" ]; then
    echo "FAIL: $1 (CI=true: Slurm must be installed and usable)" >&2
    exit 1
  fi
  echo "SKIP: $1" >&2
  exit 77
}
fail() {
  echo "FAIL: $1" >&2
  exit 1
}

export PATH="$PATH:/usr/sbin"
for b in munged slurmctld slurmd sbatch squeue sinfo; do
  command -v "$b" >/dev/null 2>&1 || skip "no $b (apt-get install slurm-wlm munge)"
done
[ "$(id -u)" -eq 0 ] || skip "not root (the test cluster runs with SlurmUser=root)"

tmp=$(mktemp -d /tmp/sw-test-slurm-XXXXXX)
cleanup() {
  "$src/scripts/slurm_cluster.sh" stop "$tmp/cluster" || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

"$src/scripts/slurm_cluster.sh" start "$tmp/cluster"
rc=$?
[ $rc -eq 3 ] && skip "no Slurm binaries"
[ $rc -eq 0 ] || fail "the test cluster did not start"
export SLURM_CONF=$tmp/cluster/slurm.conf

t0=$(date +%s.%N)
"$spillway" sweep "$sweep" -j 2 -o "$tmp/local" --quiet || fail "local sweep failed"
t1=$(date +%s.%N)
"$spillway" sweep "$sweep" --slurm --chunk 6 --wait -o "$tmp/slurm" ||
  { cat "$tmp"/slurm/slurm/chunk-*.log >&2 2>/dev/null; fail "slurm sweep failed"; }
t2=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" -v c="$t2" \
  'BEGIN { printf "local -j 2: %.1f s; slurm (6 tasks of 6 points, --wait): %.1f s\n", b - a, c - b }' >&2

n=$(($(wc -l <"$tmp/local/sweep.csv") - 1))
[ "$n" -ge 24 ] || fail "only $n points"
[ "$(ls "$tmp"/slurm/points/*.h5 | wc -l)" -eq "$n" ] || fail "slurm: not one report per point"
[ -x "$tmp/slurm/slurm/sweep.sbatch" ] || fail "no sbatch script"
grep -q -- '--array=0-5' "$tmp/slurm/slurm/sweep.sbatch" || fail "array is not 0-5"
[ "$(ls "$tmp"/slurm/slurm/chunk-*.log | wc -l)" -eq 6 ] || fail "not 6 array task logs"
# The same parameters give identical figures and the same report names.
cmp "$tmp/local/sweep.csv" "$tmp/slurm/sweep.csv" || {
  diff "$tmp/local/sweep.csv" "$tmp/slurm/sweep.csv" | head >&2
  fail "local and slurm tables differ"
}
a=$("$spillway" summary "$tmp/local/sweep.h5" --csv) || fail "summary of the local table"
b=$("$spillway" summary "$tmp/slurm/sweep.h5" --csv) || fail "summary of the slurm table"
[ "$a" = "$b" ] || fail "the HDF5 tables differ"
# Figures are there (not empty) for every point.
awk -F, 'NR > 1 && ($5 == "" || $9 == "") { bad = 1 } END { exit bad }' "$tmp/slurm/sweep.csv" ||
  fail "a point without figures"

# Resume: nothing left to submit; --collect rebuilds the same table.
out=$("$spillway" sweep "$sweep" --slurm --wait -o "$tmp/slurm" 2>&1) || fail "second --slurm: $out"
echo "$out" | grep -q "nothing to submit" || fail "second --slurm submitted again: $out"
rm "$tmp/slurm/sweep.csv"
"$spillway" sweep "$sweep" --collect -o "$tmp/slurm" --quiet || fail "--collect"
cmp "$tmp/local/sweep.csv" "$tmp/slurm/sweep.csv" || fail "--collect table differs"

# Nothing of the cluster stays behind.
"$src/scripts/slurm_cluster.sh" stop "$tmp/cluster"
for f in munged slurmctld slurmd; do
  [ ! -f "$tmp/cluster/$f.pid" ] || fail "$f pid file left"
done
echo "PASS: $n points, local and Slurm tables identical" >&2
exit 0
