#!/usr/bin/env python3
"""PyTorch reference for bench/bench_gpu.c on a GPU: the same model as kernels/model.c
(nanochat's GPT: rotary on the pairs (i, i + hd/2), QK RMSNorm, relu^2 MLP, logit soft cap 15,
untied lm_head, RMSNorm without gain, eps 1e-6), trained with fp32 master weights under bf16
autocast, flash attention through scaled_dot_product_attention, fused AdamW, torch.compile.

    python3 bench/bench_torch_gpu.py --preset nanochat-d20 --batch 8 --seq 2048 --steps 6

Prints `torch_gpu tokens_per_s=X ms_per_step=Y tflops=Z ...` (median of the timed steps).
--device cpu --no-compile --preset tiny is the dry run for a machine without a GPU (it
checks the script and the model, not the speed; torch 1.13 has no torch.compile).
"""
import argparse
import math
import statistics
import time

import torch
import torch.nn.functional as F

# kernels/model.c presets: L, C, H, V, context, tied.
PRESETS = {
    "tiny": (2, 32, 4, 256, 32, 0),
    "small": (4, 256, 4, 256, 256, 0),
    "gpt2-124m": (12, 768, 12, 50257, 1024, 1),
    "nanochat-d20": (20, 1280, 10, 65536, 2048, 0),
}
RMS_EPS, SOFTCAP, ROPE = 1e-6, 15.0, 10000.0


def causal_attention(q, k, v):
    """Flash attention where torch has it (2.0+); the explicit masked softmax otherwise (the
    CPU dry run under Debian's torch 1.13)."""
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    T = q.shape[-2]
    att = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
    mask = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()
    return att.masked_fill(~mask, float("-inf")).softmax(-1) @ v


def rmsnorm(x):
    return x * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + RMS_EPS).to(x.dtype)


class GPT(torch.nn.Module):
    def __init__(self, L, C, H, V, T, tied):
        super().__init__()
        self.L, self.C, self.H, self.hd, self.tied = L, C, H, C // H, tied
        self.wte = torch.nn.Parameter(torch.randn(V, C) * (C ** -0.5 if tied else 1.0))
        a = math.sqrt(3.0 / C)
        self.wqkv = torch.nn.ParameterList(
            [torch.nn.Parameter(torch.empty(3 * C, C).uniform_(-a, a)) for _ in range(L)])
        self.wo = torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(C, C)) for _ in range(L)])
        self.wfc = torch.nn.ParameterList(
            [torch.nn.Parameter(torch.empty(4 * C, C).uniform_(-a, a)) for _ in range(L)])
        self.wproj = torch.nn.ParameterList(
            [torch.nn.Parameter(torch.zeros(C, 4 * C)) for _ in range(L)])
        self.lm_head = None if tied else torch.nn.Parameter(torch.zeros(V, C))
        pos = torch.arange(T, dtype=torch.float64)
        inv = ROPE ** (-torch.arange(0, self.hd, 2, dtype=torch.float64) / self.hd)
        ang = pos[:, None] * inv[None, :]
        self.register_buffer("cos", ang.cos().float()[None, :, None, :], persistent=False)
        self.register_buffer("sin", ang.sin().float()[None, :, None, :], persistent=False)

    def rope(self, x, T):
        d = x.shape[-1] // 2
        cos, sin = self.cos[:, :T].to(x.dtype), self.sin[:, :T].to(x.dtype)
        x1, x2 = x[..., :d], x[..., d:]
        return torch.cat([x1 * cos + x2 * sin, -x1 * sin + x2 * cos], dim=-1)

    def forward(self, idx, targets):
        B, T = idx.shape
        C, H, hd = self.C, self.H, self.hd
        x = rmsnorm(F.embedding(idx, self.wte))
        for l in range(self.L):
            qkv = F.linear(rmsnorm(x), self.wqkv[l])
            q, k, v = qkv.split(C, dim=-1)
            q = rmsnorm(self.rope(q.view(B, T, H, hd), T)).transpose(1, 2)
            k = rmsnorm(self.rope(k.view(B, T, H, hd), T)).transpose(1, 2)
            v = v.view(B, T, H, hd).transpose(1, 2)
            y = causal_attention(q, k, v)
            x = x + F.linear(y.transpose(1, 2).reshape(B, T, C), self.wo[l])
            x = x + F.linear(torch.relu(F.linear(rmsnorm(x), self.wfc[l])).square(), self.wproj[l])
        logits = F.linear(rmsnorm(x), self.wte if self.tied else self.lm_head).float()
        logits = SOFTCAP * torch.tanh(logits / SOFTCAP)
        return F.cross_entropy(logits.view(B * T, -1), targets.view(B * T))


def flops_per_token(L, C, V, T, tied):
    """kernels/model.c's sw_model_flops_per_token_at: 6 N_matmul + 12 L C T."""
    n = V * C + L * 12 * C * C + (0 if tied else V * C)
    if not tied:
        n -= V * C
    return 6.0 * n + 12.0 * L * C * T


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="nanochat-d20", choices=PRESETS)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=2048)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--gemm-check", action="store_true",
                    help="also time an 8192^3 bf16 matmul (the MFU ceiling)")
    a = ap.parse_args()
    L, C, H, V, T_max, tied = PRESETS[a.preset]
    T = min(a.seq, T_max)
    dev = torch.device(a.device)
    torch.manual_seed(1)
    model = GPT(L, C, H, V, T_max, tied).to(dev)
    cuda = dev.type == "cuda"
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, betas=(0.9, 0.95), eps=1e-8,
                            weight_decay=0.0, **({"fused": True} if cuda else {}))
    step_fn = model if a.no_compile or not hasattr(torch, "compile") else torch.compile(model)
    idx = torch.randint(0, V, (a.batch, T), device=dev)
    tgt = torch.randint(0, V, (a.batch, T), device=dev)
    amp = torch.autocast(device_type=dev.type, dtype=torch.bfloat16)
    times = []
    for s in range(a.warmup + a.steps):
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        with amp:
            loss = step_fn(idx, tgt)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if cuda:
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        print(f"step {s}: {dt * 1e3:.1f} ms, loss {loss.item():.4f}"
              f"{' (warm-up)' if s < a.warmup else ''}", flush=True)
        if s >= a.warmup:
            times.append(dt)
    med = statistics.median(times)
    tps = a.batch * T / med
    fpt = flops_per_token(L, C, V, T, tied)
    extra = ""
    if a.gemm_check and cuda:
        x = torch.randn(8192, 8192, device=dev, dtype=torch.bfloat16)
        y = torch.randn(8192, 8192, device=dev, dtype=torch.bfloat16)
        for _ in range(3):
            x @ y
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(10):
            x @ y
        torch.cuda.synchronize()
        extra = f" torch_gemm_tflops={2 * 8192 ** 3 * 10 / (time.perf_counter() - t0) / 1e12:.1f}"
    mem = f" mem_gb={torch.cuda.max_memory_allocated() / 1e9:.1f}" if cuda else ""
    print(f"torch_gpu preset={a.preset} device={dev.type} B={a.batch} T={T} "
          f"compiled={int(step_fn is not model)} tokens_per_s={tps:.0f} ms_per_step={med * 1e3:.1f} "
          f"tflops={tps * fpt / 1e12:.2f}{mem}{extra} torch={torch.__version__}")


if __name__ == "__main__":
    main()
