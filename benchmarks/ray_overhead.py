"""The Ray executor's overhead over local training, for a stack of 100 Adult models.

What it measures
----------------
The paper's Adult network (hidden 10 and 5 tanh units, SGD lr 0.01, batch 100), 100 models on
bootstrap samples of 10,000 records, ``--steps`` steps (default 2,000), chunks of ``--chunk``
models (default 25: Ray needs several chunks to run anything in parallel), trained into an empty
store three times per round: by the local executor with gmia's default chunk of 100 models
(one process, 2 torch threads), by the local executor with Ray's chunking, and by the Ray
executor on a local cluster started once beforehand (``--cpus`` CPUs, default 2; one task per
chunk, one CPU and one torch thread per task). Rounds alternate the order; the printed ratios
are medians of Ray seconds / local seconds. Cluster start-up is timed separately and not
included. The Ray stack is checked equal, bit for bit, to the local one of the same chunking.

Run: ``.venv/bin/python benchmarks/ray_overhead.py [--rounds 3] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from gmia.data import load_bundled
from gmia.zoo import TrainSpec, ZooStore
from gmia.zoo.executors import RayExecutor


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", type=int, default=100)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--chunk", type=int, default=25)
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(2)
    data = load_bundled("adult")
    sets = np.sort(np.random.default_rng(0).choice(len(data.x), (args.models, 10000)), axis=1)
    spec = TrainSpec(hidden=(10, 5), activation="tanh", optimizer="sgd", lr=0.01, steps=args.steps, batch_size=100)
    start = time.perf_counter()
    ray_ex = RayExecutor(address=None, init_kwargs={"num_cpus": args.cpus, "_node_ip_address": "127.0.0.1"})
    ray_ex._connect()
    startup = time.perf_counter() - start
    # local-default: gmia's default chunk of 100 models in one process; local: the same chunks as Ray.
    runs = {"local-default": (None, 100), "local": (None, args.chunk), "ray": (ray_ex, args.chunk)}
    times = {name: [] for name in runs}
    stacks = {}
    for r in range(args.rounds):
        order = list(runs) if r % 2 == 0 else list(runs)[::-1]
        for name in order:
            executor, chunk = runs[name]
            with tempfile.TemporaryDirectory() as tmp:
                store = ZooStore(tmp, executor=executor)
                start = time.perf_counter()
                stacks[name] = store.get(data.x, data.y, data.fingerprint(), sets, spec, r, data.n_classes, chunk_size=chunk)
                times[name].append(time.perf_counter() - start)
        assert all(torch.equal(stacks["local"].params[n], stacks["ray"].params[n]) for n in stacks["local"].params)
    ratios = {base: [a / b for a, b in zip(times["ray"], times[base])] for base in ("local-default", "local")}
    print(f"{args.models} Adult models x {args.steps} steps; Ray: chunks of {args.chunk} on a local cluster of {args.cpus} "
          f"CPUs started in {startup:.1f} s (not counted)")
    for name, ts in times.items():
        print(f"{name:>13}: " + ", ".join(f"{t:.1f}s" for t in ts) + f"  (chunks of {runs[name][1]})")
    for base, rs in ratios.items():
        print(f"Ray / {base}: {statistics.median(rs):.2f}x (per round: {', '.join(f'{v:.2f}' for v in rs)})")
    print("Ray and local stacks of the same chunking equal bit for bit in every round")
    if args.json:
        args.json.write_text(json.dumps({"times": times, "ratios": ratios, "startup_s": startup}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
