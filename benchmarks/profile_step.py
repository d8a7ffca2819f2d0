"""Where a stacked training step's time goes: torch's profiler over Adult steps, both trainer paths.

Trains K = 100 of the paper's Adult networks (108-10-5-2, SGD, batch 100, bootstrap samples of
10,000 records) for ``--steps`` steps (default 300) under ``torch.profiler``, once through
autograd (the path before issue 18, still used for dropout, convolutions, DP-SGD and CUDA) and
once through `gmia.zoo.fused`, and prints each path's top operations by self time with their
share. numpy and scipy calls of the fused path do not appear as torch operations: their time is
the gap between the torch total and the wall time, printed beside it.

Run: ``.venv/bin/python benchmarks/profile_step.py [--threads 1] [--steps 300]``.
"""

from __future__ import annotations

import argparse
import time
from unittest import mock

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile

from gmia.data import load_bundled
from gmia.settings.paper import PRESETS
from gmia.zoo import train_stack


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, choices=(1, 2), default=1)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--top", type=int, default=12)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    ds = load_bundled("adult")
    x, y = torch.as_tensor(ds.x), torch.as_tensor(ds.y)
    sets = np.random.default_rng(0).choice(len(x), size=(100, 10_000), replace=True)
    spec = PRESETS["adult"].spec.model_copy(update={"steps": args.steps})
    print(f"Adult, K = 100 models x {args.steps} steps, {args.threads} torch thread(s), torch {torch.__version__}")
    for label, fused in (("autograd (before)", False), ("gmia.zoo.fused (after)", True)):
        with mock.patch("gmia.zoo.fused.applies", (lambda s, d: True) if fused else (lambda s, d: False)):
            train_stack(x, y, sets, spec.model_copy(update={"steps": 20}), 0, ds.n_classes)  # warm-up
            t = time.perf_counter()
            train_stack(x, y, sets, spec, 0, ds.n_classes)
            plain = time.perf_counter() - t
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                train_stack(x, y, sets, spec, 0, ds.n_classes)
        events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
        torch_total = sum(e.self_cpu_time_total for e in events) / 1e6
        print(f"\n{label}: {plain / args.steps * 1e3:.2f} ms a step unprofiled; torch ops {torch_total / args.steps * 1e3:.2f} "
              f"ms a step under the profiler")
        print(f"  {'operation':<36} {'share':>6} {'us/step':>8} {'calls/step':>10}")
        for e in events[: args.top]:
            seconds = e.self_cpu_time_total / 1e6
            print(f"  {e.key[:36]:<36} {100 * seconds / torch_total:>5.1f}% {seconds / args.steps * 1e6:>8.0f} "
                  f"{e.count / args.steps:>10.1f}")


if __name__ == "__main__":
    main()
