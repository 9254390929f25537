#!/usr/bin/env python3
"""Checks that Pinpoint checkpoints load unchanged in Hugging Face transformers and give Pinpoint's logits.

Run it where transformers and torch are installed (not needed anywhere else in the project):

    # here: the last-position logits Pinpoint computes for fixed token ids
    ./pinpoint run --model RUN/checkpoints/step-N --ids 5,17,42,99 --logits --json > step-N.json
    # there: load the same folder with AutoModelForCausalLM and compare
    python3 scripts/hf_logits_check.py RUN/checkpoints/step-N step-N.json [MODEL_DIR JSON ...]

Prints one line per model with the max |logit difference| and exits 1 if any exceeds --tolerance.
"""
import argparse
import json
import sys

import torch
from transformers import AutoModelForCausalLM


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("pairs", nargs="+", help="MODEL_DIR PINPOINT_JSON, repeated")
    parser.add_argument("--tolerance", type=float, default=1e-3)
    args = parser.parse_args()
    if len(args.pairs) % 2:
        parser.error("expected pairs of MODEL_DIR PINPOINT_JSON")
    worst = 0.0
    for model_dir, result_path in zip(args.pairs[::2], args.pairs[1::2]):
        with open(result_path) as f:
            result = json.load(f)
        model = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32).eval()
        with torch.no_grad():
            logits = model(torch.tensor([result["ids"]])).logits[0, -1]
        ours = torch.tensor(result["logits"], dtype=torch.float32)
        diff = (logits - ours).abs().max().item()
        worst = max(worst, diff)
        print(f"{model_dir}: {type(model).__name__}, max |Δlogit| {diff:.3g} over {ours.numel()} logits")
    return 0 if worst <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
