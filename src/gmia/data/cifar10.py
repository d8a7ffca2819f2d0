"""CIFAR-10 from the user's own files, and the unpickler that reads them safely.

No package registry has CIFAR-10, so the user passes the standard files: the python batches
(pickles) or the binary version, as a folder or the archive they came in. The pickles are read
by `NumpyOnlyUnpickler`, which can build numpy arrays and nothing else: a pickle can run any
code when loaded, and these come from outside. The set is stored in the cache as ``.npy`` arrays
(read back with ``allow_pickle=False``) and a JSON file with the class names.
"""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path

import numpy as np

from gmia.data.archives import first_line, from_tar, read_file
from gmia.data.image_cache import CIFAR_FILES, Progress, already_fetched, image_dir, write_cached
from gmia.base.errors import GmiaError

CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR_PY = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)
CIFAR_BIN = tuple(f"{n}.bin" for n in CIFAR_PY)
CIFAR_PIXELS = 3 * 32 * 32


def _latin1_encode(text: str, encoding: str = "utf-8") -> bytes:
    """Stand-in for ``_codecs.encode``, which Python 3 pickles (protocol < 3) use to rebuild bytes;
    only the latin-1 round trip they need is allowed."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"_codecs.encode with {encoding!r}; expected latin1")
    return text.encode("latin1")


def _numpy_globals() -> dict[tuple[str, str], object]:
    """The only globals a pickled batch may name: what rebuilds ndarrays, dtypes and numpy scalars,
    under numpy 1 and numpy 2 module names (pickles record where they were written)."""
    try:
        from numpy._core import multiarray, numeric
    except ImportError:  # numpy < 2
        from numpy.core import multiarray, numeric
    table: dict[tuple[str, str], object] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
                                            ("_codecs", "encode"): _latin1_encode}
    for package in ("numpy.core", "numpy._core"):
        table[(f"{package}.multiarray", "_reconstruct")] = multiarray._reconstruct
        table[(f"{package}.multiarray", "scalar")] = multiarray.scalar
        table[(f"{package}.numeric", "_frombuffer")] = numeric._frombuffer
    return table


class NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler that can build dicts, lists, numbers, bytes and numpy arrays, and nothing else.

    ``pickle.load`` imports and calls whatever a file names, so loading a stranger's pickle can run
    any code; here every global outside `_numpy_globals` is refused before it is imported.
    Strings of Python 2 pickles (the CIFAR-10 batches) load as bytes.
    """

    def __init__(self, fh, what: str):
        super().__init__(fh, encoding="bytes")
        self.what = what
        self.allowed = _numpy_globals()

    def find_class(self, module: str, name: str):
        found = self.allowed.get((module, name))
        if found is None:
            raise GmiaError(f"{self.what} asks to load the Python global {module}.{name}; expected only the numpy "
                            "array types of a CIFAR-10 batch (nothing in the file was run)")
        return found

    def persistent_load(self, pid):
        raise GmiaError(f"{self.what} holds a persistent reference; expected a plain CIFAR-10 batch")


def load_restricted_pickle(blob: bytes, what: str):
    """Unpickle ``blob`` with `NumpyOnlyUnpickler`; any failure is one sentence naming ``what``."""
    try:
        return NumpyOnlyUnpickler(io.BytesIO(blob), what).load()
    except GmiaError:
        raise
    except Exception as exc:  # a damaged pickle fails in many ways; none may escape as a traceback
        raise GmiaError(f"{what} cannot be unpickled ({type(exc).__name__}: {first_line(exc)}); "
                        "expected a CIFAR-10 python batch") from None


