"""The whole Table 1 protocol from an empty cache, stage by stage, against this machine's peak.

What it measures
----------------
1. **Peak**: a 2,048 x 2,048 float32 matrix product through torch on 2 threads (and on 1), best
   of 5 rounds of 10 products: the matmul rate this machine reaches now.
2. **Protocol**: `gmia.reproduce("table1", dataset)` (default Adult: 100 targets and 100
   reference models of the paper's 108-10-5-2 network, 20,000 SGD steps of batch 100 each,
   then signals, selection, p-values and calibration) into a fresh temporary cache, so every
   model is trained. The stages are the protocol's own timer's; "wall" is the whole call.
3. **Rate**: the training stage's dense-equivalent arithmetic, 6 flops per multiply-add of
   every dense layer per record and step (2 forward, 4 backward), divided by its seconds, and
   that as a share of the peak. (With sparse one-hot rows, gmia.zoo.compiled does less arithmetic
   than this: the figure is what a dense trainer would have to reach to match.)
4. **Floor**: the arithmetic the training stage cannot avoid with sparse rows: per record and
   step, the first layer's multiply-adds over the record's non-zeros only (forward, and its
   weight gradient), every other layer's dense (forward, weight gradient, and the deltas sent
   back), 2 flops each; that at the matmul peak is the floor's seconds, and the floor's seconds
   over the stage's are the share of the floor reached.
5. With ``--baseline``, the same protocol again, in the same process and from another empty
   cache, through the torch trainer (autograd and ``torch.optim``: the trainer before issue 30
   for everything the compiled trainer does not train). Stage-by-stage ratios.

Run: ``.venv/bin/python benchmarks/protocol.py [--dataset adult] [--baseline] [--json out.json]``.
These are shared 2-core machines: run nothing else beside it, and read the ratios measured in
one run rather than the seconds (benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from datetime import datetime, timezone
from unittest import mock

import numpy as np
import torch

torch.set_num_threads(2)

import gmia  # noqa: E402
from gmia.data import load_bundled  # noqa: E402
from gmia.settings.paper import training_spec  # noqa: E402
from gmia.zoo.concurrent import step_work  # noqa: E402
from gmia.zoo import sparse  # noqa: E402
from gmia.zoo.spec import TrainSpec  # noqa: E402
from gmia.zoo.stacked import layer_sizes  # noqa: E402

TRAIN_STAGE = "train targets and references"


def matmul_peak(threads: int, n: int = 2048, rounds: int = 5, reps: int = 10) -> float:
    """Best GFLOP/s of an n x n float32 product on ``threads`` torch threads."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    best = 0.0
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(reps):
            a @ b
        best = max(best, 2 * n**3 * reps / (time.perf_counter() - t) / 1e9)
    torch.set_num_threads(before)
    return best


def training_flops(dataset, k: int, targets: int) -> float:
    """Dense-equivalent flops of training all targets and references."""
    spec = training_spec(dataset.name)
    return 6.0 * step_work(spec, dataset.x.shape[1], dataset.n_classes, k + targets) * spec.steps


def floor_flops(dataset, k: int, targets: int) -> float:
    """The sparse arithmetic of training all targets and references (item 4 of the docstring)."""
    spec = training_spec(dataset.name)
    sizes = layer_sizes(spec, dataset.x.shape[1], dataset.n_classes)
    rows = sparse.detect(torch.from_numpy(dataset.x))
    first_inputs = float((dataset.x != 0).sum(1).mean()) if rows is not None else sizes[0]
    forward = first_inputs * sizes[1] + sum(a * b for a, b in zip(sizes[1:-1], sizes[2:]))
    backward = forward + sum(a * b for a, b in zip(sizes[1:-1], sizes[2:]))  # weight gradients, then deltas sent back
    return 2.0 * (forward + backward) * spec.batch_size * spec.steps * (k + targets)


def torch_trainer():
    """The baseline: every stack through the torch trainer instead of the compiled one."""
    return mock.patch.object(TrainSpec, "compiles", property(lambda self: False))


def run_protocol(dataset, seed: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="gmia-bench-") as cache, tempfile.TemporaryDirectory() as out:
        t = time.perf_counter()
        result = gmia.reproduce("table1", dataset, cache_dir=cache, out=out, progress=False, seed=seed)
        wall = time.perf_counter() - t
    stages = dict(result.runs[0].seconds)
    return {"wall_seconds": wall, "stages": stages, "stage_total": sum(stages.values())}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="adult")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--baseline", action="store_true", help="also run the protocol through the torch trainer, for ratios")
    p.add_argument("--json", metavar="PATH")
    args = p.parse_args(argv)

    dataset = load_bundled(args.dataset)
    peak2, peak1 = matmul_peak(2), matmul_peak(1)
    flops = training_flops(dataset, 100, 100)
    floor = floor_flops(dataset, 100, 100)
    runs = {"compiled": run_protocol(dataset, args.seed)}
    if args.baseline:
        with torch_trainer():
            runs["torch trainer"] = run_protocol(dataset, args.seed)

    print(f"torch {torch.__version__}, numpy {np.__version__}, python {platform.python_version()}; "
          f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"matmul peak (2048^2 float32): {peak2:.1f} GFLOP/s on 2 threads, {peak1:.1f} on 1")
    print(f"{args.dataset} Table 1 protocol, seed {args.seed}, from an empty cache; training = "
          f"{flops / 1e12:.2f} TFLOP dense-equivalent, {floor / 1e12:.2f} TFLOP of sparse arithmetic (the floor)")
    print()
    names = list(dict.fromkeys(n for r in runs.values() for n in r["stages"]))
    head = f"{'stage':<30}" + "".join(f"{label:>15}" for label in runs) + ("   torch/compiled" if len(runs) == 2 else "")
    print(head)
    print("-" * len(head))
    for name in [*names, "protocol total", "wall (whole call)"]:
        vals = [r["stages"].get(name) if name in names else r["stage_total"] if name == "protocol total"
                else r["wall_seconds"] for r in runs.values()]
        ratio = f"   {vals[1] / vals[0]:>14.1f}x" if len(vals) == 2 and vals[0] and vals[1] else ""
        print(f"{name:<30}" + "".join(f"{v:>14.1f}s" if v is not None else f"{'-':>15}" for v in vals) + ratio)
    print()
    for label, r in runs.items():
        train = r["stages"].get(TRAIN_STAGE, float("nan"))
        rate = flops / train / 1e9
        r["training_gflops"] = rate
        r["share_of_peak"] = rate / peak2
        r["floor_seconds"] = floor / (peak2 * 1e9)
        r["share_of_floor"] = r["floor_seconds"] / train
        print(f"{label}: training at {rate:.1f} GFLOP/s dense-equivalent = {100 * rate / peak2:.0f}% of the 2-thread peak; "
              f"the floor ({floor / 1e12:.2f} TFLOP at the peak) is {r['floor_seconds']:.1f} s, "
              f"{100 * r['share_of_floor']:.0f}% of the {train:.1f} s")
    result = {"date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"), "dataset": args.dataset,
              "seed": args.seed, "torch": torch.__version__, "peak_gflops_2_threads": peak2, "peak_gflops_1_thread": peak1,
              "training_tflop_dense_equivalent": flops / 1e12, "floor_tflop": floor / 1e12, "runs": runs}
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)
            fh.write("\n")
    return result


if __name__ == "__main__":
    main()
