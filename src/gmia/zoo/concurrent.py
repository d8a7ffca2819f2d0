"""Train several stacks side by side, one core each.

A stack's step is a few dozen small operations, too small for two threads to share well: on
these 2-core machines one stack on two torch threads runs a step about 1.2 times faster than on
one, while two stacks on one thread each (targets and references, which do not depend on each
other) run together about twice as fast as one after the other (benchmarks/README.md). Python
threads suffice: torch, numpy and scipy release the GIL in the arithmetic.

Each stack is still trained exactly as alone (same chunks, seeds and batches), so results and
the store's keys do not depend on whether stacks were trained together.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import TypeVar

import torch
from threadpoolctl import threadpool_limits

from gmia.zoo.spec import TrainSpec
from gmia.zoo.stacked import layer_sizes

T = TypeVar("T")
Progress = Callable[[str, int, int], Callable[[int], None]]


class Stopped(Exception):
    """Raised inside a training thread when the caller gave up (an error or Ctrl-C elsewhere)."""


# Below this many multiply-adds per step and stack, a step is all Python and dispatch overhead,
# which holds the GIL: two threads then run slower than one after the other (Cancer's stacks:
# 2.4-3.5 s side by side against 2.2 s in turn).
MIN_STEP_WORK = 1_000_000


def step_work(spec: TrainSpec, n_features: int, n_classes: int, k: int) -> int:
    """Multiply-adds of one forward step of K stacked models (the dense layers)."""
    sizes = layer_sizes(spec, n_features, n_classes)
    return k * spec.batch_size * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def run_side_by_side(tasks: list[Callable[[Progress | None], T]], progress: Progress | None,
                     worth_it: bool = True) -> list[T]:
    """Run ``tasks`` (each given a progress factory) in threads of one torch thread each.

    With a single task, a single core, or ``worth_it`` false (see `MIN_STEP_WORK`), they simply
    run in turn. If one fails or the user
    interrupts, the others stop at their next progress report (chunks already stored are
    kept; a rerun resumes), and the first error is raised.
    """
    cores = torch.get_num_threads()
    if len(tasks) < 2 or cores < 2 or not worth_it:
        return [task(progress) for task in tasks]
    stop = threading.Event()

    def watched(description: str, total: int, done: int, **kw) -> Callable[[int], None]:
        tick = progress(description, total, done, **kw) if progress else None

        def on_step(n: int) -> None:
            if stop.is_set():
                raise Stopped()
            if tick:
                tick(n)
        return on_step

    torch.set_num_threads(1)
    try:
        with threadpool_limits(1), ThreadPoolExecutor(len(tasks), thread_name_prefix="gmia-train") as pool:
            futures = [pool.submit(task, watched) for task in tasks]
            try:
                wait(futures, return_when=FIRST_EXCEPTION)
            except BaseException:  # Ctrl-C while waiting
                stop.set()
                raise
            failed = [f.exception() for f in futures if f.done() and f.exception() is not None]
            if failed:
                stop.set()
                raise next((e for e in failed if not isinstance(e, Stopped)), failed[0])
            return [f.result() for f in futures]
    finally:
        torch.set_num_threads(cores)
