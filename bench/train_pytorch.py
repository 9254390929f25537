#!/usr/bin/env python3
"""PyTorch CPU anchor for `bench/run train`: one training step (forward, backward, clip_grad_norm_, AdamW) of a
GPT-2-style model on random token batches — learned positions, pre-LN, fused qkv, GELU (tanh), tied embeddings.

Standalone:  python3 bench/train_pytorch.py [--recipe models/recipe.json] [--rounds 5]
             prints one JSON line {"tokens_per_s": best over rounds, ...}.
Served:      --serve reads one command per stdin line ("round" runs --steps timed steps, "quit" exits) and answers
             each "round" with one JSON line, so the C# bench can alternate its own steps with ours.
Bench-only: needs torch (Debian: apt-get install python3-torch).
"""
import math
import time

import anchor_cli

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d, heads, d_mlp):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.o = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.mlp_in = nn.Linear(d, d_mlp)
        self.mlp_out = nn.Linear(d_mlp, d)

    def attention(self, x, mask):
        b, t, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=2)
        q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        if hasattr(F, "scaled_dot_product_attention"):
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(d // self.heads))
            y = scores.masked_fill(mask[:t, :t], float("-inf")).softmax(dim=-1) @ v
        return self.o(y.transpose(1, 2).reshape(b, t, d))

    def forward(self, x, mask):
        x = x + self.attention(self.ln1(x), mask)
        return x + self.mlp_out(F.gelu(self.mlp_in(self.ln2(x)), approximate="tanh"))


class Gpt2(nn.Module):
    def __init__(self, vocab, context, d, layers, heads, d_mlp):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(context, d)
        self.blocks = nn.ModuleList(Block(d, heads, d_mlp) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d)
        self.register_buffer("mask", torch.triu(torch.ones(context, context, dtype=torch.bool), diagonal=1), persistent=False)
        residual_std = 0.02 / math.sqrt(2 * layers)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=residual_std if name.endswith(("o.weight", "mlp_out.weight")) else 0.02)
            elif "ln" not in name:
                nn.init.zeros_(p)
        nn.init.normal_(self.wpe.weight, std=0.01)

    def forward(self, ids):
        x = self.wte(ids) + self.wpe(torch.arange(ids.shape[1]))
        for block in self.blocks:
            x = block(x, self.mask)
        return F.linear(self.ln_f(x), self.wte.weight)  # tied unembedding


def build(a):
    torch.manual_seed(a.seed)
    model = Gpt2(a.vocab, a.context, a.d_model, a.layers, a.heads, a.d_mlp)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.95), eps=1e-8)
    return model, opt


def step(model, opt, a, gen):
    """One optimizer step; returns (forward, backward, optimizer) seconds, the last including clipping."""
    ids = torch.randint(a.vocab, (a.batch, a.context + 1), generator=gen)
    t0 = time.perf_counter()
    logits = model(ids[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, a.vocab), ids[:, 1:].reshape(-1))
    t1 = time.perf_counter()
    loss.backward()
    t2 = time.perf_counter()
    torch.nn.utils.clip_grad_norm_(model.parameters(), a.grad_clip)
    opt.step()
    opt.zero_grad(set_to_none=False)
    t3 = time.perf_counter()
    if not math.isfinite(loss.item()):
        raise SystemExit(f"train_pytorch: loss became {loss.item()}")
    return t1 - t0, t2 - t1, t3 - t2


def run_round(model, opt, a, gen):
    """Best of --steps timed steps: tokens/s and the phase split of that step."""
    best = min((step(model, opt, a, gen) for _ in range(a.steps)), key=sum)
    return {"tokens_per_s": a.batch * a.context / sum(best), "step_s": sum(best),
            "forward_s": best[0], "backward_s": best[1], "optimizer_s": best[2]}


def main():
    a, recipe = anchor_cli.parse(__doc__, "a Pinpoint training recipe (models/recipe.json); explicit sizes override it", ("d-model", "layers", "heads", "d-mlp", "context", "vocab", "batch"))
    pick = lambda arg, key, default: arg if arg is not None else recipe.get(key, default)
    a.d_model = pick(a.d_model, "d_model", 256)
    a.layers = pick(a.layers, "n_layers", 4)
    a.heads = pick(a.heads, "n_heads", 8)
    a.d_mlp = a.d_mlp or recipe.get("d_mlp") or 4 * a.d_model
    a.context = pick(a.context, "context", 256)
    a.vocab = pick(a.vocab, "vocab_size", 8192)
    a.batch = pick(a.batch, "batch_size", 16)
    a.lr = recipe.get("learning_rate", 1e-3)
    a.weight_decay = recipe.get("weight_decay", 0.1)
    a.grad_clip = recipe.get("grad_clip", 1.0)

    torch.set_num_threads(a.threads)
    model, opt = build(a)
    gen = torch.Generator().manual_seed(a.seed)
    for _ in range(a.warmup):
        step(model, opt, a, gen)
    info = {"torch": torch.__version__, "threads": torch.get_num_threads(),
            "attention": "sdpa" if hasattr(F, "scaled_dot_product_attention") else "explicit causal softmax"}
    anchor_cli.run(a, info, lambda: run_round(model, opt, a, gen), "train_pytorch")


if __name__ == "__main__":
    main()
