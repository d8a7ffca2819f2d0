"""Where a call of gmia's API gets its data and its trained models: data sets by name or file,
the model store (cache folder, executor, device, workers), and the small checks every API
function makes before any model trains."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gmia.console.progress import StepProgress
from gmia.data import Dataset
from gmia.base.errors import GmiaError
from gmia.base.io import check_writable, default_cache_dir

if TYPE_CHECKING:  # the store loads torch: only once a model trains
    from gmia.zoo import ZooStore


def load_dataset(name: str | Path, schema: str | Path | None = None, cache_dir: str | Path | None = None) -> Dataset:
    """A data set by name or file.

    Parameters
    ----------
    name : str or Path
        `"adult"` or `"cancer"` (bundled), `"mnist"`, `"fashion-mnist"` (fetched into the cache
        on first use), `"cifar10"` or `"census"` (after `gmia data fetch`), or the path of a
        CSV file.
    schema : str or Path, optional
        A CSV file's JSON schema: label, numeric, categorical, impute, ignore (docs/data.md).
    cache_dir : str or Path, optional
        Where fetched data sets are kept (default `~/.cache/gmia`).

    Returns
    -------
    Dataset
        Encoded records `x [N, D]`, labels `y [N]` and the schema that encodes them.
    """
    from gmia.data import load_csv_with_schema
    from gmia.data import load_bundled
    from gmia.data.fetch import census_paths
    from gmia.data.registry import IMAGE_SETS, load_image

    text = str(name)
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if text.lower().endswith(".csv"):
        if schema is None:
            raise GmiaError(f"data file {text!r} needs a schema; expected schema=FILE.json (--schema) with its label, "
                            "numeric and categorical columns")
        return load_csv_with_schema(text, schema)
    key = text.strip().lower()
    if key in IMAGE_SETS:
        return load_image(key, root)
    if key == "census":
        csv_path, schema_path = census_paths(root)
        if not csv_path.exists():
            raise GmiaError(f"data set {text!r} is not in {str(csv_path.parent)!r} yet; expected `gmia data fetch census` "
                            "(with the same cache folder) first")
        return load_csv_with_schema(csv_path, schema_path)
    return load_bundled(text)


def _data(dataset: Dataset | str, cache_dir) -> Dataset:
    return dataset if isinstance(dataset, Dataset) else load_dataset(dataset, cache_dir=cache_dir)


def make_store(cache_dir: str | Path | None = None, executor: str = "local", ray_address: str | None = None,
               device: str = "cpu", workers: int | None = None) -> ZooStore:
    """The trained-model store: where models are cached, where they train (`"local"` or `"ray"`), on which
    device, and with how many worker processes models that are not gmia stacks train (default: one per core)."""
    from gmia.zoo import ZooStore
    from gmia.zoo.executors import make_executor

    return ZooStore(cache_dir, executor=make_executor(executor, ray_address), device=device, workers=workers)


def _progress(progress):
    """A StepProgress for ``progress=True``, the caller's own, or nothing."""
    if progress is True:
        return StepProgress()
    return progress if isinstance(progress, StepProgress) else nullcontext(None)


def _run(engine, data: Dataset, store: ZooStore, cfg, progress, **kwargs):
    """``engine(data, store, cfg, progress=..., on_stage=..., **kwargs)`` with progress shown as asked."""
    with _progress(progress) as bar:
        return engine(data, store, cfg, progress=bar.task if bar else None, on_stage=bar.stage if bar else None, **kwargs)


def _members(members, data: Dataset) -> np.ndarray:
    """Sorted record indices from an array of indices into ``data`` (a members file, a table or a
    CSV of rows is read by `gmia.auditing.roles.resolve_roles`)."""
    records = np.unique(np.asarray(members))
    if records.size and (records.dtype.kind not in "iu" or records.min() < 0 or records.max() >= len(data)):
        raise GmiaError(f"members {records[:5].tolist()} ... are not all record indices of {data.name!r}; expected whole "
                        f"numbers from 0 to {len(data) - 1} (or the path of a members file)")
    return records.astype(np.int64)


def _checked_out(out) -> Path | None:
    if out is None:
        return None
    check_writable(Path(out), "output folder")
    return Path(out)
