"""The paper's split of a data set into a target pool and the adversary's records.

GMIA's protocol trains target models on halves of a *pool* and gives the
adversary the remaining records as reference data; the two parts must be
disjoint and cover the data set. Adult: 20,000 pool / 28,842 adversary;
Cancer: 200 pool / 499 adversary.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gmia.data.registry import DATASETS
from gmia.data.schema import Dataset
from gmia.base.errors import GmiaError


@dataclass(frozen=True)
class Split:
    """Sorted int64 indices into a data set: ``pool`` and ``adversary`` partition it."""

    pool: np.ndarray
    adversary: np.ndarray
    seed: int


def default_pool_size(dataset: Dataset) -> int:
    """The paper's pool size for a bundled set, else half the records (rounded down to even).

    A user CSV that happens to be named "adult" only gets Adult's pool size if
    it also has Adult's number of records.
    """
    info = DATASETS.get(dataset.name)
    if info is not None and info.get("n_records") == len(dataset):
        return int(info["pool_size"])
    half = len(dataset) // 2
    return half - half % 2


def paper_split(dataset: Dataset, pool_size: int | None = None, seed: int = 0) -> Split:
    """Random partition of ``dataset`` with ``np.random.default_rng(seed)``.

    Parameters
    ----------
    pool_size : int, optional
        Records in the target pool; must be even (the pool is halved per
        target) and ``2 <= pool_size < len(dataset)`` (the adversary needs
        records). Defaults to `default_pool_size`.
    seed : int
        Non-negative; the same seed always gives the same split.
    """
    n = len(dataset)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise GmiaError(f"split seed {seed!r} is invalid; expected a non-negative integer")
    if pool_size is None:
        pool_size = default_pool_size(dataset)
    if isinstance(pool_size, bool) or not isinstance(pool_size, (int, np.integer)):
        raise GmiaError(f"pool size {pool_size!r} is not an integer; expected an even integer from 2 to {n - 1}")
    if pool_size % 2 or not 2 <= pool_size < n:
        raise GmiaError(
            f"pool size {pool_size} is invalid for data set {dataset.name!r} with {n} records; expected an even integer from 2 to {n - 1}"
        )
    perm = np.random.default_rng(int(seed)).permutation(n)
    pool = np.sort(perm[:pool_size]).astype(np.int64)
    adversary = np.sort(perm[pool_size:]).astype(np.int64)
    return Split(pool=pool, adversary=adversary, seed=int(seed))
