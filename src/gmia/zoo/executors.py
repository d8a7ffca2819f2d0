"""Where stacks are trained: in this process (``local``, the default) or on a Ray cluster (``ray``).

Both train the same chunks with the same per-chunk seeds (`gmia.zoo.store.chunk_seed`
depends on the seed and the chunk index only), so a stack is the same bit for bit whichever
executor trained it. A Ray task trains one chunk and returns it serialised; the driver writes it
into the content-addressed store as soon as it arrives, so the store needs no shared file
system, and a rerun after any failure trains only the chunks that never arrived. A task whose
worker dies is retried by Ray (``max_retries``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from safetensors.torch import save

from gmia.base.errors import GmiaError, option
from gmia.base.extras import require

EXECUTORS = ("local", "ray")
RAY_FEATURE = "the Ray executor (--executor ray)"  # what a missing ray is reported for


@dataclass(frozen=True)
class ChunkJob:
    """One chunk of a stack: models ``start..end`` of ``index_sets``, trained with ``seed``."""

    chunk: int
    start: int
    end: int
    seed: int


def train_chunk_bytes(x: np.ndarray, y: np.ndarray, index_sets: np.ndarray, spec_json: dict, seed: int, n_classes: int,
                      init: dict | None, key: str, chunk: int, threads: int | None = None,
                      on_step: Callable[[int], None] | None = None, device: str = "cpu") -> bytes:
    """Train one chunk on ``device`` and return its safetensors bytes (the store's chunk file)."""
    from gmia.zoo.spec import TrainSpec
    from gmia.zoo.trainer import train_stack

    if threads is not None:
        torch.set_num_threads(threads)
    # A read-only array (np.load(mmap_mode="r"), a frozen data set) cannot be shared with torch
    # without a warning; training reads it only, but a copy keeps the user's stderr clean.
    x, y = (a if a.flags.writeable else a.copy() for a in (np.asarray(x), np.asarray(y)))
    params = train_stack(torch.as_tensor(x), torch.as_tensor(y), index_sets, TrainSpec(**spec_json), seed, n_classes,
                         init=init, on_step=on_step, device=device)
    tensors = {n: p.contiguous() for n, p in params.items()}
    tensors["index_sets"] = torch.from_numpy(np.ascontiguousarray(index_sets, dtype=np.int64))
    return save(tensors, metadata={"key": key, "chunk": str(chunk)})


def train_chunk_on_node(*args, **kwargs) -> tuple[bytes, str]:
    """`train_chunk_bytes` as a Ray task, with the id of the node that trained the chunk (so a
    run can say how its chunks spread over the cluster)."""
    import ray

    return train_chunk_bytes(*args, **kwargs), ray.get_runtime_context().get_node_id()


class LocalExecutor:
    """Chunks one after another in this process, with per-step progress."""

    name = "local"

    def run(self, jobs: list[ChunkJob], payload: dict, write: Callable[[ChunkJob, bytes], None],
            tick: Callable[[int], None] | None) -> None:
        for job in jobs:
            m = job.end - job.start
            data = train_chunk_bytes(
                payload["x"], payload["y"], payload["index_sets"][job.start : job.end], payload["spec"], job.seed,
                payload["n_classes"], _init_slice(payload["init"], job), payload["key"], job.chunk,
                on_step=(lambda n, m=m: tick(n * m)) if tick else None, device=payload["device"],
            )
            write(job, data)


def _init_slice(init: dict | None, job: ChunkJob) -> dict | None:
    return None if init is None else {n: p[job.start : job.end] for n, p in init.items()}


class RayExecutor:
    """One Ray task per chunk on the cluster at ``address`` (``None``: start one on this machine).

    ``cpus_per_task`` is also the task's torch thread count. Progress advances by whole chunks.
    With ``--device cuda`` each task asks Ray for one GPU, so a task runs only where one is free.
    """

    name = "ray"

    def __init__(self, address: str | None = "auto", cpus_per_task: int = 1, max_retries: int = 3,
                 init_kwargs: dict | None = None):
        require("ray", "ray", RAY_FEATURE)  # fail at setup, not after the first training stage
        if cpus_per_task < 1 or max_retries < 0:
            raise GmiaError(f"cpus per task {cpus_per_task} and retries {max_retries} are invalid; expected >= 1 and >= 0")
        self.address, self.cpus_per_task, self.max_retries = address, cpus_per_task, max_retries
        self.init_kwargs = init_kwargs or {}
        self.chunks_by_node: dict[str, int] = {}  # node id -> chunks it trained (and returned), over this executor's runs

    def completed(self, pending: dict, failure: Callable[[object, BaseException], Exception]):
        """``(job, value)`` for each Ray task of ``pending`` (object ref -> job) as it finishes. A task
        that failed after its retries cancels the rest and raises ``failure(job, exc)``: what
        arrived before is the caller's to keep, so a rerun does only the rest. The one wait loop of
        every Ray caller (chunks of stacks here, one model per task in `gmia.algorithms.train`)."""
        ray = self._connect()
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            job = pending.pop(done[0])
            try:
                value = ray.get(done[0])
            except Exception as exc:
                for ref in pending:
                    ray.cancel(ref, force=True)
                raise failure(job, exc) from None
            yield job, value

    def _connect(self):
        ray = require("ray", "ray", RAY_FEATURE)
        if not ray.is_initialized():
            kwargs = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False, **self.init_kwargs}
            try:
                ray.init(address=self.address, **kwargs)
            except ConnectionError as exc:
                raise GmiaError(f"no Ray cluster at {self.address!r} ({' '.join(str(exc).split())[:200]}); expected a running "
                                "cluster (`ray start --head`) or --ray-address local to start one here") from None
        return ray

    def run(self, jobs: list[ChunkJob], payload: dict, write: Callable[[ChunkJob, bytes], None],
            tick: Callable[[int], None] | None) -> None:
        ray = self._connect()
        gpus = 1 if payload["device"].startswith("cuda") else 0
        task = ray.remote(num_cpus=self.cpus_per_task, num_gpus=gpus, max_retries=self.max_retries)(train_chunk_on_node)
        shared = {name: ray.put(payload[name]) for name in ("x", "y")}
        pending = {}
        for job in jobs:
            ref = task.remote(shared["x"], shared["y"], payload["index_sets"][job.start : job.end], payload["spec"],
                              job.seed, payload["n_classes"], _init_slice(payload["init"], job), payload["key"], job.chunk,
                              self.cpus_per_task, device="cuda" if gpus else "cpu")
            pending[ref] = job
        def failed(job: ChunkJob, exc: BaseException) -> GmiaError:
            return GmiaError(f"Ray task for chunk {job.chunk} failed after {self.max_retries} retries "
                             f"({type(exc).__name__}); the chunks already stored are kept and a rerun trains only the rest")

        for job, (data, node) in self.completed(pending, failed):
            write(job, data)
            self.chunks_by_node[node] = self.chunks_by_node.get(node, 0) + 1
            if tick:
                tick((job.end - job.start) * payload["steps"])


def make_executor(name: str, address: str | None = None) -> LocalExecutor | RayExecutor:
    if name == "local":
        if address is not None:
            raise GmiaError(f"{option('ray-address')} is given but the executor is local; expected "
                            f"{option('executor', 'ray')} with it")
        return LocalExecutor()
    if name == "ray":
        address = address or os.environ.get("RAY_ADDRESS") or "auto"
        if address not in ("auto", "local"):
            _check_reachable(address)
        return RayExecutor(address=None if address == "local" else address)
    raise GmiaError(f"unknown executor {name!r}; expected one of: {', '.join(EXECUTORS)}")


def _check_reachable(address: str, timeout: float = 3.0) -> None:
    """Fail in seconds on a wrong HOST:PORT: Ray itself retries an unreachable head for minutes."""
    import socket

    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise GmiaError(f"Ray address {address!r} is not HOST:PORT; expected auto, local, or e.g. 10.0.0.5:6379")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise GmiaError(f"no Ray cluster answers at {address} ({exc.strerror or exc}); expected the head node's "
                        "address (`ray start --head` prints it), auto, or local to start one here") from None
