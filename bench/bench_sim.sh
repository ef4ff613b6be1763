#!/bin/sh
# bench_sim.sh - wall time and peak memory of `spillway sim` at three scales: the reference
# study (scenarios/paper.yaml: 3 sites, 18 h), 30 sites x 1 month and 100 sites x 1 year
# (scenarios/scale-*.yaml, regions derived from the real 2020 trace). Record the figures in
# RESULTS.md, section "Simulator scale", with the machine and the date this script prints.
#
# Usage (from the repository root, after building the spillway executable):
#   bench/bench_sim.sh [BUILD_DIR] [SCENARIO...]     # BUILD_DIR default: build
# Reports go to a temporary folder, removed at the end. Needs GNU time (/usr/bin/time -v).
# Goals (bench/RESULTS.md): paper well under 1 s; 100 x 1 year under 60 s and 2 GB.
set -eu

build=${1:-build}
[ $# -gt 0 ] && shift
exe="$build/spillway"
if [ ! -x "$exe" ]; then
    echo "bench_sim.sh: $exe not found; build it first (cmake --build $build -j2)" >&2
    exit 2
fi
if [ $# -eq 0 ]; then
    set -- scenarios/paper.yaml scenarios/scale-30x1month.yaml scenarios/scale-100x1year.yaml
fi

out=$(mktemp -d "${TMPDIR:-/tmp}/bench_sim.XXXXXX")
trap 'rm -rf "$out"' EXIT INT TERM

echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), nproc $(nproc)," \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "build: $build ($(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt" 2>/dev/null))"
printf '%-34s %8s %8s %8s %10s %10s\n' scenario wall_s user_s sys_s peak_MiB report_MiB
for sc in "$@"; do
    name=$(basename "$sc" .yaml)
    log="$out/$name.time"
    if ! /usr/bin/time -v -o "$log" "$exe" sim "$sc" -o "$out/$name.h5" >"$out/$name.out" 2>&1; then
        echo "bench_sim.sh: spillway sim $sc failed:" >&2
        cat "$out/$name.out" >&2
        exit 1
    fi
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$log" |
        awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.2f", s }')
    user=$(sed -n 's/.*User time (seconds): //p' "$log")
    sys=$(sed -n 's/.*System time (seconds): //p' "$log")
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$log")
    size=$(stat -c %s "$out/$name.h5")
    printf '%-34s %8s %8s %8s %10.0f %10.1f\n' "$name" "$wall" "$user" "$sys" \
        "$(echo "$rss / 1024" | bc -l)" "$(echo "$size / 1048576" | bc -l)"
    grep '^\[sim\]' "$out/$name.out" | tail -n 1 | sed 's/^/    /'
done
