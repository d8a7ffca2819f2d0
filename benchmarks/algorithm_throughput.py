"""Models per second for a training algorithm that is not a gmia stack: 1 worker, 2 workers, Ray.

The same models (index sets and seeds) train three ways in one run, each into an empty store,
so the ratios are measured side by side; the outputs must be equal bit for bit. Ray starts a
local cluster of ``--workers`` CPUs first (its start-up is timed apart, not in the rate).

    python benchmarks/algorithm_throughput.py [--dataset adult] [--algorithm hist-gradient-boosting] [--models 16]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import numpy as np

import gmia
from gmia.algorithms import as_algorithm, train_outputs
from gmia.data import paper_split
from gmia.zoo import ZooStore
from gmia.zoo.executors import RayExecutor


def timed(alg, data, sets, store) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    zoo = train_outputs(alg, data, sets, 0, store)
    return time.perf_counter() - start, zoo.outputs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="adult")
    ap.add_argument("--algorithm", default="hist-gradient-boosting")
    ap.add_argument("--params", default=None, help="the algorithm's parameters as JSON")
    ap.add_argument("--models", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-ray", action="store_true")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    data = gmia.load_dataset(args.dataset)
    alg = as_algorithm(args.algorithm, args.params)
    split = paper_split(data)
    n = len(split.pool) // 2
    sets = np.sort(np.random.default_rng(0).choice(split.adversary, (args.models, n)), axis=1)
    rates, first = {}, None
    for name, workers in (("1 worker", 1), (f"{args.workers} workers", args.workers)):
        seconds, out = timed(alg, data, sets, ZooStore(tempfile.mkdtemp(), workers=workers))
        rates[name] = args.models / seconds
        assert first is None or np.array_equal(first, out), "outputs differ between executors"
        first = out if first is None else first
        print(f"{name:>12}: {seconds:7.1f} s, {rates[name]:.2f} models/s", flush=True)
    if not args.no_ray:
        start = time.perf_counter()
        executor = RayExecutor(address=None, init_kwargs={"num_cpus": args.workers, "_node_ip_address": "127.0.0.1"})
        executor._connect()
        startup = time.perf_counter() - start
        seconds, out = timed(alg, data, sets, ZooStore(tempfile.mkdtemp(), executor=executor))
        assert np.array_equal(first, out), "Ray outputs differ"
        rates[f"ray ({args.workers} CPUs)"] = args.models / seconds
        print(f"{'ray':>12}: {seconds:7.1f} s, {args.models / seconds:.2f} models/s (cluster start {startup:.1f} s apart)")
    base = rates["1 worker"]
    print(f"{args.algorithm} on {args.dataset}: {args.models} models of N={n} records, each then scored on all "
          f"{len(data)} records; " + ", ".join(f"{k} {v / base:.2f}x" for k, v in rates.items()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"algorithm": args.algorithm, "dataset": args.dataset, "models": args.models, "rates": rates}, f, indent=1)


if __name__ == "__main__":
    main()
