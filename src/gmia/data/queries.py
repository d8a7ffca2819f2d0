"""Random query records that honour a data set's schema (docs/algorithm.md, indirect inference).

Small feature spaces (Adult, Cancer) are sampled uniformly over the whole space: each one-hot
group gets exactly one hot value, each numeric feature a value in its observed range (on the
integer grid of the raw values where the source holds integers). Large feature spaces are
sampled around a record with Gaussian noise of scale σ. Every query, and every point the
optimisation reaches, is projected back onto valid feature values.

`QueryLog` records what is sent to a target, so the indirect attack can prove that the
record under attack never was.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from gmia.data import Schema
from gmia.base.errors import GmiaError


def project(x: np.ndarray, schema: Schema) -> np.ndarray:
    """Nearest valid records: one hot value per one-hot group (the largest), numeric values
    clipped to their observed range and, for integer raw values, rounded on that grid."""
    x = np.array(x, dtype=np.float32, copy=True)
    for group, cols in schema.groups().items():
        feats = [schema.features[c] for c in cols]
        if feats[0].kind == "onehot":
            hot = np.asarray(cols)[np.argmax(x[:, cols], axis=1)]
            x[:, cols] = 0.0
            x[np.arange(len(x)), hot] = 1.0
            continue
        for c, f in zip(cols, feats):
            v = np.clip(x[:, c], f.low, f.high)
            if f.integer and f.scale > 0:
                raw = np.round(v * f.scale + f.offset)
                v = np.clip((raw - f.offset) / f.scale, f.low, f.high)
            x[:, c] = v
    return x


def uniform_queries(schema: Schema, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` records drawn uniformly over the feature space."""
    if n < 1:
        raise GmiaError(f"number of random queries {n} is not positive; expected at least 1")
    x = np.zeros((n, schema.n_features), dtype=np.float32)
    for group, cols in schema.groups().items():
        feats = [schema.features[c] for c in cols]
        if feats[0].kind == "onehot":
            x[np.arange(n), np.asarray(cols)[rng.integers(0, len(cols), n)]] = 1.0
            continue
        for c, f in zip(cols, feats):
            if f.integer and f.scale > 0:
                lo = np.ceil(f.low * f.scale + f.offset - 1e-6)
                hi = np.floor(f.high * f.scale + f.offset + 1e-6)
                x[:, c] = (rng.integers(lo, hi + 1, n) - f.offset) / f.scale
            else:
                x[:, c] = rng.uniform(f.low, f.high, n)
    return project(x, schema)


def gaussian_queries(record: np.ndarray, schema: Schema, n: int, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` records: ``record`` plus N(0, σ²) noise on every encoded column, projected.

    σ is in encoded units (numeric columns are normalised), so it means the same for every
    numeric feature; on a one-hot group the noise can move the hot value.
    """
    if not sigma > 0:
        raise GmiaError(f"noise scale sigma={sigma} is not positive; expected sigma > 0")
    if n < 1:
        raise GmiaError(f"number of random queries {n} is not positive; expected at least 1")
    noisy = np.asarray(record, dtype=np.float32)[None, :] + rng.normal(0.0, sigma, (n, schema.n_features)).astype(np.float32)
    return project(noisy, schema)


def same_record(queries: np.ndarray, record: np.ndarray, atol: float = 1e-6) -> np.ndarray:
    """Which queries equal ``record`` (an exact duplicate, up to float rounding)."""
    return np.all(np.abs(np.asarray(queries) - np.asarray(record)[None, :]) <= atol, axis=1)



class QueryLog:
    """Wraps a target's ``predict_proba`` and keeps every query row it forwards.

    The indirect attack reaches targets only through this wrapper, so a test (and an auditor)
    can check that the record under attack, or an exact duplicate of it, was never sent.
    """

    def __init__(self, predict_proba: Callable[[np.ndarray], np.ndarray]):
        self._predict = predict_proba
        self._batches: list[np.ndarray] = []

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(np.asarray(x, dtype=np.float32))
        self._batches.append(x.copy())
        return self._predict(x)

    @property
    def queries(self) -> np.ndarray:
        if not self._batches:
            return np.empty((0, 0), dtype=np.float32)
        return np.concatenate(self._batches)

    @property
    def n_queries(self) -> int:
        return int(sum(len(b) for b in self._batches))

    def sent(self, record: np.ndarray) -> bool:
        """Whether ``record`` or an exact duplicate of it was ever queried."""
        q = self.queries
        return bool(q.size and same_record(q, record).any())