def _text_keys(obj, what: str) -> dict:
    if not isinstance(obj, dict):
        raise GmiaError(f"{what} holds a {type(obj).__name__}; expected a dict with data and labels")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _cifar_py_batch(blob: bytes, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 [n, 3, 32, 32] and labels of one python batch (rows are 1024 R, 1024 G, 1024 B)."""
    batch = _text_keys(load_restricted_pickle(blob, what), what)
    data, labels = batch.get("data"), batch.get("labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != CIFAR_PIXELS:
        shown = f"{data.dtype} of shape {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise GmiaError(f"{what} has data {shown}; expected uint8 [n, {CIFAR_PIXELS}]")
    return data.reshape(-1, 3, 32, 32), _cifar_labels(labels, len(data), what)


def _cifar_labels(labels, n: int, what: str) -> np.ndarray:
    try:
        arr = np.asarray(labels)
    except Exception:
        arr = np.zeros(0, dtype=object)
    if arr.ndim != 1 or len(arr) != n or not np.issubdtype(arr.dtype, np.integer):
        raise GmiaError(f"{what} has labels of shape {arr.shape} ({arr.dtype}); expected {n} integers 0..9")
    if n and (arr.min() < 0 or arr.max() > 9):
        raise GmiaError(f"{what} has labels from {arr.min()} to {arr.max()}; expected 0..9")
    return arr.astype(np.uint8)


def _cifar_bin_batch(blob: bytes, what: str) -> tuple[np.ndarray, np.ndarray]:
    """One binary batch: rows of 1 label byte and 3,072 pixel bytes (no pickle involved)."""
    row = 1 + CIFAR_PIXELS
    if len(blob) == 0 or len(blob) % row:
        raise GmiaError(f"{what} has {len(blob)} bytes; expected a positive multiple of {row} (one label byte and "
                        f"{CIFAR_PIXELS} pixel bytes per image)")
    rows = np.frombuffer(blob, dtype=np.uint8).reshape(-1, row)
    return rows[:, 1:].reshape(-1, 3, 32, 32).copy(), _cifar_labels(rows[:, 0], len(rows), what)


def _cifar_classes(meta: bytes | None, kind: str, what: str) -> tuple[str, ...]:
    """Class names from batches.meta (python) or batches.meta.txt (binary), else the standard ones."""
    if meta is None:
        return CIFAR_CLASSES
    if kind == "python":
        names = _text_keys(load_restricted_pickle(meta, what), what).get("label_names")
    else:
        names = [ln.strip() for ln in meta.decode("utf-8", "replace").splitlines() if ln.strip()]
    if not isinstance(names, list) or len(names) != 10 or not all(isinstance(v, (str, bytes)) for v in names):
        raise GmiaError(f"{what} does not list 10 class names; expected CIFAR-10's label_names")
    return tuple(v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in names)


def _cifar_files(source: Path) -> tuple[str, dict[str, bytes], bytes | None]:
    """('python' | 'binary', batch name -> bytes, meta bytes or None) from a folder (or its
    standard cifar-10-batches-py / -bin subfolder) or the downloaded .tar.gz."""
    expected = ("the CIFAR-10 python batches (data_batch_1..5, test_batch, batches.meta) or binary batches "
                "(data_batch_1.bin..5.bin, test_batch.bin)")
    if source.is_file():
        blob = read_file(source, "source")
        for kind, names, meta in (("python", CIFAR_PY, "batches.meta"), ("binary", CIFAR_BIN, "batches.meta.txt")):
            try:
                files = from_tar(blob, names, f"source {str(source)!r}", expected)
            except GmiaError:
                continue
            try:
                extra = from_tar(blob, (meta,), f"source {str(source)!r}", expected)[meta]
            except GmiaError:
                extra = None
            return kind, files, extra
        raise GmiaError(f"source {str(source)!r} is not a tar archive holding {expected}")
    if not source.is_dir():
        raise GmiaError(f"source {str(source)!r} does not exist; expected a folder holding {expected}")
    for folder in (source, source / "cifar-10-batches-py", source / "cifar-10-batches-bin"):
        for kind, names, meta in (("python", CIFAR_PY, "batches.meta"), ("binary", CIFAR_BIN, "batches.meta.txt")):
            if (folder / names[0]).is_file():
                files = {n: read_file(folder / n, "source file") if (folder / n).is_file() else None for n in names}
                missing = [n for n, v in files.items() if v is None]
                if missing:
                    raise GmiaError(f"source folder {str(folder)!r} has no {missing[0]}; expected {expected}")
                extra = read_file(folder / meta, "source file") if (folder / meta).is_file() else None
                return kind, files, extra
    raise GmiaError(f"source folder {str(source)!r} has no data_batch_1 or data_batch_1.bin; expected {expected}")


def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(arr), allow_pickle=False)
    return buf.getvalue()


def fetch_cifar10(cache_root: Path, source: Path | None = None, progress: Progress = print) -> Path:
    """Put CIFAR-10 in ``cache_root/data/cifar10`` as .npy arrays (once) and return that folder.

    ``source`` is required (no registry here has CIFAR-10): a folder of the python batches or of
    the binary ones, or the archive they came in. Pickles are read with `NumpyOnlyUnpickler`.
    """
    if already_fetched(cache_root, "cifar10", progress):
        return image_dir(cache_root, "cifar10")
    if source is None:
        raise GmiaError("CIFAR-10 cannot be downloaded here; expected its files on disk: gmia data fetch cifar10 "
                        "--source DIR, DIR holding the python batches (data_batch_1..5, test_batch, batches.meta) "
                        "or the binary ones (data_batch_1.bin..5.bin, test_batch.bin)")
    source = Path(source)
    kind, files, meta = _cifar_files(source)
    parse = _cifar_py_batch if kind == "python" else _cifar_bin_batch
    batches = {n: parse(blob, f"CIFAR-10 file {n!r}") for n, blob in files.items()}
    meta_name = "batches.meta" if kind == "python" else "batches.meta.txt"
    classes = _cifar_classes(meta, kind, f"CIFAR-10 file {meta_name!r}")
    train = [batches[n] for n in list(files)[:5]]
    test = batches[list(files)[5]]
    parts = {"train_images.npy": np.concatenate([b[0] for b in train]), "train_labels.npy": np.concatenate([b[1] for b in train]),
             "test_images.npy": test[0], "test_labels.npy": test[1]}
    folder = image_dir(cache_root, "cifar10")
    for fname, arr in parts.items():
        write_cached(folder / fname, _npy_bytes(arr))
    meta_out = {"classes": list(classes), "source": kind, "train": len(parts["train_labels.npy"]),
                "test": len(parts["test_labels.npy"])}
    write_cached(folder / "meta.json", json.dumps(meta_out, indent=2).encode())  # written last: marks the copy complete
    progress(f"cifar10: {meta_out['train']} training and {meta_out['test']} test images of 32x32x3 ({kind} batches), "
             f"written to {folder}")
    return folder



def read_cached_cifar10(cache_root: Path) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """uint8 images [N, 3, 32, 32] (training then test), labels [N] and class names from the cache."""
    folder = image_dir(cache_root, "cifar10")
    parts = {}
    for fname in CIFAR_FILES[:4]:
        try:
            parts[fname] = np.load(folder / fname, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise GmiaError(f"cached file {str(folder / fname)!r} cannot be read ({first_line(exc)}); expected a .npy array "
                            "written by `gmia data fetch cifar10` (delete the folder and fetch again)") from None
    try:
        classes = tuple(json.loads((folder / "meta.json").read_text())["classes"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise GmiaError(f"cached file {str(folder / 'meta.json')!r} cannot be read ({first_line(exc)}); expected the class "
                        "names written by `gmia data fetch cifar10`") from None
    images = np.concatenate([parts["train_images.npy"], parts["test_images.npy"]])
    labels = np.concatenate([parts["train_labels.npy"], parts["test_labels.npy"]])
    return images, labels, classes


__all__ = ["CIFAR_CLASSES", "NumpyOnlyUnpickler", "fetch_cifar10", "load_restricted_pickle", "read_cached_cifar10"]
