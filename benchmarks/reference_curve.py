"""Reference-count curve: what k = 16, 64, 256 and 1,024 Adult reference models cost per model.

What it measures
----------------
For each k, in a fresh Python process (so that its peak memory is that k's alone), from an empty
cache:

1. **train**: k reference models of the ``adult`` preset (108-10-5-2 tanh, SGD, 20,000 steps of
   batch 100; ``--steps`` to shorten) as the protocol trains them
   (`gmia.protocol.run.train_references`: bootstrap samples of N = 10,000 of the adversary's
   records, stacks of 100 models a chunk, the compiled trainer on 2 threads);
2. **signals**: their logits ``[k, 48842, 2]`` and losses ``[k, 48842]`` on every Adult record,
   streamed to the store a block of 32 models at a time (`gmia.stats.streamed`);
3. **score**: every record's direct-test p-value (`gmia.stats.ecdf.ecdf_pvalues`, the Gaussian
   tail) of the first model's loss against the other k - 1 models' losses, read from the
   memory-mapped losses 4,096 records at a time.

Printed per k: seconds per model of training and of signals + scoring; the process's peak
resident memory (``ru_maxrss``) and its part above the imports' (measured after loading the data,
before training); and what the logits and losses would take held in memory. Beside them, the
per-model torch loop's seconds per model (``benchmarks/train_throughput.py``'s loop, a plain
``torch.nn`` model and optimiser per model, timed on ``--loop-models`` models in this process).

Run: ``.venv/bin/python benchmarks/reference_curve.py [--steps 20000] [--plot docs/reference-curve.svg]``.
These are shared 2-core machines: run nothing else beside it.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KS = (16, 64, 256, 1024)
SCORE_BLOCK = 4096


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one(k: int, steps: int, cache: str) -> dict:
    """Steps 1-3 for one k, in this process."""
    import torch

    torch.set_num_threads(2)
    from gmia.data import load_bundled
    from gmia.data.splits import paper_split
    from gmia.protocol.run import split_adversary, target_train_size, train_references
    from gmia.settings.paper import training_spec
    from gmia.stats.ecdf import ecdf_pvalues
    from gmia.stats.streamed import stream_signals
    from gmia.zoo import ZooStore

    data = load_bundled("adult")
    spec = training_spec("adult").model_copy(update={"steps": steps})
    split = paper_split(data, seed=0)
    records, _ = split_adversary(split.adversary, 0)
    store = ZooStore(cache)
    base = rss_mb()
    t = time.perf_counter()
    zoo = train_references(data, spec, store, records, k, target_train_size(split.pool), seed=0)
    train = time.perf_counter() - t
    t = time.perf_counter()
    signals = stream_signals(store, zoo, data.x, data.y, data.fingerprint())
    n = signals.shape[1]
    smallest = 1.0
    for start in range(0, n, SCORE_BLOCK):
        losses = signals.losses_of(start, min(start + SCORE_BLOCK, n))
        smallest = min(smallest, float(ecdf_pvalues(losses[1:], losses[:1], "gaussian").min()))
    score = time.perf_counter() - t
    return {"k": k, "steps": steps, "train_seconds": train, "signals_seconds": score,
            "train_seconds_per_model": train / k, "signals_seconds_per_model": score / k,
            "peak_rss_mb": rss_mb(), "rss_after_imports_mb": base,
            "in_memory_mb": k * n * (data.n_classes + 1) * 4 / 2**20, "smallest_pvalue": smallest}


def loop_seconds_per_model(steps: int, models: int) -> float:
    import numpy as np
    import torch

    torch.set_num_threads(1)  # the loop's faster setting for one small model (train_throughput.py)
    sys.path.insert(0, str(Path(__file__).parent))
    from train_throughput import RECORDS_PER_MODEL, train_one_torch

    from gmia.data import load_bundled
    from gmia.settings.paper import training_spec

    data = load_bundled("adult")
    spec = training_spec("adult").model_copy(update={"steps": steps})
    x, y = torch.from_numpy(data.x), torch.from_numpy(data.y)
    sets = np.random.default_rng(0).integers(0, len(data.x), size=(models, RECORDS_PER_MODEL))
    t = time.perf_counter()
    for i in range(models):
        train_one_torch(x, y, torch.as_tensor(sets[i]), spec, i, data.n_classes)
    return (time.perf_counter() - t) / models


def plot(rows: list[dict], loop: float, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    ks = [r["k"] for r in rows]
    fig = Figure(figsize=(8, 3.2), layout="constrained")
    left, right = fig.subplots(1, 2)
    left.plot(ks, [r["train_seconds_per_model"] for r in rows], "o-", label="train (compiled, stacked)")
    left.plot(ks, [r["signals_seconds_per_model"] for r in rows], "s-", label="signals + scoring")
    left.axhline(loop, color="grey", linestyle="--", label="per-model torch loop")
    left.set(xscale="log", yscale="log", xlabel="reference models k", ylabel="seconds per model", xticks=ks,
             xticklabels=[str(k) for k in ks])
    left.legend(frameon=False, fontsize=8)
    right.plot(ks, [r["peak_rss_mb"] for r in rows], "o-", label="peak resident memory")
    right.plot(ks, [r["in_memory_mb"] for r in rows], "s--", label="logits + losses held in memory")
    right.set(xscale="log", xlabel="reference models k", ylabel="MB", xticks=ks, xticklabels=[str(k) for k in ks])
    right.legend(frameon=False, fontsize=8)
    fig.savefig(path)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=20000)
    p.add_argument("--ks", type=int, nargs="+", default=list(KS))
    p.add_argument("--loop-models", type=int, default=1)
    p.add_argument("--plot", metavar="PATH", help="also draw the curve (SVG or PNG)")
    p.add_argument("--json", metavar="PATH")
    p.add_argument("--one", type=int, help=argparse.SUPPRESS)
    p.add_argument("--cache", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        print(json.dumps(one(args.one, args.steps, args.cache)))
        return {}
    rows = []
    for k in args.ks:
        with tempfile.TemporaryDirectory(prefix="gmia-curve-") as cache:
            out = subprocess.run([sys.executable, __file__, "--one", str(k), "--steps", str(args.steps), "--cache", cache],
                                 check=True, capture_output=True, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
        print(f"k = {k}: {rows[-1]['train_seconds']:.1f} s training", file=sys.stderr, flush=True)
    loop = loop_seconds_per_model(args.steps, args.loop_models)
    print(f"Adult references, {args.steps} steps each, from an empty cache; 2 threads")
    head = (f"{'k':>6} {'train s/model':>14} {'signals+score s/model':>22} {'peak RSS MB':>12} {'above imports':>14} "
            f"{'held in memory MB':>18}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['k']:>6} {r['train_seconds_per_model']:>14.3f} {r['signals_seconds_per_model']:>22.4f} "
              f"{r['peak_rss_mb']:>12.0f} {r['peak_rss_mb'] - r['rss_after_imports_mb']:>14.0f} {r['in_memory_mb']:>18.0f}")
    print(f"per-model torch loop: {loop:.2f} s per model ({args.loop_models} model(s) timed, 1 thread); "
          f"stacked at k = {rows[-1]['k']}: {loop / rows[-1]['train_seconds_per_model']:.0f}x less per model")
    result = {"steps": args.steps, "rows": rows, "loop_seconds_per_model": loop}
    if args.plot:
        plot(rows, loop, args.plot)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
