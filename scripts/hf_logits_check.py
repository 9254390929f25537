#!/usr/bin/env python3
"""Checks that Pinpoint's models load unchanged in Hugging Face transformers and give Pinpoint's logits.

Run it where transformers and torch are installed (not needed anywhere else in the project):

    # here: Pinpoint's logits for a prompt (last position) or random-weight models of every architecture (all positions)
    ./pinpoint run --model RUN/checkpoints/step-N --prompt "Once upon a time" --logits --json > step-N.json
    bench/run hf-reference            # writes runs/hf-reference/ARCH/{hf/, pinpoint.json}
    # there: load each folder with AutoModelForCausalLM (and AutoTokenizer where the folder has one) and compare
    python3 scripts/hf_logits_check.py [--prompt "Once upon a time"] MODEL_DIR JSON [MODEL_DIR JSON ...]

Prints one line per model with the max |logit difference| (and whether AutoTokenizer gives Pinpoint's ids for
--prompt) and exits 1 if any difference exceeds --tolerance or any tokenization differs.
"""
import argparse
import json
import os
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("pairs", nargs="+", help="MODEL_DIR PINPOINT_JSON, repeated")
    parser.add_argument("--tolerance", type=float, default=1e-3)
    parser.add_argument("--prompt", help="the text Pinpoint encoded; checked against AutoTokenizer where a folder has tokenizer_config.json")
    args = parser.parse_args()
    if len(args.pairs) % 2:
        parser.error("expected pairs of MODEL_DIR PINPOINT_JSON")
    failed = False
    for model_dir, result_path in zip(args.pairs[::2], args.pairs[1::2]):
        try:
            failed |= not check(model_dir, result_path, args)
        except Exception as e:  # one model that does not load must not hide the others' results
            print(f"{model_dir}: FAILED to load or run: {type(e).__name__}: {e}", flush=True)
            failed = True
    return 1 if failed else 0


def check(model_dir: str, result_path: str, args) -> bool:
    """Prints the comparison for one model; true when it passes."""
    with open(result_path) as f:
        result = json.load(f)
    model = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32).eval()
    with torch.no_grad():
        logits = model(torch.tensor([result["ids"]])).logits[0]
    ours = torch.tensor(result["logits"], dtype=torch.float32)
    # A flat list is the last position (pinpoint run); a list of rows is every position (bench hf-reference).
    theirs = logits[-1] if ours.dim() == 1 else logits
    diff = (theirs - ours).abs().max().item()
    passed = diff <= args.tolerance
    line = f"{model_dir}: {type(model).__name__}, max |Δlogit| {diff:.3g} over {ours.numel()} logits"
    if args.prompt is not None and os.path.exists(os.path.join(model_dir, "tokenizer_config.json")):
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        ids = tokenizer(args.prompt)["input_ids"]
        same = ids == result["ids"]
        passed &= same
        verdict = "match" if same else f"differ: {ids} vs {result['ids']}"
        line += f"; {type(tokenizer).__name__} ids {verdict}"
    print(line, flush=True)
    return passed


if __name__ == "__main__":
    sys.exit(main())
