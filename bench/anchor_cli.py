"""What the PyTorch anchor scripts share: their command line (a Pinpoint recipe, sizes, threads, rounds) and the
--serve loop that lets the C# bench alternate its rounds with theirs (see bench/Pinpoint.Bench/PythonAnchor.cs)."""
import argparse
import json
import sys


def parse(doc, recipe_help, sizes):
    """Parses the common options plus one int option per name in `sizes`; returns (args, recipe dict)."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", help=recipe_help)
    for name in sizes:
        p.add_argument("--" + name, type=int)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=1, help="timed steps per round")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--serve", action="store_true")
    a = p.parse_args()
    recipe = {}
    if a.recipe:
        with open(a.recipe) as f:
            recipe = json.load(f)
    return a, recipe


def run(a, info, run_round, name):
    """--serve: one JSON line when ready, one per "round" command until "quit"; otherwise the best of --rounds."""
    if a.serve:
        print(json.dumps({"ready": True, **info}), flush=True)
        for line in sys.stdin:
            command = line.strip()
            if command == "quit":
                break
            if command != "round":
                raise SystemExit(f"{name}: unknown command {command!r} (round, quit)")
            print(json.dumps(run_round()), flush=True)
        return
    rounds = [run_round() for _ in range(a.rounds)]
    print(json.dumps({**max(rounds, key=lambda r: r["tokens_per_s"]), **info}))
