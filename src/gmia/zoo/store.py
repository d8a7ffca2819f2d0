"""Content-addressed storage of trained stacks (safetensors + JSON, never pickle).

A stack's key hashes everything that decides its parameters: the data, the training spec, the
index sets, the seed and the chunking. It is trained in chunks of models; each chunk is written
atomically when done, so a rerun trains nothing and an interrupted run resumes from the chunks
already on disk.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from gmia.base.errors import GmiaError, option
from gmia.base.io import atomic_write_bytes, atomic_write_json, check_writable, default_cache_dir
from gmia.zoo.spec import TrainSpec
from gmia.zoo.executors import ChunkJob, LocalExecutor
from gmia.zoo.trainer import resolve_device
from gmia.zoo.zoo import Zoo

FORMAT_VERSION = 1
COMPILED_TRAINER = "compiled-1"  # bump when gmia.zoo.compiled changes what it computes


def chunk_seed(seed: int, chunk: int) -> int:
    """Per-chunk seed that depends on (seed, chunk) only, never on which process trains it."""
    return int(np.random.SeedSequence([seed, chunk]).generate_state(1, np.uint64)[0] >> 1)


class ZooStore:
    """Trains stacks on demand and keeps them under ``root/<key>/``.

    ``device`` (cpu, cuda) is where stacks train and where the stacks it returns compute their
    logits. It is not part of a stack's key: a stack is the same training recipe wherever it
    ran, so a stack trained on a GPU is reused on a CPU and the other way round.
    """

    def __init__(self, root: str | os.PathLike | None = None, executor=None, device: str = "cpu", workers: int | None = None):
        self.root = Path(root) if root is not None else default_cache_dir()
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            raise GmiaError(f"number of workers {workers!r} is invalid; expected a whole number >= 1")
        self.workers = workers  # worker processes for models that are not stacks (gmia.algorithms.train); None: one per core
        self.device = str(resolve_device(device))
        check_writable(self.root, "cache directory", f" (pass another with {option('cache-dir')})", create=True)
        self.executor = executor if executor is not None else LocalExecutor()

    @staticmethod
    def key(fingerprint: str, index_sets: np.ndarray, spec: TrainSpec, seed: int, chunk_size: int, init: str = "") -> str:
        h = hashlib.sha256()
        if init:  # a stack trained from scratch hashes as if `init` did not exist
            h.update(f"init={init}".encode() + b"\0")
        if spec.compiles:
            # Stacks of the models the compiled trainer trains on a CPU hash with its version:
            # those stored before it came from the torch passes it replaced, which differ in the
            # last bits, and a cache should not mix the two. Stacks of other models keep their
            # keys. The device stays out of the key, as above.
            h.update(f"trainer={COMPILED_TRAINER}".encode() + b"\0")
        for part in (
            f"gmia-zoo-v{FORMAT_VERSION}",
            fingerprint,
            spec.canonical_json(),
            f"seed={seed}",
            f"chunk={chunk_size}",
            str(index_sets.shape),
        ):
            h.update(part.encode())
            h.update(b"\0")
        h.update(np.ascontiguousarray(index_sets, dtype=np.int64).tobytes())
        return h.hexdigest()[:32]

    def get(
        self,
        x: np.ndarray,
        y: np.ndarray,
        fingerprint: str,
        index_sets: np.ndarray,
        spec: TrainSpec,
        seed: int,
        n_classes: int,
        chunk_size: int = 100,
        name: str = "stack",
        progress: Callable[[str, int, int], Callable[[int], None]] | None = None,
        init: Zoo | None = None,
    ) -> Zoo:
        """Load the stack if stored, else train the missing chunks and store them.

        ``progress(description, total_steps, already_done)`` returns a per-step callback.
        ``init``: continue training these models (one per index set) instead of starting
        afresh; their key is part of this stack's key.
        """
        index_sets = np.ascontiguousarray(index_sets, dtype=np.int64)
        if chunk_size < 1:
            raise GmiaError(f"chunk size {chunk_size} is not positive; expected at least 1")
        if init is not None and init.n_models != index_sets.shape[0]:
            raise GmiaError(f"{init.n_models} models to continue but {index_sets.shape[0]} index sets; expected one index set per model")
        key = self.key(fingerprint, index_sets, spec, seed, chunk_size, init.key if init is not None else "")
        folder = self.root / key
        k = index_sets.shape[0]
        chunks = [(c, s, min(s + chunk_size, k)) for c, s in enumerate(range(0, k, chunk_size))]
        meta = {
            "format_version": FORMAT_VERSION,
            "name": name,
            "data_fingerprint": fingerprint,
            "spec": spec.model_dump(mode="json"),
            "seed": seed,
            "chunk_size": chunk_size,
            "n_models": k,
            "n_records": int(x.shape[0]),
            "n_features": int(x.shape[1]),
            "n_classes": n_classes,
            "chunks": len(chunks),
            "init": init.key if init is not None else None,
            "device": self.device,
        }
        if not (folder / "meta.json").exists():
            atomic_write_json(folder / "meta.json", meta)
        todo = [ChunkJob(c, s, e, chunk_seed(seed, c)) for c, s, e in chunks
                if not (folder / f"chunk_{c:04d}.safetensors").exists()]
        if todo:
            total = k * spec.steps
            done = (k - sum(j.end - j.start for j in todo)) * spec.steps
            tick = progress(f"training {name}", total, done) if progress else None
            payload = {"x": np.ascontiguousarray(x, dtype=np.float32), "y": np.ascontiguousarray(y, dtype=np.int64),
                       "index_sets": index_sets, "spec": spec.model_dump(mode="json"), "n_classes": n_classes,
                       "init": init.params if init is not None else None, "key": key, "steps": spec.steps,
                       "device": self.device}
            self.executor.run(todo, payload, lambda job, data: atomic_write_bytes(folder / f"chunk_{job.chunk:04d}.safetensors", data), tick)
        return self.load(key)

    def folder(self, zoo: Zoo) -> Path:
        """Where a stored stack's chunks are, for files that belong with it (`gmia.stats.streamed`)."""
        folder = self.root / zoo.key
        if not zoo.key or not folder.is_dir():
            raise GmiaError(f"stack {zoo.key!r} is not stored in {str(self.root)!r}; expected a stack this store trained or loaded")
        return folder

    def load(self, key: str) -> Zoo:
        folder = self.root / key
        try:
            meta = json.loads((folder / "meta.json").read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise GmiaError(f"stored stack {key!r} in {str(self.root)!r} cannot be read ({exc}); expected a folder written by gmia") from None
        parts = [load_file(folder / f"chunk_{c:04d}.safetensors") for c in range(meta["chunks"])]
        index_sets = torch.cat([p.pop("index_sets") for p in parts]).numpy()
        params = {n: torch.cat([p[n] for p in parts]) for n in parts[0]}
        return Zoo(
            spec=TrainSpec(**meta["spec"]),
            params=params,
            index_sets=index_sets,
            n_records=meta["n_records"],
            n_classes=meta["n_classes"],
            key=key,
            device=self.device,
        )
