#!/usr/bin/env bash
# bench_tokenizer.sh - encoding speed of `spillway tokenizer encode` against tiktoken with the
# same vocabulary and the same pre-tokenisation pattern, in the same run, single-threaded.
#
#   bench/bench_tokenizer.sh [BUILD_DIR] [REPEATS]     # defaults: build, 5
#
# Needs a built spillway (cmake --build BUILD_DIR --target spillway) and tiktoken from PyPI
# (pip install tiktoken). For each vocabulary (the shipped 2048-token one, and an 8192-token
# one trained here on the same corpus) and each input (tiny Shakespeare repeated to about
# 11 MB; the multilingual fixture text repeated to about 5 MB) it prints MB/s (10^6 bytes of
# input per second of encoding, file reading and vocabulary loading excluded), best of
# REPEATS, and checks that both produce the same ids. Also times `spillway tokenizer train`.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-build}
REPEATS=${2:-5}
SW="$ROOT/$BUILD/spillway"
TMP=$(mktemp -d /tmp/bench_tokenizer.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
cd "$ROOT"

for i in $(seq 10); do cat corpus/tinyshakespeare.txt; done >"$TMP/shakespeare10.txt"
for i in $(seq 3600); do cat tests/kernels/fixtures/bpe/mixed.txt; done >"$TMP/mixed.txt"

cp data/shakespeare-bpe2048/tokenizer.bin "$TMP/v2048.bin"
for v in 8192; do
  start=$(date +%s.%N)
  "$SW" tokenizer train corpus/tinyshakespeare.txt --vocab $v -o "$TMP/v$v.bin" 2>"$TMP/train.log"
  end=$(date +%s.%N)
  echo "train --vocab $v on corpus/tinyshakespeare.txt: $(echo "$end - $start" | bc) s wall ($(cat "$TMP/train.log" | sed 's/.*; //'))"
done
start=$(date +%s.%N)
"$SW" tokenizer train "$TMP/shakespeare10.txt" "$TMP/mixed.txt" --vocab 32768 -o "$TMP/v32768.bin" 2>"$TMP/train.log"
end=$(date +%s.%N)
echo "train --vocab 32768 on 16 MB (both inputs): $(echo "$end - $start" | bc) s wall ($(sed 's/.*; //' "$TMP/train.log"))"

printf '%-8s %-18s %10s %12s %12s %7s\n' vocab input MB tokens spillway tiktoken
for v in 2048 8192 32768; do
  "$SW" tokenizer export "$TMP/v$v.bin" -o "$TMP/v$v.tiktoken"
  for input in shakespeare10.txt mixed.txt; do
    best=0
    for r in $(seq "$REPEATS"); do
      mbs=$("$SW" tokenizer encode --tokenizer "$TMP/v$v.bin" --count "$TMP/$input" | awk '{print $8}')
      best=$(echo "if ($mbs > $best) $mbs else $best" | bc)
    done
    "$SW" tokenizer encode --tokenizer "$TMP/v$v.bin" --u32 "$TMP/$input" -o "$TMP/ours.u32"
    python3 - "$TMP/v$v.tiktoken" "$TMP/$input" "$TMP/ours.u32" "$REPEATS" "$v" "$input" "$best" <<'PY'
import base64, sys, time, array
import tiktoken
vocab, path, ours, repeats, v, name, best_ours = sys.argv[1:]
ranks = {}
for line in open(vocab, "rb"):
    if line.strip():
        t, r = line.split()
        ranks[base64.b64decode(t)] = int(r)
pat = (r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++"""
       r"""[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""")
enc = tiktoken.Encoding(name="bench", pat_str=pat, mergeable_ranks=ranks, special_tokens={})
text = open(path, encoding="utf-8", newline="").read()
nbytes = len(text.encode("utf-8"))
best = 0.0
for _ in range(int(repeats)):
    t0 = time.perf_counter()
    ids = enc.encode_ordinary(text)
    best = max(best, nbytes / (time.perf_counter() - t0) / 1e6)
a = array.array("I")
a.frombytes(open(ours, "rb").read())
same = "same ids" if list(a) == ids else "IDS DIFFER"
print(f"{v:<8} {name:<18} {nbytes / 1e6:10.2f} {len(ids):12d} {float(best_ours):8.2f} MB/s "
      f"{best:8.2f} MB/s  {same}")
PY
  done
done
