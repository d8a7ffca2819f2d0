"""CNN training throughput: K stacked CNNs (grouped convolutions) against a per-model loop.

What it measures
----------------
MNIST (the cached copy; fetched once if missing), each model on its own 10,000 records drawn
with ``np.random.default_rng(seed).choice``, batch 50, for two networks:

- ``paper``: the paper's CNN (5x5 convolutions of 32 and 64 channels with 2x2 max pooling,
  FC 1,024, dropout 0.5, Adam 1e-4): the ``mnist`` preset;
- ``small``: a CNN of 4 and 8 channels with FC 64 (Adam 1e-3), the size a 2-core CPU trains
  100 of in minutes (it was tried as ``--scale cpu`` and memorised too little; README).

Two ways, timed side by side in one run with ``time.perf_counter`` (after one warm-up step
each, and with ``torch.cuda.synchronize`` on a GPU):

1. ``stacked``: ``gmia.zoo.train_stack`` on K models at once (the code path GMIA uses; on CUDA
   with bfloat16 autocast, as gmia trains there).
2. ``per-model loop``: a plain ``torch.nn.Sequential`` of the same layers and a ``torch.optim.Adam``
   per model, trained one model after another on batches of its own records (the same autocast
   on CUDA). With ``--loop-models M`` only M models are timed and the time is scaled to K.

Throughput is model-steps per second. The output also projects the paper-scale protocol
(100 reference + 100 target models x 10,000 steps) from the stacked throughput.

Run: ``.venv/bin/python benchmarks/cnn_throughput.py [--device cuda]``. At most 2 torch threads
on the CPU (shared 2-core machines), so compare ratios, not seconds.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import datetime, timezone

import numpy as np
import torch

torch.set_num_threads(2)

from gmia.data.registry import load_image  # noqa: E402
from gmia.settings.paper import PRESETS  # noqa: E402
from gmia.zoo import TrainSpec, iter_batches, train_stack  # noqa: E402
from gmia.base.io import default_cache_dir  # noqa: E402
from gmia.zoo.trainer import resolve_device  # noqa: E402

RECORDS_PER_MODEL = 10_000
PAPER_MODELS, PAPER_STEPS = 200, 10_000


def plain_cnn(spec: TrainSpec, n_classes: int) -> torch.nn.Sequential:
    """One model of ``spec`` the ordinary torch way."""
    act = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid}[spec.activation]
    layers: list[torch.nn.Module] = [torch.nn.Unflatten(1, spec.image)]
    channels = [spec.image[0], *spec.conv]
    for c_in, c_out in zip(channels[:-1], channels[1:]):
        layers += [torch.nn.Conv2d(c_in, c_out, spec.kernel, padding=spec.kernel // 2), act(), torch.nn.MaxPool2d(2)]
    layers.append(torch.nn.Flatten())
    pools = len(spec.conv)
    sizes = [spec.conv[-1] * (spec.image[1] >> pools) * (spec.image[2] >> pools), *spec.hidden, n_classes]
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers += [act(), torch.nn.Dropout(spec.dropout)]
    return torch.nn.Sequential(*layers)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_stacked(x, y, sets, spec, device) -> float:
    warm = spec.model_copy(update={"steps": 1})
    train_stack(x, y, sets, warm, seed=0, n_classes=10, device=device)
    sync(device)
    start = time.perf_counter()
    train_stack(x, y, sets, spec, seed=0, n_classes=10, device=device)  # returns CPU tensors: synchronised
    return time.perf_counter() - start


def time_loop(x, y, sets, spec, device) -> float:
    xd, yd = x.to(device), y.to(device)
    total = 0.0
    for m in range(len(sets)):
        torch.manual_seed(m)
        model = plain_cnn(spec, 10).to(device).train()
        opt = torch.optim.Adam(model.parameters(), lr=spec.lr)
        batches = list(iter_batches(torch.as_tensor(sets[m : m + 1]), spec.batch_size, spec.steps + 1,
                                    torch.Generator().manual_seed(m)))
        for step, batch in enumerate(batches):
            if step == 1:  # the first step warms up kernels and allocators
                sync(device)
                start = time.perf_counter()
            idx = batch[0].to(device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                out = model(xd[idx])
            loss = torch.nn.functional.cross_entropy(out.float(), yd[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sync(device)
        total += time.perf_counter() - start
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--models", type=int, default=None, help="K (default: 100 on CUDA, 20 on CPU)")
    parser.add_argument("--steps", type=int, default=None, help="steps per model (default: 200 on CUDA, 10 on CPU)")
    parser.add_argument("--loop-models", type=int, default=None, help="time the loop on this many models, scaled to K")
    parser.add_argument("--nets", default="paper,small", help="comma-separated: paper, small")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args()
    device = resolve_device(args.device)
    cuda = device.type == "cuda"
    k = args.models or (100 if cuda else 20)
    steps = args.steps or (200 if cuda else 10)
    loop_models = min(k, args.loop_models or (k if cuda else 5))

    data = load_image("mnist", default_cache_dir())
    x, y = torch.from_numpy(data.x), torch.from_numpy(data.y)
    rng = np.random.default_rng(args.seed)
    sets = np.stack([rng.choice(len(data), RECORDS_PER_MODEL, replace=True) for _ in range(k)])
    paper = PRESETS["mnist"].spec
    specs = {"paper": paper, "small": paper.model_copy(update={"conv": (4, 8), "hidden": (64,), "lr": 1e-3})}
    name = torch.cuda.get_device_name(device) if cuda else platform.processor() or platform.machine()
    print(f"device {device} ({name}), torch {torch.__version__}, {torch.get_num_threads()} CPU threads; "
          f"K = {k}, {steps} steps, loop timed on {loop_models} models" + (" and scaled to K" if loop_models < k else ""))
    rows = []
    for net in args.nets.split(","):
        spec = specs[net].model_copy(update={"steps": steps})
        t_stacked = time_stacked(x, y, sets, spec, device)
        t_loop = time_loop(x, y, sets[:loop_models], spec, device) * k / loop_models
        row = {"net": net, "k": k, "steps": steps, "stacked_s": t_stacked, "loop_s": t_loop,
               "stacked_model_steps_per_s": k * steps / t_stacked, "loop_model_steps_per_s": k * steps / t_loop,
               "speedup": t_loop / t_stacked,
               "paper_protocol_hours": PAPER_MODELS * PAPER_STEPS / (k * steps / t_stacked) / 3600}
        rows.append(row)
        print(f"{net:>5} CNN: stacked {row['stacked_model_steps_per_s']:8.1f} model-steps/s, per-model loop "
              f"{row['loop_model_steps_per_s']:8.1f}; stacked/loop speed-up {row['speedup']:.2f}x; "
              f"{PAPER_MODELS} models x {PAPER_STEPS:,} steps would take {row['paper_protocol_hours']:.1f} h stacked")
        sys.stdout.flush()
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"when": datetime.now(timezone.utc).isoformat(), "device": str(device), "device_name": name,
                       "torch": torch.__version__, "rows": rows}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
