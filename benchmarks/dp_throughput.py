"""DP-SGD cost: a private stack of K Adult models against the same stack trained without DP.

What it measures
----------------
The paper's Adult network (hidden 10 and 5 tanh units, SGD lr 0.01, batch 100), K models
(default 100) each on its own bootstrap sample of 10,000 Adult records, trained for ``--steps``
steps (default 2,000) by ``gmia.zoo.train_stack`` twice per round: once plain, once with DP-SGD
(Poisson sampling at q = 100 / 10,000, per-record clipping at C = 1, noise multiplier σ = 1:
gmia.zoo.dp). Rounds alternate the order (plain first, then DP first, ...) so drift on a shared
machine hits both; the printed ratio is the median over rounds of DP seconds / plain seconds.
The issue's target: DP no more than 4x slower.

Run: ``.venv/bin/python benchmarks/dp_throughput.py [--rounds 3] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from gmia.data import load_bundled
from gmia.zoo import TrainSpec
from gmia.zoo.trainer import train_stack


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", type=int, default=100)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2, choices=(1, 2))
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    data = load_bundled("adult")
    x, y = torch.as_tensor(data.x), torch.as_tensor(data.y)
    sets = np.sort(np.random.default_rng(0).choice(len(data.x), (args.models, 10000)), axis=1)
    plain = TrainSpec(hidden=(10, 5), activation="tanh", optimizer="sgd", lr=0.01, steps=args.steps, batch_size=100)
    private = plain.model_copy(update={"dp_clip": 1.0, "dp_noise": 1.0, "dp_sampling": "poisson"})
    train_stack(x, y, sets[:, :1000], plain.model_copy(update={"steps": 20}), 0, 2)  # warm-up
    times = {"plain": [], "dp": []}
    for r in range(args.rounds):
        order = [("plain", plain), ("dp", private)]
        for name, spec in (order if r % 2 == 0 else order[::-1]):
            start = time.perf_counter()
            train_stack(x, y, sets, spec, r, data.n_classes)
            times[name].append(time.perf_counter() - start)
    ratios = [d / p for d, p in zip(times["dp"], times["plain"])]
    ratio = statistics.median(ratios)
    print(f"K={args.models} models x {args.steps} steps, {args.threads} threads, {args.rounds} rounds")
    for name in times:
        print(f"{name:>5}: " + ", ".join(f"{t:.2f}s" for t in times[name])
              + f"  ({args.models * args.steps / statistics.median(times[name]):.0f} model-steps/s)")
    print(f"DP-SGD / plain: {ratio:.2f}x (per round: {', '.join(f'{v:.2f}' for v in ratios)}); target <= 4x: "
          f"{'met' if ratio <= 4 else 'NOT MET'}")
    if args.json:
        args.json.write_text(json.dumps({"times": times, "ratios": ratios, "median_ratio": ratio}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
