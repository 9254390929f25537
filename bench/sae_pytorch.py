#!/usr/bin/env python3
"""PyTorch CPU anchor for `bench/run sae`: one training step of the TopK SAE recipe (models/sae-recipe.json) as SAELens
and Gao et al. write it — dense encoder GEMM, per-token top-k then ReLU, dense decoder GEMM, summed-squares loss, the
decoder gradient's component along each unit row removed, global-norm clipping, Adam, decoder rows renormalised.

Standalone:  python3 bench/sae_pytorch.py [--recipe models/sae-recipe.json] [--d-in 256] [--rounds 5]
             prints one JSON line {"tokens_per_s": best over rounds, ...}.
Served:      --serve reads one command per stdin line ("round" runs --steps timed steps, "quit" exits) and answers
             each "round" with one JSON line, so the C# bench can alternate its own steps with ours.
Bench-only: needs torch (Debian: apt-get install python3-torch).
"""
import argparse
import math
import time

import anchor_cli

import torch


class TopKSae(torch.nn.Module):
    def __init__(self, d_in, d_sae, k):
        super().__init__()
        self.k = k
        w_dec = torch.randn(d_sae, d_in)
        w_dec /= w_dec.norm(dim=1, keepdim=True)
        self.W_dec = torch.nn.Parameter(w_dec)
        self.W_enc = torch.nn.Parameter(w_dec.t().clone())
        self.b_enc = torch.nn.Parameter(torch.zeros(d_sae))
        self.b_dec = torch.nn.Parameter(torch.zeros(d_in))

    def forward(self, x):
        pre = (x - self.b_dec) @ self.W_enc + self.b_enc
        top = pre.topk(self.k, dim=-1)
        acts = torch.zeros_like(pre).scatter(-1, top.indices, top.values.relu())
        return acts @ self.W_dec + self.b_dec, acts


def step(sae, opt, batch, grad_clip, fired):
    """One optimizer step; returns (forward, backward, optimizer) seconds, the last including clipping."""
    t0 = time.perf_counter()
    recon, acts = sae(batch)
    loss = (recon - batch).pow(2).sum(dim=-1).mean()
    t1 = time.perf_counter()
    loss.backward()
    t2 = time.perf_counter()
    with torch.no_grad():
        grad = sae.W_dec.grad
        grad -= (grad * sae.W_dec).sum(dim=1, keepdim=True) * sae.W_dec
        fired += (acts > 0).sum(dim=0)  # dead-latent tracking, as the trainer does
    torch.nn.utils.clip_grad_norm_(sae.parameters(), grad_clip)
    opt.step()
    opt.zero_grad(set_to_none=False)
    with torch.no_grad():
        sae.W_dec /= sae.W_dec.norm(dim=1, keepdim=True)
    t3 = time.perf_counter()
    if not math.isfinite(loss.item()):
        raise SystemExit(f"sae_pytorch: loss became {loss.item()}")
    return t1 - t0, t2 - t1, t3 - t2


def run_round(sae, opt, a, data, state):
    """Best of --steps timed steps: tokens/s and the phase split of that step."""
    times = []
    for _ in range(a.steps):
        batch = data[state["next"] % len(data)]
        state["next"] += 1
        times.append(step(sae, opt, batch, a.grad_clip, state["fired"]))
    best = min(times, key=sum)
    return {"tokens_per_s": a.batch / sum(best), "step_s": sum(best), "forward_s": best[0], "backward_s": best[1], "optimizer_s": best[2]}


def main():
    a, recipe = anchor_cli.parse(__doc__, "a Pinpoint SAE recipe (models/sae-recipe.json); explicit sizes override it", ("d-in", "d-sae", "k", "batch"))
    pick = lambda arg, key, default: arg if arg is not None else recipe.get(key, default)
    a.d_in = a.d_in or 256
    a.d_sae = pick(a.d_sae, "d_sae", 2048)
    a.k = pick(a.k, "k", 32)
    a.batch = pick(a.batch, "batch_size", 4096)
    a.grad_clip = recipe.get("grad_clip", 1.0)

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    sae = TopKSae(a.d_in, a.d_sae, a.k)
    opt = torch.optim.Adam(sae.parameters(), lr=recipe.get("learning_rate", 4e-4), betas=(0.9, 0.999), eps=1e-8)
    data = [torch.randn(a.batch, a.d_in) for _ in range(4)]
    state = {"next": 0, "fired": torch.zeros(a.d_sae, dtype=torch.long)}
    for _ in range(a.warmup):
        run_round(sae, opt, argparse.Namespace(**{**vars(a), "steps": 1}), data, state)
    info = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    anchor_cli.run(a, info, lambda: run_round(sae, opt, a, data, state), "sae_pytorch")


if __name__ == "__main__":
    main()
