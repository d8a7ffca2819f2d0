"""Train one target model for a data set's pool, as the paper's protocol does, and export it.

What a provider would deploy and an auditor would test: trained on a random half of the target
pool (the same seeded split as `gmia reproduce`), written as a model file (`gmia.models.file_format`)
with a separate members file listing the records it was trained on, so an audit's verdicts can
be checked against the truth. The members file is never served.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gmia.data import Dataset, paper_split
from gmia.base.errors import GmiaError
from gmia.models.file_format import Model
from gmia.protocol.run import target_seed, train_targets
from gmia.zoo.spec import cap_batch
from gmia.stats.signals import accuracy
from gmia.zoo import TrainSpec, ZooStore
from gmia.base.io import atomic_write_json, check_model_path


def members_path(model_path: Path) -> Path:
    return Path(model_path).with_suffix(".members.json")


def train_pool_target(dataset: Dataset, spec: TrainSpec, store: ZooStore, seed: int = 0, half: int = 0,
                 pool_size: int | None = None, progress=None, algorithm=None) -> tuple[object, np.ndarray, dict]:
    """(model, sorted member record indices, accuracies) for half ``half`` of the first pool split.

    With ``algorithm`` (a scikit-learn estimator's, `gmia.algorithms`) the model is that
    estimator fitted exactly as the protocol's target of this half (same records, same seed),
    to be written as an ONNX file; otherwise a `gmia.models.file_format.Model`.
    """
    if half not in (0, 1):
        raise GmiaError(f"pool half {half} is invalid; expected 0 or 1")
    split = paper_split(dataset, pool_size=pool_size, seed=seed)
    if algorithm is not None:
        return _fitted_target(dataset, store, split, seed, half, algorithm, progress)
    spec, _ = cap_batch(spec, split.pool.size // 2)
    zoo = train_targets(dataset, spec, store, split.pool, 2, seed, name="target", progress=progress)
    members = zoo.index_sets[half]
    model = Model.from_zoo(zoo, half, dataset.schema, info={"dataset": dataset.name, "seed": seed, "half": half,
                                                            "data_fingerprint": dataset.fingerprint()})
    inside = np.zeros(len(dataset), bool)
    inside[members] = True
    logits = model.logits(dataset.x[split.pool])[None]
    acc = {"train": float(accuracy(logits, dataset.y[split.pool], inside[split.pool][None])[0]),
           "test": float(accuracy(logits, dataset.y[split.pool], ~inside[split.pool][None])[0])}
    return model, members, acc


def _fitted_target(dataset: Dataset, store: ZooStore, split, seed: int, half: int, algorithm, progress):
    if not hasattr(algorithm, "fit_model"):
        raise GmiaError(f"algorithm {algorithm!r} cannot give a model to write; expected a scikit-learn estimator "
                        "(written as ONNX): a train function's models stay in your own code")
    zoo = train_targets(dataset, TrainSpec(), store, split.pool, 2, seed, name="target", progress=progress,
                        algorithm=algorithm)
    members = zoo.index_sets[half]
    model = algorithm.fit_model(dataset.x[members], dataset.y[members], dataset.schema, target_seed(seed, half))
    inside = np.zeros(len(dataset), bool)
    inside[members] = True
    right = zoo.outputs[half, split.pool].argmax(-1) == dataset.y[split.pool]
    acc = {"train": float(right[inside[split.pool]].mean()), "test": float(right[~inside[split.pool]].mean())}
    return model, members, acc


def write_target(model, members: np.ndarray, path: Path, dataset: Dataset) -> Path:
    """The model file (a gmia model, or an ONNX file for a scikit-learn estimator) and its members file."""
    check_model_path(path, isinstance(model, Model))
    if isinstance(model, Model):
        model.save(path)
    else:
        from gmia.models.onnx_file import save_onnx

        save_onnx(model, dataset.schema, path)
    atomic_write_json(members_path(path), {"dataset": dataset.name, "data_fingerprint": dataset.fingerprint(),
                                           "records": [int(i) for i in members]})
    return members_path(path)
