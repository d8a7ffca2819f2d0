"""File helpers every layer uses: atomic writes, the cache folder, writability checks.

Results and trained models are written through a temporary file in the same folder and a
rename, so a reader (or a rerun after a crash) never sees half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from gmia.base.errors import GmiaError


def default_cache_dir() -> Path:
    root = os.environ.get("GMIA_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "gmia"
    )
    return Path(root)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same folder and rename: readers never see half a file.

    The file's bytes reach the disk (fsync) before the rename, and the rename before we return
    (fsync of the folder): otherwise a power loss after the rename can leave an empty or short
    file under the final name, which a rerun would trust."""
    atomic_write_parts(path, [data])


def atomic_write_parts(path: Path, parts: Iterable[bytes]) -> None:
    """`atomic_write_bytes` of the concatenated ``parts``, written as they come, so a file larger
    than memory can be written from a generator."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            for data in parts:
                fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes files private; results are meant to be shared
        os.replace(tmp, path)
        _fsync_folder(path.parent)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable; a no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_json(path: Path, obj) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=2, sort_keys=True).encode())


def check_writable(folder: Path, what: str, hint: str = "", create: bool = False) -> None:
    """Raise one GmiaError sentence unless files can be written in ``folder``.

    With ``create`` the folder is made now; without, nothing is created and the nearest
    existing ancestor is probed (a run folder appears only once there is something to write).
    """
    folder = Path(folder)
    try:
        if create:
            folder.mkdir(parents=True, exist_ok=True)
        existing = folder
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            raise NotADirectoryError(20, "Not a directory")
        probe = existing / f".gmia-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise GmiaError(f"{what} {str(folder)!r} cannot be written ({exc.strerror}); expected a writable folder{hint}") from None


def check_model_path(path: Path, gmia_model: bool) -> None:
    """The file's suffix decides its format: ``.safetensors`` for a gmia model, ``.onnx`` for a
    scikit-learn estimator (``--algorithm``); anything else is refused before any training, so a
    file is never written under a name that says another format (gmia's own audit and serve would
    refuse it)."""
    suffix = Path(path).suffix.lower()
    expected = ".safetensors" if gmia_model else ".onnx"
    if suffix != expected:
        what = "a gmia model is written as .safetensors (an ONNX file needs --algorithm)" if gmia_model else \
            "a scikit-learn model is written as ONNX"
        raise GmiaError(f"model file {str(path)!r} has the suffix {suffix or '(none)'!r}; expected a {expected} path: {what}")
