"""A user's own training function as the algorithm of reference models.

``train(X, y, seed) -> model``: ``X`` the encoded rows ``[n, D]`` float32, ``y`` labels 0..C-1,
``seed`` the model's seed; the model it returns has ``predict_proba(X)`` (probabilities in class
order), or is a ``torch.nn.Module`` whose outputs are class logits (softmax is applied). This
is how a torch network with BatchNorm, GELU or anything else trains its references: gmia never
has to understand it, only to call it once per reference model.

The function is identified by its module, name and source code: change the code and the
stored outputs of its models are not reused.
"""

from __future__ import annotations

import hashlib
import inspect

import numpy as np

from gmia.algorithms.base import SameByKey, digest, qualname
from gmia.data import Schema
from gmia.base.errors import GmiaError
from gmia.models.foreign import PROBA_FLOOR, module_proba


class TrainFunction(SameByKey):
    """``train(X, y, seed) -> model with predict_proba`` (or a torch module of logits)."""

    def __init__(self, train, name: str | None = None):
        if not callable(train):
            raise GmiaError(f"training function {train!r} is not callable; expected train(X, y, seed) -> model with predict_proba")
        self.train = train
        self.name = name or qualname(train)
        try:
            self.source_sha256 = hashlib.sha256(inspect.getsource(train).encode()).hexdigest()
        except (OSError, TypeError):  # defined where its source cannot be read (a REPL): known by name only
            self.source_sha256 = None

    def describe(self) -> dict:
        return {"kind": "function", "function": self.name, "source_sha256": self.source_sha256}

    def key(self) -> str:
        return digest("function", self.describe())

    def fit_proba(self, x: np.ndarray, y: np.ndarray, schema: Schema, seed: int, queries: np.ndarray) -> np.ndarray:
        model = self.train(np.ascontiguousarray(x, dtype=np.float32), np.asarray(y, dtype=np.int64), int(seed))
        proba = _proba(model, np.ascontiguousarray(queries, dtype=np.float32), schema.classes, self.name)
        n = len(schema.classes)
        if proba.shape != (len(queries), n):
            raise GmiaError(f"the model from {self.name} answered shape {proba.shape} for {len(queries)} records; expected "
                            f"({len(queries)}, {n}): one probability per class {list(schema.classes)}")
        if not np.isfinite(proba).all() or proba.min() < -PROBA_FLOOR or proba.max() > 1 + 1e-6:
            raise GmiaError(f"the model from {self.name} answered values outside [0, 1]; expected probabilities "
                            "(return a model whose predict_proba gives them, or a torch module of logits)")
        return proba

    def __repr__(self) -> str:
        return f"TrainFunction({self.name})"


def _proba(model, x: np.ndarray, classes, name: str) -> np.ndarray:
    if hasattr(model, "predict_proba"):
        return np.asarray(model.predict_proba(x), dtype=np.float64)
    import torch

    if isinstance(model, torch.nn.Module):
        return module_proba(model, x, classes, name=f"the module from {name}")
    raise GmiaError(f"the training function returned a {type(model).__name__}; expected a model with predict_proba(X) "
                    "or a torch.nn.Module of class logits")
