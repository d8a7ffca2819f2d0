"""Bundled data sets by name, with the paper's pool sizes.

``DATASETS`` is the single place that knows each bundled set's protocol
constants, so the CLI, the split and the reports cannot disagree on them.
"""

from __future__ import annotations

from typing import Callable

from gmia.data.bundled import load_adult, load_cancer
from gmia.data.schema import Dataset
from gmia.errors import GmiaError

DATASETS: dict[str, dict] = {
    "adult": {
        "pool_size": 20000,
        "n_records": 48842,
        "description": "UCI Adult census income, 48,842 records (train + test), 108 encoded features, label income >50K",
        "citation": "Becker, B. & Kohavi, R. (1996). Adult. UCI Machine Learning Repository. https://doi.org/10.24432/C5XW20",
    },
    "cancer": {
        "pool_size": 200,
        "n_records": 699,
        "description": "UCI Breast Cancer Wisconsin (Original), 699 records, 9 features valued 1-10, benign/malignant",
        "citation": "Wolberg, W. (1992). Breast Cancer Wisconsin (Original). UCI Machine Learning Repository. https://doi.org/10.24432/C5HP4Z",
    },
}

_LOADERS: dict[str, Callable[[], Dataset]] = {"adult": load_adult, "cancer": load_cancer}


def load_dataset(name: str) -> Dataset:
    """Load a bundled data set by name (case and surrounding spaces ignored).

    User CSV files go through :func:`gmia.data.load_csv` instead, because they
    need their column roles declared.
    """
    key = str(name).strip().lower()
    if key not in _LOADERS:
        raise GmiaError(f"unknown data set {name!r}; expected one of: {', '.join(sorted(DATASETS))}")
    return _LOADERS[key]()
