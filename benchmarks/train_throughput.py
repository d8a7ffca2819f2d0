"""Training throughput: K stacked models against one-model-at-a-time baselines.

What it measures
----------------
The paper's Adult network (hidden 10 and 5 tanh units, batch 100, the ``adult`` preset's
optimiser and learning rate) trained as K reference models (default 100) for a fixed number of
steps each (default 2,000), every model on its own bootstrap sample of 10,000 Adult records
(``np.random.default_rng(seed).choice`` with replacement). Three ways, timed side by side in
one run with ``time.perf_counter``:

1. ``stacked``: ``gmia.zoo.train_stack`` on all K models at once (the code path GMIA uses: on
   the CPU, the compiled trainer ``gmia.zoo.compiled``); also through the torch trainer
   (autograd and ``torch.optim``, the path of CNNs, DP-SGD and GPUs), for the trainers' ratio.
2. ``per-model torch loop``: a plain ``torch.nn.Sequential(Linear, Tanh, Linear, Tanh, Linear)``
   and a ``torch.optim`` optimiser per model, trained one model after another on batches of
   the same size drawn from its own index set (``gmia.zoo.iter_batches`` with a one-row
   index set), cross-entropy loss.
3. ``scikit-learn MLPClassifier``: ``hidden_layer_sizes=(10, 5)``, tanh, the same solver and
   learning rate, batch 100, ``max_iter`` epochs such that epochs * ceil(10000 / 100) equals
   the step count, one per model.

Throughput is model-steps per second (models x steps / seconds). Data loading and the
accuracy check printed beside the timings are outside the timed regions. With
``--baseline-models M`` the two baselines are timed on the first M models only and their time
is scaled linearly to K models (the output says so).

Both stacked training and the per-model loop are also timed at their other thread count, and
as two jobs side by side on one thread each (`gmia.zoo.concurrent`, as the protocol trains its
targets and references); the headline ratio takes each at its best use of the two cores.

Issue 30's target: stacked >= 30x the per-model torch loop (issues 18 and 3 had 30x and 15x).

Run: ``.venv/bin/python benchmarks/train_throughput.py`` (or ``make bench``).
At most 2 torch threads (these are shared 2-core machines), so compare ratios, not seconds.
``--threads 1`` runs everything on one thread: on a machine where other processes keep the cores
busy, two OpenMP threads can wait on each other at every parallel op and slow all torch paths
many-fold (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
import warnings
from unittest import mock
from datetime import datetime, timezone

import numpy as np
import torch

torch.set_num_threads(2)  # may be lowered to 1 by --threads

import sklearn  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from gmia.data import load_bundled  # noqa: E402
from gmia.settings.paper import PRESETS  # noqa: E402
from gmia.zoo import iter_batches, train_stack  # noqa: E402
from gmia.zoo.concurrent import run_side_by_side  # noqa: E402
from gmia.zoo import stacked as stacked_model  # noqa: E402
from gmia.zoo.spec import TrainSpec  # noqa: E402

RECORDS_PER_MODEL = 10_000


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", type=int, default=100, help="K, models trained (default 100)")
    p.add_argument("--steps", type=int, default=2000, help="training steps per model (default 2000)")
    p.add_argument(
        "--baseline-models",
        type=int,
        default=None,
        help="time the two baselines on this many models and scale linearly to --models (default: --models)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, choices=(1, 2), default=2,
                   help="torch threads for the stacked trainer (default 2, the most allowed)")
    p.add_argument("--baseline-threads", type=int, choices=(1, 2), default=1,
                   help="torch and BLAS threads for the baselines (default 1: faster for one small model at a time; "
                        "the loop is also timed with 2 threads on a few models to show it)")
    p.add_argument("--json", metavar="PATH", help="also write the measurements as JSON to PATH")
    args = p.parse_args(argv)
    if args.baseline_models is None:
        args.baseline_models = args.models
    if args.models < 1 or args.steps < 1 or not 1 <= args.baseline_models <= args.models:
        p.error("need --models >= 1, --steps >= 1 and 1 <= --baseline-models <= --models")
    return args


# --- the three methods -------------------------------------------------------------------


def run_stacked(x, y, index_sets, spec, seed, n_classes):
    t0 = time.perf_counter()
    params = train_stack(x, y, index_sets, spec, seed=seed, n_classes=n_classes)
    seconds = time.perf_counter() - t0
    return seconds, params


def torch_trainer():
    """Stacks train through torch (autograd and torch.optim) instead of the compiled trainer."""
    return mock.patch.object(TrainSpec, "compiles", property(lambda self: False))


def run_side(tasks) -> float:
    """Seconds to run ``tasks`` side by side, one torch thread each (`gmia.zoo.concurrent`)."""
    t0 = time.perf_counter()
    run_side_by_side(list(tasks), None)
    return time.perf_counter() - t0


def make_torch_model(n_features: int, hidden: tuple[int, ...], activation: str, n_classes: int) -> torch.nn.Sequential:
    act = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU, "sigmoid": torch.nn.Sigmoid}[activation]
    sizes = [n_features, *hidden, n_classes]
    layers: list[torch.nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(act())
    return torch.nn.Sequential(*layers)


def train_one_torch(x, y, index_set: torch.Tensor, spec, seed: int, n_classes: int) -> torch.nn.Sequential:
    torch.manual_seed(seed)
    model = make_torch_model(x.shape[1], spec.hidden, spec.activation, n_classes)
    if spec.optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=spec.lr)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=spec.lr, momentum=spec.momentum)
    generator = torch.Generator().manual_seed(seed)
    for batch in iter_batches(index_set.unsqueeze(0), spec.batch_size, spec.steps, generator):
        idx = batch[0]
        loss = torch.nn.functional.cross_entropy(model(torch.index_select(x, 0, idx)), torch.index_select(y, 0, idx))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model


def run_torch_loop(x, y, index_sets, spec, seed, n_classes, m):
    idx = torch.as_tensor(index_sets[:m], dtype=torch.int64)
    models = []
    t0 = time.perf_counter()
    for i in range(m):
        models.append(train_one_torch(x, y, idx[i], spec, seed + i, n_classes))
    seconds = time.perf_counter() - t0
    return seconds, models


def sklearn_epochs(steps: int, batch_size: int) -> tuple[int, int]:
    """Epochs for MLPClassifier and the steps they make (sklearn keeps the last partial batch)."""
    per_epoch = math.ceil(RECORDS_PER_MODEL / batch_size)
    epochs = max(1, round(steps / per_epoch))
    return epochs, epochs * per_epoch


def make_sklearn(spec, epochs: int, seed: int) -> MLPClassifier:
    return MLPClassifier(
        hidden_layer_sizes=spec.hidden,
        activation=spec.activation if spec.activation != "sigmoid" else "logistic",
        solver=spec.optimizer,
        learning_rate_init=spec.lr,
        learning_rate="constant",
        momentum=spec.momentum,
        alpha=spec.l2,
        batch_size=spec.batch_size,
        max_iter=epochs,
        shuffle=True,
        tol=0.0,
        n_iter_no_change=10**9,
        early_stopping=False,
        random_state=seed,
    )


def run_sklearn(x_np, y_np, index_sets, spec, seed, m, epochs, threads):
    models = []
    with warnings.catch_warnings(), threadpool_limits(limits=threads):
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = time.perf_counter()
        for i in range(m):
            rows = index_sets[i]
            models.append(make_sklearn(spec, epochs, seed + i).fit(x_np[rows], y_np[rows]))
        seconds = time.perf_counter() - t0
    return seconds, models


# --- sanity check (untimed): did every method actually learn? -----------------------------


def accuracy_stacked(params, x, y, activation) -> float:
    with torch.no_grad():
        correct = [
            (stacked_model.forward({k: v[i : i + 1] for k, v in params.items()}, x, activation)[0].argmax(1) == y)
            .float()
            .mean()
            .item()
            for i in range(params["w0"].shape[0])
        ]
    return float(np.mean(correct))


def accuracy_torch(models, x, y) -> float:
    with torch.no_grad():
        return float(np.mean([(m(x).argmax(1) == y).float().mean().item() for m in models]))


def accuracy_sklearn(models, x_np, y_np, threads) -> float:
    with threadpool_limits(limits=threads):
        return float(np.mean([m.score(x_np, y_np) for m in models]))


# --- main -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    t_start = time.perf_counter()
    torch.set_num_threads(args.threads)
    k, m, steps, seed = args.models, args.baseline_models, args.steps, args.seed
    spec = PRESETS["adult"].spec.model_copy(update={"steps": steps})

    ds = load_bundled("adult")
    n_classes = ds.n_classes
    x_np, y_np = ds.x, ds.y
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    rng = np.random.default_rng(seed)
    index_sets = rng.choice(len(x_np), size=(k, RECORDS_PER_MODEL), replace=True)
    epochs, sk_steps = sklearn_epochs(steps, spec.batch_size)

    # Untimed warm-up of both torch paths (first-call allocations, kernel selection).
    warm = spec.model_copy(update={"steps": 5})
    train_stack(x, y, index_sets[:2], warm, seed=seed, n_classes=n_classes)
    train_one_torch(x, y, torch.as_tensor(index_sets[0]), warm, seed, n_classes)

    log(f"stacked: {k} models x {steps} steps, {args.threads} threads ...")
    s_sec, s_params = run_stacked(x, y, index_sets, spec, seed, n_classes)
    log(f"  {s_sec:.1f} s")
    torch.set_num_threads(3 - args.threads)
    log(f"stacked: {k} models x {steps} steps, {3 - args.threads} threads ...")
    so_sec, _ = run_stacked(x, y, index_sets, spec, seed, n_classes)
    log(f"  {so_sec:.1f} s")
    torch.set_num_threads(2)
    log(f"stacked: two stacks of {k} models x {steps} steps side by side, 1 thread each ...")
    side_sec = run_side(lambda tick, i=i: run_stacked(x, y, index_sets, spec, seed + i, n_classes) for i in range(2))
    log(f"  {side_sec:.1f} s")
    torch.set_num_threads(args.threads)
    with torch_trainer():
        log(f"stacked through the torch trainer: {k} models x {steps} steps, {args.threads} threads ...")
        train_stack(x, y, index_sets[:2], warm, seed=seed, n_classes=n_classes)  # its own warm-up
        tt_sec, tt_params = run_stacked(x, y, index_sets, spec, seed, n_classes)
    log(f"  {tt_sec:.1f} s")
    other = 3 - args.baseline_threads
    m_other = min(m, 10)
    torch.set_num_threads(other)
    log(f"per-model torch loop: {m_other} models x {steps} steps, {other} threads ...")
    o_sec, _ = run_torch_loop(x, y, index_sets, spec, seed, n_classes, m_other)
    log(f"  {o_sec:.1f} s")
    torch.set_num_threads(2)
    log(f"per-model torch loop: two loops of {m_other} models x {steps} steps side by side, 1 thread each ...")
    loop_side_sec = run_side(lambda tick, i=i: run_torch_loop(x, y, index_sets, spec, seed + 1000 * i, n_classes, m_other)
                             for i in range(2))
    log(f"  {loop_side_sec:.1f} s")
    torch.set_num_threads(args.baseline_threads)
    log(f"per-model torch loop: {m} models x {steps} steps, {args.baseline_threads} threads ...")
    t_sec, t_models = run_torch_loop(x, y, index_sets, spec, seed, n_classes, m)
    log(f"  {t_sec:.1f} s")
    log(f"scikit-learn MLPClassifier: {m} models x {epochs} epochs ({sk_steps} steps) ...")
    k_sec, k_models = run_sklearn(x_np, y_np, index_sets, spec, seed, m, epochs, args.baseline_threads)
    log(f"  {k_sec:.1f} s")

    log("accuracy check (untimed) ...")
    n_eval = x.shape[0]
    acc = {
        "stacked": accuracy_stacked(s_params, x, y, spec.activation),
        "stacked_torch": accuracy_stacked(tt_params, x, y, spec.activation),
        "torch_loop": accuracy_torch(t_models, x, y),
        "sklearn": accuracy_sklearn(k_models, x_np, y_np, args.baseline_threads),
        "torch_loop_other": float("nan"),
        "stacked_other": float("nan"),
        "stacked_side": float("nan"),
        "torch_loop_side": float("nan"),
    }

    rows = [
        (f"stacked, compiled ({args.threads} thr.)", "stacked", k, steps, s_sec),
        (f"stacked, compiled ({3 - args.threads} thr.)", "stacked_other", k, steps, so_sec),
        (f"stacked, torch trainer ({args.threads} thr.)", "stacked_torch", k, steps, tt_sec),
        ("2 stacks side by side (1 thr. each)", "stacked_side", 2 * k, steps, side_sec),
        ("2 loops side by side (1 thr. each)", "torch_loop_side", 2 * m_other, steps, loop_side_sec),
        (f"per-model torch loop ({args.baseline_threads} thr.)", "torch_loop", m, steps, t_sec),
        (f"per-model torch loop ({other} thr.)", "torch_loop_other", m_other, steps, o_sec),
        (f"scikit-learn MLPClassifier ({args.baseline_threads} thr.)", "sklearn", m, sk_steps, k_sec),
    ]
    methods = {}
    for label, key, timed, st, sec in rows:
        rate = timed * st / sec
        methods[key] = {
            "label": label,
            "models_timed": timed,
            "steps_per_model": st,
            "seconds": sec,
            "model_steps_per_s": rate,
            "seconds_for_all_models": sec * k / timed,
            "scaled": timed != k,
            "mean_accuracy_all_adult": acc[key],
        }
    # Each at its best setting of the two cores: one process on 1 or 2 threads, or two side by side.
    best_loop = max(methods[key]["model_steps_per_s"] for key in ("torch_loop", "torch_loop_other", "torch_loop_side"))
    best_stacked = max(methods[key]["model_steps_per_s"] for key in ("stacked", "stacked_other", "stacked_side"))
    ratio_loop = best_stacked / best_loop
    ratio_sk = best_stacked / methods["sklearn"]["model_steps_per_s"]
    ratio_trainers = methods["stacked"]["model_steps_per_s"] / methods["stacked_torch"]["model_steps_per_s"]
    ratio_one = max(methods[key]["model_steps_per_s"] for key in ("stacked", "stacked_other")) / max(
        methods[key]["model_steps_per_s"] for key in ("torch_loop", "torch_loop_other"))
    total = time.perf_counter() - t_start

    print(f"torch {torch.__version__}, stacked {args.threads} threads, baselines {args.baseline_threads} thread(s); scikit-learn {sklearn.__version__}; "
          f"numpy {np.__version__}; python {platform.python_version()}")
    print(f"Adult network: hidden {spec.hidden} {spec.activation}, {spec.optimizer} lr {spec.lr}, "
          f"batch {spec.batch_size}; K = {k} models x {steps} steps, each on its own bootstrap "
          f"sample of {RECORDS_PER_MODEL} records (seed {seed})")
    if sk_steps != steps:
        print(f"note: scikit-learn runs whole epochs: {epochs} epochs = {sk_steps} steps per model")
    print()
    head = f"{'method':<32} {'models timed':>12} {'steps/model':>11} {'seconds':>9} {'model-steps/s':>14} {'acc':>6}"
    print(head)
    print("-" * len(head))
    for key in ("stacked", "stacked_other", "stacked_side", "stacked_torch", "torch_loop", "torch_loop_other", "torch_loop_side",
                "sklearn"):
        r = methods[key]
        print(f"{r['label']:<32} {r['models_timed']:>12} {r['steps_per_model']:>11} {r['seconds']:>9.2f} "
              f"{r['model_steps_per_s']:>14,.0f} {r['mean_accuracy_all_adult']:>6.3f}")
    print()
    print("acc: mean accuracy of the trained models on all "
          f"{n_eval} Adult records (untimed; shows every method really trained)")
    if m != k:
        print(f"NOTE: the two baselines were timed on {m} models only and scaled linearly to {k} models:")
        for key in ("torch_loop", "sklearn"):
            r = methods[key]
            print(f"  {r['label']}: {r['seconds']:.2f} s for {m} models -> ~{r['seconds_for_all_models']:.1f} s "
                  f"for {k} models (estimate)")
    print()
    print(f"stacked is {ratio_loop:.1f}x the per-model torch loop, each at its best use of the two cores (target >= 30x: "
          f"{'met' if ratio_loop >= 30 else 'NOT met'})")
    print(f"one stack against one loop, each at its faster thread setting: {ratio_one:.1f}x")
    print(f"stacked is {ratio_sk:.1f}x scikit-learn MLPClassifier (1 thread)")
    print(f"the compiled trainer is {ratio_trainers:.1f}x the torch trainer on the same stack ({args.threads} threads)")
    print(f"total run time {total:.1f} s")

    result = {
        "date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([sys.executable, *sys.argv]) if argv is None else None,
        "torch": torch.__version__,
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "torch_threads_stacked": args.threads,
        "torch_threads_baselines": args.baseline_threads,
        "spec": spec.model_dump(mode="json"),
        "models": k,
        "baseline_models": m,
        "baselines_scaled_linearly": m != k,
        "steps": steps,
        "records_per_model": RECORDS_PER_MODEL,
        "seed": seed,
        "methods": methods,
        "ratio_stacked_vs_torch_loop": ratio_loop,
        "ratio_stacked_vs_sklearn": ratio_sk,
        "ratio_one_stack_vs_one_loop": ratio_one,
        "ratio_compiled_vs_torch_trainer": ratio_trainers,
        "target_ratio_vs_torch_loop": 30.0,
        "total_seconds": total,
    }
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)
            fh.write("\n")
    return result


if __name__ == "__main__":
    main()
