"""Data sets by name, with the paper's pool sizes.

``DATASETS`` is the single place that knows each named set's protocol
constants, so the CLI, the split and the reports cannot disagree on them.
Adult and Cancer are bundled (`load_bundled`); the image sets live in
the cache (`load_image`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Callable

from gmia.data.bundled import load_adult, load_cancer
from gmia.data.fetch_images import IMAGE_SETS, fetch_image_set, image_dir, is_fetched, read_cached
from gmia.data.images import image_dataset
from gmia.data.schema import Dataset
from gmia.base.errors import GmiaError

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
    "mnist": {
        "pool_size": 20000,
        "n_records": 70000,
        "description": "MNIST handwritten digits, 70,000 images (60,000 train + 10,000 test) of 28x28 grey pixels, 10 classes",
        "citation": "LeCun, Y. & Cortes, C. (1998). The MNIST database of handwritten digits. http://yann.lecun.com/exdb/mnist/ "
                    "(usually cited as CC BY-SA 3.0)",
    },
    "fashion-mnist": {
        "pool_size": 20000,
        "n_records": 70000,
        "description": "Fashion-MNIST Zalando article images, 70,000 (60,000 train + 10,000 test) of 28x28 grey pixels, 10 classes",
        "citation": "Xiao, H., Rasul, K. & Vollgraf, R. (2017). Fashion-MNIST: a Novel Image Dataset for Benchmarking Machine "
                    "Learning Algorithms. arXiv:1708.07747. (c) 2017 Zalando SE, MIT licence",
    },
    "cifar10": {
        "pool_size": 20000,
        "n_records": 60000,
        "description": "CIFAR-10 colour images, 60,000 (50,000 train + 10,000 test) of 32x32x3 pixels, 10 classes",
        "citation": "Krizhevsky, A. (2009). Learning Multiple Layers of Features from Tiny Images. Technical report, "
                    "University of Toronto. https://www.cs.toronto.edu/~kriz/cifar.html",
    },
}

_LOADERS: dict[str, Callable[[], Dataset]] = {"adult": load_adult, "cancer": load_cancer}


def dataset_name(name, schema=None) -> str:
    """The name `gmia.api.load_dataset` gives the data set ``name`` (with a CSV's ``schema``
    file), without reading it: a command resolves its configuration (the data set's preset) before
    the data loads. A CSV's name is its schema's ``"name"``, else the file's stem."""
    text = str(name)
    if not text.lower().endswith(".csv"):
        return text.strip().lower()
    try:
        given = json.loads(Path(schema).read_text(encoding="utf-8")).get("name") if schema is not None else None
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        given = None  # the loader says what is wrong with the file
    return given if isinstance(given, str) and given else Path(text).stem


def load_bundled(name: str) -> Dataset:
    """Load a bundled data set by name (case and surrounding spaces ignored).

    User CSV files go through `gmia.data.load_csv` instead, because they
    need their column roles declared.
    """
    key = str(name).strip().lower()
    if key in IMAGE_SETS:
        raise GmiaError(f"data set {name!r} is read from the cache; expected load_image({key!r}, cache_root) "
                        f"(on the command line: --dataset {key})")
    if key not in _LOADERS:
        raise GmiaError(f"unknown data set {name!r}; expected one of: {', '.join(sorted(_LOADERS))}")
    return _LOADERS[key]()


def _to_stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def load_image(name: str, cache_root: Path, progress: Callable[[str], None] = _to_stderr) -> Dataset:
    """An image set from the cache (training then test records), as a `Dataset`.

    MNIST and Fashion-MNIST are fetched into the cache first when missing (once, with one line to
    ``progress``, stderr by default so piped output stays clean); CIFAR-10 has to be fetched by
    hand from the user's files, since no registry here has it.
    """
    key = str(name).strip().lower()
    if key not in IMAGE_SETS:
        raise GmiaError(f"unknown image data set {name!r}; expected one of: {', '.join(IMAGE_SETS)}")
    cache_root = Path(cache_root)
    if not is_fetched(cache_root, key):
        folder = image_dir(cache_root, key)
        if key == "cifar10":
            raise GmiaError(f"data set 'cifar10' is not in {str(folder)!r} yet; expected `gmia data fetch cifar10 "
                            "--source DIR` (with the same --cache-dir) first, DIR holding the CIFAR-10 batches")
        progress(f"{key} is not in {folder} yet: fetching it once")
        fetch_image_set(key, cache_root, None, progress=lambda text: None)
    images, labels, classes = read_cached(cache_root, key)
    return image_dataset(key, images, labels, classes)
