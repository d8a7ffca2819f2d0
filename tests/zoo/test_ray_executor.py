"""Training through a local Ray cluster (loopback, no dashboard, 2 CPUs) equals local training."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import numpy as np
import pytest
import torch

from gmia.cli import main
from gmia.zoo import TrainSpec, ZooStore
from gmia.zoo.executors import RayExecutor

ray = pytest.importorskip("ray")

SPEC = TrainSpec(hidden=(8,), activation="tanh", optimizer="sgd", lr=0.05, steps=400, batch_size=20)


@pytest.fixture(scope="module")
def executor():
    ex = RayExecutor(address=None, init_kwargs={"num_cpus": 2, "_node_ip_address": "127.0.0.1"})
    ex._connect()
    yield ex
    ray.shutdown()


def _stack(store, blobs, spec=SPEC, models=6, **kw):
    x, y = blobs
    idx = np.sort(np.random.default_rng(0).integers(0, len(x), size=(models, 200)), axis=1)
    return store.get(x, y, "blobs", idx, spec, seed=7, n_classes=2, chunk_size=2, **kw)


@pytest.mark.slow
def test_ray_stack_equals_local_bit_for_bit(tmp_path, blobs, executor):
    local = _stack(ZooStore(tmp_path / "local"), blobs)
    ticks = []
    remote = _stack(ZooStore(tmp_path / "ray", executor=executor), blobs,
                    progress=lambda description, total, done: ticks.append)
    for name in local.params:
        assert torch.equal(local.params[name], remote.params[name])
    assert np.array_equal(local.index_sets, remote.index_sets)
    assert ticks == [2 * SPEC.steps] * 3  # progress by whole chunks, all of them
    # A rerun through Ray finds every chunk stored and submits nothing.
    ticks.clear()
    again = _stack(ZooStore(tmp_path / "ray", executor=executor), blobs, progress=lambda d, t, done: ticks.append)
    assert ticks == [] and all(torch.equal(again.params[n], remote.params[n]) for n in remote.params)


def _training_workers() -> list[int]:
    out = subprocess.run(["pgrep", "-f", "ray::train_chunk_on_node"], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


@pytest.mark.slow
def test_a_killed_worker_is_retried_and_the_stack_is_unchanged(tmp_path, blobs, executor):
    spec = SPEC.model_copy(update={"steps": 6000})  # long enough to be caught mid-chunk
    local = _stack(ZooStore(tmp_path / "local"), blobs, spec)
    result, error = {}, {}

    def run():
        try:
            result["zoo"] = _stack(ZooStore(tmp_path / "ray", executor=executor), blobs, spec)
        except BaseException as exc:  # surfaced by the assertion below
            error["exc"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    killed = None
    deadline = time.time() + 60
    while killed is None and time.time() < deadline and thread.is_alive():
        workers = _training_workers()
        if workers:
            killed = workers[0]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.05)
    thread.join(300)
    assert killed is not None, "no training worker was seen to kill"
    assert not error, error
    for name in local.params:
        assert torch.equal(local.params[name], result["zoo"].params[name])


def test_bad_ray_address_is_one_sentence(tmp_path, capsys):
    argv = ["reproduce", "table1", "--dataset", "cancer", "--executor", "ray", "--ray-address", "127.0.0.1:1",
            "--cache-dir", str(tmp_path / "c"), "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    assert "no Ray cluster answers at 127.0.0.1:1" in capsys.readouterr().err
    assert main(argv[:6] + ["--executor", "spark"]) == 2
    assert "unknown executor 'spark'" in capsys.readouterr().err


@pytest.mark.slow
def test_models_of_another_algorithm_train_as_ray_tasks_as_they_do_locally(tmp_path, blobs, executor):
    from gmia.algorithms import as_algorithm, train_outputs
    from gmia.data import Dataset, Feature, Schema

    x, y = blobs
    schema = Schema(tuple(Feature(f"f{i}", "numeric", f"f{i}", -5.0, 5.0) for i in range(x.shape[1])), ("a", "b"), "label")
    data = Dataset("blobs", np.asarray(x, np.float32), np.asarray(y), schema)
    sets = np.sort(np.random.default_rng(0).integers(0, len(x), size=(4, 200)), axis=1)
    alg = as_algorithm("hist-gradient-boosting", {"max_iter": 10})
    local = train_outputs(alg, data, sets, 5, ZooStore(tmp_path / "local", workers=1))
    remote = train_outputs(alg, data, sets, 5, ZooStore(tmp_path / "ray", executor=executor))
    assert np.array_equal(local.outputs, remote.outputs) and local.key == remote.key
