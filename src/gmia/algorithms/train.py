"""Train K models of any algorithm in parallel, one task per model, stored content-addressed.

Each model m is one task: fit the algorithm on ``index_sets[m]`` with the seed
``chunk_seed(seed, m)`` (it depends on the seed and m only, never on the worker or the order
tasks finish in), then compute its centred log-probabilities on every record of the data set.
Tasks run in worker processes (joblib's loky, one thread each: ``workers`` of them) or as Ray
tasks (``--executor ray``). Each model's outputs are written atomically the moment they arrive,
under a key that hashes the data, the algorithm (`Algorithm.key`), the index sets and the seed:
a rerun trains nothing, and an interrupted run trains only the models that never arrived.
"""

from __future__ import annotations

import hashlib
import logging
import os
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
from safetensors.numpy import load as load_bytes, save as save_bytes

from gmia.algorithms.base import Algorithm
from gmia.algorithms.outputs import OutputZoo
from gmia.data import Dataset, Schema
from gmia.base.errors import GmiaError
from gmia.base.io import atomic_write_bytes, atomic_write_json
from gmia.models.foreign import proba_logits
from gmia.zoo.store import chunk_seed

FORMAT_VERSION = 1


def default_workers() -> int:
    """Worker processes when none are asked for: one per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def outputs_key(fingerprint: str, algorithm: Algorithm, index_sets: np.ndarray, seed: int) -> str:
    h = hashlib.sha256()
    for part in (f"gmia-outputs-v{FORMAT_VERSION}", fingerprint, algorithm.key(), f"seed={seed}", str(index_sets.shape)):
        h.update(part.encode() + b"\0")
    h.update(np.ascontiguousarray(index_sets, dtype=np.int64).tobytes())
    return "out-" + h.hexdigest()[:28]


def fit_one(algorithm: Algorithm, x: np.ndarray, y: np.ndarray, schema: Schema, index_set: np.ndarray,
            seed: int) -> tuple[np.ndarray, list[str]]:
    """One model's centred log-probabilities ``[N, C]`` on every row of ``x``, and the warnings
    its fit raised ("Category: message"): the worker's task. The warnings travel back with the
    result instead of each worker printing its own (34 ConvergenceWarnings flooded one run's
    stderr); `train_outputs` reports them once."""
    from threadpoolctl import threadpool_limits

    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    with threadpool_limits(1), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        proba = algorithm.fit_proba(x[index_set], y[index_set], schema, seed, x)
    return proba_logits(proba), [f"{w.category.__name__}: {' '.join(str(w.message).split())}" for w in caught]


def report_warnings(caught: list[str], folder: Path, name: str) -> str | None:
    """One line for every warning the workers raised, the messages kept in ``folder``/warnings.log."""
    if not caught:
        return None
    atomic_write_bytes(folder / "warnings.log", ("\n".join(caught) + "\n").encode())
    counts = Counter(w.split(":", 1)[0] for w in caught)
    what = ", ".join(f"{n} {category}{'s' if n > 1 else ''}" for category, n in counts.most_common())
    line = f"training {name}: {what}; the messages are in {folder / 'warnings.log'}"
    logging.getLogger("gmia").warning(line)
    return line


def train_outputs(algorithm: Algorithm, dataset: Dataset, index_sets: np.ndarray, seed: int, store, name: str = "models",
                  progress: Callable[[str, int, int], Callable[[int], None]] | None = None) -> OutputZoo:
    """The models of ``algorithm`` on ``index_sets`` (one per row), loaded if stored, else trained.

    ``store`` is the `gmia.zoo.ZooStore` whose folder keeps them and whose executor (local or
    Ray) and ``workers`` say where they train. ``progress(description, total, done)`` returns a
    per-model callback.
    """
    index_sets = np.ascontiguousarray(index_sets, dtype=np.int64)
    key = outputs_key(dataset.fingerprint(), algorithm, index_sets, seed)
    folder = store.root / key
    k = index_sets.shape[0]
    description = algorithm.describe()
    if not (folder / "meta.json").exists():
        atomic_write_json(folder / "meta.json", {"format_version": FORMAT_VERSION, "name": name, "algorithm": description,
                                                 "data_fingerprint": dataset.fingerprint(), "seed": seed, "n_models": k,
                                                 "n_records": len(dataset), "n_classes": dataset.n_classes})
    path = [folder / f"model_{m:05d}.safetensors" for m in range(k)]
    todo = [m for m in range(k) if not path[m].exists()]
    if todo:
        tick = progress(f"training {name} ({_short(description)})", k, k - len(todo), unit="models") if progress else None

        caught: list[str] = []

        def write(m: int, result: tuple[np.ndarray, list[str]]) -> None:
            z, raised = result
            atomic_write_bytes(path[m], save_bytes({"z": np.ascontiguousarray(z, dtype=np.float32)}, metadata={"key": key}))
            caught.extend(raised)
            if tick:
                tick(1)

        jobs = [(m, index_sets[m], chunk_seed(seed, m)) for m in todo]
        executor = getattr(store, "executor", None)
        if getattr(executor, "name", "local") == "ray":
            _run_ray(executor, algorithm, dataset, jobs, write)
        else:
            _run_local(algorithm, dataset, jobs, write, getattr(store, "workers", None) or default_workers())
        report_warnings(caught, folder, name)
    outputs = np.stack([_load(p, key) for p in path])
    return OutputZoo(outputs=outputs, index_sets=index_sets, x=dataset.x, algorithm=description, key=key)


def _load(path, key: str) -> np.ndarray:
    try:
        return load_bytes(path.read_bytes())["z"]
    except Exception as exc:  # a file that is not what this module wrote
        raise GmiaError(f"stored model outputs {str(path)!r} of {key} cannot be read ({type(exc).__name__}); expected a "
                        "file written by gmia (delete it and rerun to train that model again)") from None


def _run_local(algorithm, dataset: Dataset, jobs: list, write, workers: int) -> None:
    if workers == 1 or len(jobs) == 1:
        for m, index_set, seed in jobs:
            write(m, fit_one(algorithm, dataset.x, dataset.y, dataset.schema, index_set, seed))
        return
    from joblib import Parallel, delayed

    def task(m, index_set, seed):
        return m, fit_one(algorithm, dataset.x, dataset.y, dataset.schema, index_set, seed)

    run = Parallel(n_jobs=min(workers, len(jobs)), backend="loky", return_as="generator_unordered")
    for m, result in run(delayed(task)(*job) for job in jobs):
        write(m, result)


def _run_ray(executor, algorithm, dataset: Dataset, jobs: list, write) -> None:
    ray = executor._connect()
    remote = ray.remote(num_cpus=executor.cpus_per_task, max_retries=executor.max_retries)(fit_one)
    x, y = ray.put(dataset.x), ray.put(dataset.y)
    pending = {remote.remote(algorithm, x, y, dataset.schema, index_set, seed): m for m, index_set, seed in jobs}
    for m, z in executor.completed(pending, _failed):
        write(m, z)


def _failed(m: int, exc: BaseException) -> GmiaError:
    """A model's Ray task that failed: the algorithm's own one-sentence error as it is, else one naming the model."""
    cause = getattr(exc, "cause", None) or exc
    if isinstance(cause, GmiaError):
        return cause
    return GmiaError(f"Ray task for model {m} failed ({type(cause).__name__}: {' '.join(str(cause).split())[:160]}); "
                     "the models already stored are kept and a rerun trains only the rest")


def _short(description: dict) -> str:
    name = description.get("estimator") or description.get("function") or description.get("kind", "")
    return name.rsplit(".", 1)[-1]
