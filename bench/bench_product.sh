#!/bin/sh
# bench_product.sh - tokens/s of the shipped `spillway train` executable, side by side with
# bench_train (the kernels library alone) and PyTorch (bench/bench_torch.py), on the same
# preset, batch, sequence length and thread count, one right after the other.
#
#   bench/bench_product.sh [BUILD_DIR] [STEPS] [REPEATS]   # defaults: build 6 1
#
# Configurations: gpt2-124m B=4 T=64 and small B=16 T=128, each at 1 and 2 threads.
# Each configuration runs the three programs one after the other REPEATS times (so each
# ratio compares runs seconds apart), then prints the medians of the repeats. Each figure is
# the median over STEPS timed steps after 2 warm-up steps, for all three:
#   spillway train: the tokens_per_s column of its --log CSV (forward, backward, clip, AdamW;
#                   evaluation excluded), on corpus/tinyshakespeare.txt;
#   bench_train:    the same step on random tokens;
#   PyTorch:        bench/bench_torch.py, float32, torch.optim.AdamW.
# OMP_WAIT_POLICY is passive for all of them unless set (bench_train forces it when unset):
# spinning OpenMP workers on a machine shared with other work cost several-fold at 2 threads.
# Prints a header describing the machine (CPU model, family/model, vector flags,
# OPENBLAS_CORETYPE, the BLAS `spillway train --info` reports), then one table row per run.
set -eu
build=${1:-build}
steps=${2:-6}
repeats=${3:-1}
src=$(cd "$(dirname "$0")/.." && pwd)
cd "$src"
[ -x "$build/spillway" ] || { echo "bench_product: $build/spillway not built" >&2; exit 2; }
if [ ! -x "$build/bench_train" ] || [ "$build/bench_train" -ot bench/bench_train.c ] ||
   [ "$build/bench_train" -ot "$build/kernels/libsw_kernels.a" ]; then
    cc -O2 -fopenmp -I. bench/bench_train.c "$build/kernels/libsw_kernels.a" -lopenblas -lm \
       -o "$build/bench_train"
fi
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "# date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "# cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')," \
     "family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | tr -d ' ')" \
     "model $(grep -m1 '^model\s*:' /proc/cpuinfo | cut -d: -f2 | tr -d ' ')," \
     "$(nproc) cpus, flags:$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' |
        grep -E '^(avx2|fma|avx512f|avx512_bf16|avx512_vnni)$' | tr '\n' ' ')"
echo "# load average: $(cut -d' ' -f1-3 /proc/loadavg); OMP_WAIT_POLICY=$OMP_WAIT_POLICY;" \
     "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)}"
echo "# $("$build/spillway" train --info)"
echo "# torch: $(/usr/bin/python3 -c 'import torch; print(torch.__version__, "oneDNN" if torch.backends.mkldnn.is_available() else "")' 2>&1 | tail -1)"
printf '%-10s %3s %4s %3s %12s %12s %12s %9s %9s\n' preset B T thr spillway bench_train \
       torch "sw/bench" "sw/torch"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { print (b > 0 ? a / b : 0) }'; }
median() { sort -g | awk '{a[NR]=$1} END {print NR ? (a[int((NR+1)/2)] + a[int(NR/2)+1]) / 2 : 0}'; }

for cfg in "gpt2-124m 4 64" "small 16 128"; do
    set -- $cfg
    preset=$1 B=$2 T=$3
    for k in 1 2; do
      : > "$tmp/rows"
      for rep in $(seq "$repeats"); do
        "$build/spillway" train --preset "$preset" --batch "$B" --seq "$T" --threads "$k" \
            --steps $((steps + 2)) --data corpus/tinyshakespeare.txt --eval-every 0 \
            --eval-batches 1 --print-every 1000 --log "$tmp/log.csv" > "$tmp/train.out"
        sw=$(awk -F, 'NR > 3 {print $10}' "$tmp/log.csv" | median)
        bt=$("$build/bench_train" --preset "$preset" --batch "$B" --seq "$T" --threads "$k" \
                 --steps "$steps" | awk -v k="$k" '$1 !~ /^#/ && $4 == k {print $5}')
        th=$(/usr/bin/python3 bench/bench_torch.py --preset "$preset" --batch "$B" --seq "$T" \
                 --threads "$k" --steps "$steps" | sed -n 's/.*tokens_per_s=\([0-9.]*\).*/\1/p')
        printf '%-10s %3d %4d %3d %12.1f %12.1f %12.1f %9.2f %9.2f\n' "$preset" "$B" "$T" "$k" \
            "$sw" "$bt" "${th:-0}" "$(ratio "$sw" "$bt")" "$(ratio "$sw" "${th:-0}")"
        echo "$sw $bt ${th:-0}" >> "$tmp/rows"
      done
      if [ "$repeats" -gt 1 ]; then
        msw=$(cut -d' ' -f1 "$tmp/rows" | median)
        mbt=$(cut -d' ' -f2 "$tmp/rows" | median)
        mth=$(cut -d' ' -f3 "$tmp/rows" | median)
        printf '%-10s %3d %4d %3d %12.1f %12.1f %12.1f %9.2f %9.2f  (median of %d)\n' \
            "$preset" "$B" "$T" "$k" "$msw" "$mbt" "$mth" "$(ratio "$msw" "$mbt")" \
            "$(ratio "$msw" "$mth")" "$repeats"
      fi
    done
done
