"""A stack's logits and losses on a data set, streamed to the store and read back memory-mapped.

With K reference models, ``[K, N, C]`` logits and ``[K, N]`` losses grow with K (Adult, 1,024
references: 400 MB and 200 MB of float32). `stream_signals` computes them a block of models at a
time and writes each block straight to a ``.npy`` file beside the stack's chunks in the store
(`gmia.zoo.store.ZooStore.folder`), so memory holds one block whatever K is; the files are
content-addressed like the stack (its key and the data's fingerprint) and written atomically, so
a rerun maps them instead of computing again.
Readers take a block of records across every model (`StreamedSignals.losses_of`) through a
memory map opened for that block only: pages read are released with it, so the process's
resident memory stays flat too (benchmarks/reference_curve.py measures both).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gmia.base.io import atomic_write_parts
from gmia.stats.signals import log_loss
from gmia.zoo.store import ZooStore
from gmia.zoo.zoo import Zoo

MODELS_PER_BLOCK = 32  # 12.5 MB of Adult logits a block


@dataclass(frozen=True)
class StreamedSignals:
    """The ``.npy`` files of one stack on one data set: ``logits`` ``[K, N, C]`` and ``losses``
    ``[K, N]``, float32."""

    logits_path: Path
    losses_path: Path

    def logits(self) -> np.memmap:
        return np.load(self.logits_path, mmap_mode="r")

    def losses(self) -> np.memmap:
        return np.load(self.losses_path, mmap_mode="r")

    @property
    def shape(self) -> tuple[int, int]:
        """(K models, N records)."""
        return tuple(self.losses().shape)

    def losses_of(self, start: int, stop: int) -> np.ndarray:
        """Every model's losses on records ``start..stop``, ``[K, stop-start]`` in memory, read
        through a map of its own, unmapped when it goes out of scope here (nothing else holds it)."""
        return np.array(self.losses()[:, start:stop])


def _npy_header(shape: tuple[int, ...]) -> bytes:
    """The ``.npy`` header of a C-ordered float32 array of ``shape``, for writing its data after it."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)),
                                               "fortran_order": False, "shape": tuple(int(s) for s in shape)})
    return buf.getvalue()


def stream_signals(store: ZooStore, zoo: Zoo, x: np.ndarray, y: np.ndarray, fingerprint: str,
                   models_per_block: int = MODELS_PER_BLOCK) -> StreamedSignals:
    """Write (or find) the stored stack's logits and losses on ``(x, y)``, the data whose
    fingerprint is ``fingerprint``, beside its chunks, and return them."""
    folder = store.folder(zoo)
    out = StreamedSignals(folder / f"logits-{fingerprint}.npy", folder / f"losses-{fingerprint}.npy")
    k, n = zoo.n_models, len(x)
    y = np.asarray(y)

    def logits():
        yield _npy_header((k, n, zoo.n_classes))
        for start in range(0, k, models_per_block):
            part = zoo.subset(np.arange(start, min(start + models_per_block, k))).logits(x)
            yield np.ascontiguousarray(part, dtype=np.float32).tobytes()

    def losses():
        yield _npy_header((k, n))
        for start in range(0, k, models_per_block):
            part = out.logits()[start : start + models_per_block]
            yield log_loss(part, y).astype(np.float32).tobytes()

    if not out.logits_path.exists():
        atomic_write_parts(out.logits_path, logits())
    if not out.losses_path.exists():
        atomic_write_parts(out.losses_path, losses())  # from the logits file, a block at a time
    return out
