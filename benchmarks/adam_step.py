"""torch's own ``Adam(fused=True)`` against the hand-written multi-tensor Adam gmia had.

Issue 30 asked which of the two the torch trainer should keep. The hand-written one
(``gmia.zoo.updates.Adam``, private ``torch._foreach_*`` calls) went with the hand-written CPU
passes (``gmia.zoo.fused``) the compiled trainer replaced, so this script needs a checkout of
gmia from before it, commit e93a3c5:

    git worktree add /tmp/gmia-e93a3c5 e93a3c5
    PYTHONPATH=/tmp/gmia-e93a3c5/src .venv/bin/python benchmarks/adam_step.py

It trains 100 Adult networks (108-10-5-2, Adam 1e-3, batch 100) for 400 steps through the fused
passes with each optimiser, on one thread, three rounds, and prints per stacked step the median
whole step and the optimiser's step alone (400 more steps on the last gradients).
"""
import time

import numpy as np
import torch

torch.set_num_threads(1)

from gmia.data import load_bundled  # noqa: E402
from gmia.zoo import fused, stacked, updates  # noqa: E402  (gmia before issue 30)
from gmia.zoo.spec import TrainSpec  # noqa: E402
from gmia.zoo.trainer import iter_batches  # noqa: E402

ds = load_bundled('adult')
x, y = torch.as_tensor(ds.x), torch.as_tensor(ds.y)
K, S = 100, 400
spec = TrainSpec(hidden=(10, 5), activation='tanh', optimizer='adam', lr=1e-3, steps=S, batch_size=100)
idx = torch.as_tensor(np.random.default_rng(0).integers(0, len(x), size=(K, 10000)))
res = {}
for rep in range(3):
    for name in ('hand-written updates.Adam', 'torch.optim.Adam(fused=True)'):
        g = torch.Generator().manual_seed(0)
        params = {n: p.requires_grad_(True) for n, p in stacked.init_params(spec, K, 108, 2, g).items()}
        stack = fused.FusedStack(params, spec, x, y, 2, 100)
        if name.startswith('hand'):
            opt = updates.Adam(list(params.values()), spec.lr)
        else:
            opt = torch.optim.Adam(list(params.values()), lr=spec.lr, fused=True)
        batches = list(iter_batches(idx, 100, S, g))
        t = time.perf_counter()
        for b in batches:
            stack.gradients(b.reshape(-1))
            opt.step()
        res.setdefault(name, []).append((time.perf_counter() - t) / S * 1e6)
        # optimiser step alone
        t = time.perf_counter()
        for _ in range(S):
            opt.step()
        res.setdefault(name + ' step only', []).append((time.perf_counter() - t) / S * 1e6)
for k, v in res.items():
    print(f'{k:45s} median {sorted(v)[1]:.1f} us per stacked step (100 models), runs {[round(a, 1) for a in v]}')
