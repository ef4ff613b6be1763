#!/usr/bin/env python3
"""PyTorch reference for bench/bench_train.c: the same model (tests/kernels/make_fixtures.py
holds the implementation), float32, AdamW, on CPU with 1 thread by default.

    /usr/bin/python3 bench/bench_torch.py --preset gpt2-124m --batch 4 --seq 64 --steps 5

Prints one line: `torch tokens_per_s=X ms_per_step=Y` (median of the timed steps), which
bench_train.c parses.
"""
import argparse
import math
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "kernels"))
import make_fixtures as ref  # noqa: E402  (the model definition)

# kernels/model.c presets: L, C, H, V, context, tied.
PRESETS = {
    "tiny": (2, 32, 4, 256, 32, 0),
    "small": (4, 256, 4, 256, 256, 0),
    "gpt2-124m": (12, 768, 12, 50257, 1024, 1),
    "nanochat-d20": (20, 1280, 10, 65536, 2048, 0),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="gpt2-124m", choices=PRESETS)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    L, C, H, V, _, tie = PRESETS[a.preset]
    ref.L, ref.C, ref.H, ref.HD, ref.V, ref.TIE = L, C, H, C // H, V, tie
    ref.B, ref.T = a.batch, a.seq
    torch.manual_seed(0)
    params = {name: (torch.randn(r, c) / math.sqrt(c)).requires_grad_(True)
              for name, r, c in ref.layout()}
    opt = torch.optim.AdamW(list(params.values()), lr=1e-4, betas=(0.9, 0.95), eps=1e-8,
                            weight_decay=0.0)
    idx = torch.randint(0, V, (a.batch, a.seq))
    tgt = torch.randint(0, V, (a.batch * a.seq,))
    # make_fixtures builds the model in float64; run it in float32 here.
    torch.set_default_dtype(torch.float32)
    times = []
    for step in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        logits = ref.forward_dtype(params, idx, torch.float32)
        loss = torch.nn.functional.cross_entropy(logits, tgt)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(params.values()), 1.0)
        opt.step()
        if step >= a.warmup:
            times.append(time.perf_counter() - t0)
    dt = statistics.median(times)
    print(f"torch tokens_per_s={a.batch * a.seq / dt:.1f} ms_per_step={dt * 1e3:.1f} "
          f"threads={torch.get_num_threads()} version={torch.__version__}")


if __name__ == "__main__":
    main()
