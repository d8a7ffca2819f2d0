"""The two tabular data sets of the paper, shipped inside the package.

The run-time machines reach no data hub, so the UCI files are bundled
(compressed) under ``files/`` and checked against the checksums of the
originals on every load; see ``files/ATTRIBUTION.md`` and
``scripts/extract_data.py`` for where they came from.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import lzma
from importlib import resources

from typing import TYPE_CHECKING

import numpy as np

from gmia.data.schema import Dataset, Feature, Schema
from gmia.base.errors import GmiaError

if TYPE_CHECKING:  # reading the files needs pandas; naming a data set does not
    import pandas as pd

ADULT_COLUMNS = (
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation",
    "relationship", "race", "sex", "capital-gain", "capital-loss", "hours-per-week", "native-country", "income",
)  # fmt: skip
ADULT_NUMERIC = ("age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week")
ADULT_CATEGORICAL = (
    "workclass", "education", "marital-status", "occupation", "relationship", "race", "sex", "native-country",
)  # fmt: skip
CANCER_FEATURES = tuple(f"V{i}" for i in range(1, 10))


def _checksums() -> dict[str, dict]:
    """The checksum record written by ``scripts/extract_data.py`` (tests monkeypatch this)."""
    return json.loads(resources.files("gmia.data").joinpath("files", "checksums.json").read_text("utf-8"))


def read_bundled(name: str, algo: str = "md5") -> bytes:
    """Decompressed bytes of a bundled file, verified against ``checksums.json``.

    Why verify: a truncated or altered file would otherwise yield a silently
    different data set, and every cached model keyed on it would be wrong.
    """
    entry = _checksums()[name]
    blob = resources.files("gmia.data").joinpath("files", entry["file"]).read_bytes()
    raw = lzma.decompress(blob) if entry["file"].endswith(".xz") else gzip.decompress(blob)
    got = hashlib.new(algo, raw).hexdigest()
    if got != entry[algo]:
        raise GmiaError(f"bundled file {name} is corrupt: {algo} {got}, expected {entry[algo]}; reinstall gmia")
    return raw


def _adult_frame() -> pd.DataFrame:
    """All 48,842 Adult records (train then test), decoded and cleaned.

    "?" stays a category value of its own: the paper's 20,000 + 28,842 split
    uses every record, so rows with unknowns cannot be dropped.
    """
    import pandas as pd

    frames = []
    for name, skip in (("adult.data", 0), ("adult.test", 1)):  # adult.test opens with "|1x3 Cross validator"
        text = read_bundled(name, "md5").decode("ascii")
        df = pd.read_csv(io.StringIO(text), header=None, names=list(ADULT_COLUMNS), skiprows=skip,
                         dtype=str, skipinitialspace=True, keep_default_na=False)  # fmt: skip
        frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    for col in df.columns:
        df[col] = df[col].str.strip()
    df["income"] = df["income"].str.rstrip(".")
    for col in ADULT_NUMERIC:
        df[col] = df[col].astype(np.float64)
    return df


def load_adult() -> Dataset:
    """UCI Adult, encoded the paper's way: 48,842 records, D = 108.

    Numeric columns z-scored over all records (population std); categorical
    columns one-hot with sorted categories ("?" included), expanded in place in
    the original column order. Label ``income``: "<=50K" -> 0, ">50K" -> 1.
    Every numeric column holds integers in the source, so ``integer=True`` (and ``decimals=0``).
    """
    from gmia.data.csv import encode_frame

    df = _adult_frame()
    ds = encode_frame(df, name="adult", label="income", numeric=ADULT_NUMERIC, categorical=ADULT_CATEGORICAL)
    if ds.schema.classes != ("<=50K", ">50K") or len(ds) != 48842:
        raise GmiaError(f"bundled Adult decoded to classes {ds.schema.classes} and {len(ds)} rows; expected <=50K/>50K and 48842")
    return ds


def cancer_frame() -> pd.DataFrame:
    """The 699 raw Cancer records (ID, V1..V9, class); V6 has 16 missing values (NaN)."""
    import pandas as pd

    text = read_bundled("biopsy.csv", "sha256").decode("ascii")
    return pd.read_csv(io.StringIO(text), dtype={"ID": np.int64, "class": str})


def load_cancer() -> Dataset:
    """UCI Breast Cancer Wisconsin (Original), as R's ``MASS::biopsy``: 699 x 9.

    Features V1..V9 are clump thickness, uniformity of cell size, uniformity of
    cell shape, marginal adhesion, single epithelial cell size, bare nuclei,
    bland chromatin, normal nucleoli and mitoses, each valued 1..10; they are
    mapped to [0, 1] as ``(v - 1) / 9`` (``integer=True``, offset 1, scale 9),
    so encoded values lie on the 1/9 grid (``decimals=0``: shown as typed). ``ID`` is not a feature.

    CHOICE: the 16 missing V6 (bare nuclei) values are filled with the median
    of the 683 observed V6 values (1), because the paper keeps all 699
    records (200 pool + 499 adversary). Label: benign -> 0, malignant -> 1.
    Many records are exact duplicates of others; see ``duplicate_groups``.
    """
    df = cancer_frame()
    v6 = df["V6"]
    df["V6"] = v6.fillna(float(v6.dropna().median()))
    raw = df[list(CANCER_FEATURES)].to_numpy(dtype=np.float64)
    x = ((raw - 1.0) / 9.0).astype(np.float32)
    classes = ("benign", "malignant")
    y = (df["class"].to_numpy() == "malignant").astype(np.int64)
    if set(df["class"]) != set(classes):
        raise GmiaError(f"bundled Cancer has classes {sorted(set(df['class']))}; expected benign and malignant")
    feats = tuple(
        Feature(name=c, kind="numeric", group=c, low=0.0, high=1.0, integer=True, offset=1.0, scale=9.0, decimals=0)
        for c in CANCER_FEATURES
    )
    return Dataset(name="cancer", x=x, y=y, schema=Schema(features=feats, classes=classes, label="class"))
