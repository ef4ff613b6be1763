#!/usr/bin/env python3
"""Generate the PyTorch reference fixture for tests/kernels/test_muon.c.

An independent float64 implementation of the optimizer of kernels/muon.h (nanochat's Muon +
AdamW, January 2026: Nesterov momentum, Polar Express orthogonalisation, factored variance
normalisation, cautious weight decay; AdamW from torch.optim for wte and lm_head), run for
three steps on the `tiny` preset's parameter layout with given random gradients. The C test
reads the binary file and must reproduce the parameters after every step.

Run with the Debian interpreter (the pyenv python3 has no torch):
    apt-get install -y python3-torch
    /usr/bin/python3 tests/kernels/make_muon_fixture.py tests/kernels/fixtures/tiny_muon.bin

File layout (little-endian; see load_fixture in test_muon.c):
    char[8]  magic "SWMUON1\\n"
    i32      L, C, V, tie_embeddings, n_params, n_steps, total_steps, momentum_ramp_steps,
             ns_steps
    f32      matrix_lr, embedding_lr, unembedding_lr, adam_beta1, adam_beta2, adam_eps,
             weight_decay, momentum_start, momentum_end, beta2
    f32[n]   initial parameters (kernels/model.h layout)
    per step s = 0 .. n_steps-1:
        f32      lr multiplier of the schedule at step s
        f32[n]   gradients given to the step
        f32[n]   parameters after the step
"""
import math
import struct
import sys

import torch

L, C, V, TIE = 2, 32, 256, 0
N_STEPS, TOTAL_STEPS = 3, 10
LR_MULT = [1.0, 1.0, 0.5]
# nanochat's values (kernels/muon.c sw_muon_config_default), except a 2-step momentum ramp so
# that three steps see three different momenta (0.85, 0.90, 0.95).
MATRIX_LR, EMBEDDING_LR, UNEMBEDDING_LR = 0.02, 0.3, 0.004
ADAM_BETAS, ADAM_EPS = (0.8, 0.95), 1e-10
WEIGHT_DECAY = 0.2 * (12 / L) ** 2
MOMENTUM_START, MOMENTUM_END, RAMP = 0.85, 0.95, 2
BETA2, NS_STEPS = 0.95, 5

# Polar Express coefficients for 5 iterations (arXiv 2505.16932, safety 2e-2, cushion 2).
POLAR = [
    (8.156554524902461, -22.48329292557795, 15.878769915207462),
    (4.042929935166739, -2.808917465908714, 0.5000178451051316),
    (3.8916678022926607, -2.772484153217685, 0.5060648178503393),
    (3.285753657755655, -2.3681294933425376, 0.46449024233003106),
    (2.3465413258596377, -1.7097828382687081, 0.42323551169305323),
]


def layout():
    """(name, rows, cols) in the parameter buffer's order (docs/kernels.md)."""
    t = [("wte", V, C)]
    for l in range(L):
        t += [(f"h.{l}.attn.wqkv", 3 * C, C), (f"h.{l}.attn.wo", C, C),
              (f"h.{l}.mlp.wfc", 4 * C, C), (f"h.{l}.mlp.wproj", C, 4 * C)]
    if not TIE:
        t.append(("lm_head", V, C))
    return t


def orthogonalise(u):
    """Polar Express on u (rows x cols), iterating on the wide orientation."""
    x = u.t() if u.shape[0] > u.shape[1] else u
    x = x / (torch.linalg.matrix_norm(x) * 1.02 + 1e-6)
    for a, b, c in POLAR[:NS_STEPS]:
        gram = x @ x.t()
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.t() if u.shape[0] > u.shape[1] else x


class MuonMatrix:
    """State and update of one Muon-optimised matrix."""

    def __init__(self, rows, cols):
        self.mom = torch.zeros(rows, cols, dtype=torch.float64)
        self.per_row = rows >= cols
        self.var = torch.zeros(rows if self.per_row else cols, dtype=torch.float64)

    def step(self, p, g, momentum, lr, wd):
        self.mom = momentum * self.mom + (1 - momentum) * g
        o = orthogonalise((1 - momentum) * g + momentum * self.mom)
        dim, red = (1, o.shape[1]) if self.per_row else (0, o.shape[0])
        r = o.square().mean(dim=dim)
        self.var = self.var + (1 - BETA2) * (r - self.var)
        s = self.var.clamp_min(1e-10).rsqrt()
        before = math.sqrt(float(r.sum()) * red)
        after = math.sqrt(float((r * red * s * s).sum()))
        scale = s * before / max(after, 1e-10)
        o = o * (scale[:, None] if self.per_row else scale[None, :])
        agree = (o * p >= 0).to(p.dtype)
        return p - lr * o - lr * wd * p * agree


