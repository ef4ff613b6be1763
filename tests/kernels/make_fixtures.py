#!/usr/bin/env python3
"""Generate the PyTorch reference fixture for tests/kernels/test_torch_fixture.c.

An independent implementation of the kernels/ model (docs/kernels.md) in PyTorch, run in
float64 on the `tiny` preset: initial parameters, one batch, the logits, the loss, the
gradients, and the parameters after one gradient-clipped AdamW step. The C test reads the
binary file and must reproduce every number within the tolerances stated there.

Run with the Debian interpreter (the pyenv python3 has no torch):
    apt-get install -y python3-torch
    /usr/bin/python3 tests/kernels/make_fixtures.py tests/kernels/fixtures/tiny_torch.bin

File layout (little-endian; see read_fixture in test_torch_fixture.c):
    char[8]  magic "SWFIX01\\n"
    i32      B, T, L, C, H, V, tie_embeddings, n_params
    f32      softcap, rope_base, lr, beta1, beta2, eps, weight_decay, grad_clip
    i32[B*T] inputs, then targets
    f32[n]   initial parameters (kernels/model.h layout)
    f32[B*T*V] soft-capped logits
    f64      loss (mean cross-entropy, nats)
    f32[n]   gradients (before clipping)
    f64      global gradient norm (before clipping)
    f32[n]   parameters after one AdamW step on the clipped gradients
"""
import math
import struct
import sys

import torch

# The `tiny` preset (kernels/model.c).
L, C, H, V, TMAX, TIE, SOFTCAP, ROPE = 2, 32, 4, 256, 32, 0, 15.0, 10000.0
B, T = 2, 16
LR, BETA1, BETA2, EPS, WD, CLIP = 1e-2, 0.9, 0.95, 1e-8, 0.1, 0.5
RMS_EPS = 1e-6
HD = C // H


def layout():
    """(name, rows, cols) in the order of the single parameter buffer."""
    t = [("wte", V, C)]
    for l in range(L):
        t += [(f"h.{l}.attn.wqkv", 3 * C, C), (f"h.{l}.attn.wo", C, C),
              (f"h.{l}.mlp.wfc", 4 * C, C), (f"h.{l}.mlp.wproj", C, 4 * C)]
    if not TIE:
        t.append(("lm_head", V, C))
    return t


def rmsnorm(x):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + RMS_EPS)


def rope(x, cos, sin):
    # x: [B, T, H, hd]; rotate the pairs (i, i + hd/2) by the position's angle.
    d = x.shape[-1] // 2
    x1, x2 = x[..., :d], x[..., d:]
    return torch.cat([x1 * cos + x2 * sin, -x1 * sin + x2 * cos], dim=-1)


def forward(p, idx):
    """Soft-capped logits [B*T, V] of the model with parameter dict p on tokens idx [B, T]."""
    return forward_dtype(p, idx, torch.float64)


def forward_dtype(p, idx, dtype):
    """forward() with the rotary tables in dtype (bench/bench_torch.py runs float32)."""
    pos = torch.arange(T, dtype=torch.float64)
    inv = ROPE ** (-torch.arange(0, HD, 2, dtype=torch.float64) / HD)
    ang = (pos[:, None] * inv[None, :]).to(dtype)
    cos, sin = ang.cos()[None, :, None, :], ang.sin()[None, :, None, :]
    x = rmsnorm(p["wte"][idx])
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    for l in range(L):
        n = rmsnorm(x)
        qkv = n @ p[f"h.{l}.attn.wqkv"].t()
        q, k, v = qkv.split(C, dim=-1)
        q = rmsnorm(rope(q.view(B, T, H, HD), cos, sin)).transpose(1, 2)
        k = rmsnorm(rope(k.view(B, T, H, HD), cos, sin)).transpose(1, 2)
        v = v.view(B, T, H, HD).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(HD)
        att = att.masked_fill(~mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + y @ p[f"h.{l}.attn.wo"].t()
        h = rmsnorm(x) @ p[f"h.{l}.mlp.wfc"].t()
        x = x + torch.relu(h).square() @ p[f"h.{l}.mlp.wproj"].t()
    head = p["wte"] if TIE else p["lm_head"]
    logits = rmsnorm(x) @ head.t()
    logits = SOFTCAP * torch.tanh(logits / SOFTCAP)
    return logits.reshape(B * T, V)


def main(out_path):
    g = torch.Generator().manual_seed(20260111)
    params = {}
    for name, rows, cols in layout():
        # Random everywhere (so every gradient is informative), rounded to float32 so the C
        # side starts from exactly the same numbers.
        sd = 1.0 if name == "wte" else (3.0 if name == "lm_head" else 1.0) / math.sqrt(cols)
        w = (torch.randn(rows, cols, generator=g, dtype=torch.float64) * sd).float().double()
        params[name] = w.requires_grad_(True)
    data = torch.randint(0, V, (B, T + 1), generator=g)
    idx, tgt = data[:, :T].contiguous(), data[:, 1:].contiguous()

    logits = forward(params, idx)
    loss = torch.nn.functional.cross_entropy(logits, tgt.reshape(-1))
    loss.backward()
    order = [name for name, _, _ in layout()]
    p0 = torch.cat([params[k].detach().reshape(-1) for k in order])
    grads = torch.cat([params[k].grad.reshape(-1) for k in order])
    gnorm = torch.nn.utils.clip_grad_norm_([params[k] for k in order], CLIP)
    assert gnorm > CLIP, "the fixture should exercise clipping"
    opt = torch.optim.AdamW([params[k] for k in order], lr=LR, betas=(BETA1, BETA2), eps=EPS,
                            weight_decay=WD)
    opt.step()
    p1 = torch.cat([params[k].detach().reshape(-1) for k in order])

    n = p0.numel()
    with open(out_path, "wb") as f:
        f.write(b"SWFIX01\n")
        f.write(struct.pack("<8i", B, T, L, C, H, V, TIE, n))
        f.write(struct.pack("<8f", SOFTCAP, ROPE, LR, BETA1, BETA2, EPS, WD, CLIP))
        f.write(idx.reshape(-1).to(torch.int32).numpy().astype("<i4").tobytes())
        f.write(tgt.reshape(-1).to(torch.int32).numpy().astype("<i4").tobytes())
        f.write(p0.float().numpy().astype("<f4").tobytes())
        f.write(logits.detach().float().numpy().astype("<f4").tobytes())
        f.write(struct.pack("<d", loss.item()))
        f.write(grads.float().numpy().astype("<f4").tobytes())
        f.write(struct.pack("<d", float(gnorm)))
        f.write(p1.float().numpy().astype("<f4").tobytes())
    print(f"{out_path}: {n} parameters, loss {loss.item():.6f}, grad norm {float(gnorm):.6f}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/kernels/fixtures/tiny_torch.bin")
