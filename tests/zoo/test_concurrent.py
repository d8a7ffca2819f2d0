"""Stacks trained side by side (gmia.zoo.concurrent) are the stacks trained alone."""

import threading

import numpy as np
import pytest
import torch

from gmia.zoo import TrainSpec, ZooStore
from gmia.zoo.concurrent import Stopped, run_side_by_side, step_work


def test_side_by_side_gives_the_stacks_trained_in_turn(blobs, tmp_path, two_torch_threads):
    x, y = blobs
    spec = TrainSpec(hidden=(6,), optimizer="sgd", lr=0.05, steps=40, batch_size=10)
    sets = [np.random.default_rng(s).integers(0, len(x), size=(4, 60)) for s in (0, 1)]

    def tasks(store):
        return [lambda tick, s=s, i=i: store.get(x, y, "blobs", s, spec, seed=i, n_classes=2, progress=tick)
                for i, s in enumerate(sets)]

    seen = []
    progress = lambda desc, total, done: (lambda n: seen.append((threading.current_thread().name, n)))  # noqa: E731
    together = run_side_by_side(tasks(ZooStore(tmp_path / "a")), progress)
    alone = [task(None) for task in tasks(ZooStore(tmp_path / "b"))]
    for a, b in zip(together, alone):
        assert a.key == b.key
        for name in a.params:
            assert torch.equal(a.params[name], b.params[name])
    assert {name for name, _ in seen} >= {"gmia-train_0", "gmia-train_1"}  # really in two threads
    assert sum(n for _, n in seen) == 2 * 4 * spec.steps  # progress adds up across both
    assert torch.get_num_threads() == 2  # restored


def test_a_failure_stops_the_other_stack_and_is_raised(two_torch_threads):
    started = threading.Event()

    def long(progress):
        tick = progress("long", 10**6, 0)
        started.set()
        for _ in range(10**6):
            threading.Event().wait(0.001)
            tick(1)  # raises Stopped once the other task failed
        return "finished"

    def fails(progress):
        started.wait(5)
        raise ValueError("bad chunk")

    with pytest.raises(ValueError, match="bad chunk"):
        run_side_by_side([long, fails], None)


def test_tiny_steps_run_in_turn_in_this_thread(two_torch_threads):
    names = run_side_by_side([lambda p: threading.current_thread().name] * 2, None, worth_it=False)
    assert names == [threading.current_thread().name] * 2
    assert step_work(TrainSpec(hidden=(10, 5), batch_size=100), 108, 2, 100) == 100 * 100 * (1080 + 50 + 10)
    assert issubclass(Stopped, Exception)


@pytest.fixture
def two_torch_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)