def main(out_path):
    gen = torch.Generator().manual_seed(20260115)
    names = layout()
    params = {}
    for name, rows, cols in names:
        w = torch.randn(rows, cols, generator=gen, dtype=torch.float64) / math.sqrt(cols)
        params[name] = w.float().double()
    width = (C / 768) ** -0.5
    adam_tensors = {"wte": EMBEDDING_LR * width}
    if not TIE:
        adam_tensors["lm_head"] = UNEMBEDDING_LR * width
    else:
        adam_tensors["wte"] = UNEMBEDDING_LR * width
    adam_params = {k: params[k].clone().requires_grad_(False) for k in adam_tensors}
    adam = {k: torch.optim.AdamW([adam_params[k]], lr=lr, betas=ADAM_BETAS, eps=ADAM_EPS,
                                 weight_decay=0.0) for k, lr in adam_tensors.items()}
    # The Muon matrices: wqkv as three [C, C] row blocks, then wo, wfc, wproj.
    muon = {}
    for name, rows, cols in names:
        if name in adam_tensors:
            continue
        if name.endswith("wqkv"):
            for j in range(3):
                muon[(name, j)] = MuonMatrix(C, C)
        else:
            muon[(name, None)] = MuonMatrix(rows, cols)

    def flat(d):
        return torch.cat([d[k].reshape(-1) for k, _, _ in names])

    out = bytearray()
    n = sum(r * c for _, r, c in names)
    out += b"SWMUON1\n"
    out += struct.pack("<9i", L, C, V, TIE, n, N_STEPS, TOTAL_STEPS, RAMP, NS_STEPS)
    out += struct.pack("<10f", MATRIX_LR, EMBEDDING_LR, UNEMBEDDING_LR, ADAM_BETAS[0],
                       ADAM_BETAS[1], ADAM_EPS, WEIGHT_DECAY, MOMENTUM_START, MOMENTUM_END, BETA2)
    out += flat(params).float().numpy().astype("<f4").tobytes()
    for step in range(N_STEPS):
        grads = {k: (torch.randn(r, c, generator=gen, dtype=torch.float64) * 0.1).float().double()
                 for k, r, c in names}
        frac = min(step / RAMP, 1.0)
        momentum = (1 - frac) * MOMENTUM_START + frac * MOMENTUM_END
        wd = WEIGHT_DECAY * (1 - step / TOTAL_STEPS)
        for (name, j), mat in muon.items():
            p, g = params[name], grads[name]
            rows, cols = p.shape
            lr = MATRIX_LR * LR_MULT[step] * math.sqrt(max(1.0, rows / cols))
            if j is None:
                params[name] = mat.step(p, g, momentum, lr, wd)
            else:
                sl = slice(j * C, (j + 1) * C)
                new = p.clone()
                new[sl] = mat.step(p[sl], g[sl], momentum, MATRIX_LR * LR_MULT[step], wd)
                params[name] = new
        for k, opt in adam.items():
            opt.param_groups[0]["lr"] = adam_tensors[k] * LR_MULT[step]
            adam_params[k].grad = grads[k].clone()
            opt.step()
            params[k] = adam_params[k].detach().clone()
        out += struct.pack("<f", LR_MULT[step])
        out += flat(grads).float().numpy().astype("<f4").tobytes()
        out += flat(params).float().numpy().astype("<f4").tobytes()
    with open(out_path, "wb") as f:
        f.write(out)
    print(f"{out_path}: {n} parameters, {N_STEPS} steps, weight decay {WEIGHT_DECAY:g}")


if __name__ == "__main__":
    torch.set_default_dtype(torch.float64)
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/kernels/fixtures/tiny_muon.bin")
