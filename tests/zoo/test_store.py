"""Trained stacks are stored content-addressed, reused, and resumed chunk by chunk."""

import os

import numpy as np
import pytest
import torch

import gmia.zoo.trainer as trainer_mod
from gmia.base.errors import GmiaError
from gmia.zoo import TrainSpec, ZooStore

SPEC = TrainSpec(hidden=(4,), steps=20, batch_size=10)


def _get(store, blobs, **kw):
    x, y = blobs
    idx = np.random.default_rng(0).integers(0, len(x), size=(5, 40))
    return store.get(x, y, "fp", idx, SPEC, seed=1, n_classes=2, chunk_size=2, **kw)


def test_rerun_trains_nothing(tmp_path, blobs, monkeypatch):
    store = ZooStore(tmp_path)
    first = _get(store, blobs)
    calls = []
    monkeypatch.setattr(trainer_mod, "train_stack", lambda *a, **k: calls.append(1))
    second = _get(store, blobs)
    assert calls == []
    for name in first.params:
        assert torch.equal(first.params[name], second.params[name])
    assert first.n_models == 5 and first.membership.shape == (5, len(blobs[0]))
    assert not list(tmp_path.rglob("*.tmp")) and not list(tmp_path.rglob("*.pkl"))


def test_interrupted_run_resumes_from_finished_chunks(tmp_path, blobs, monkeypatch):
    reference = _get(ZooStore(tmp_path / "a"), blobs)
    store = ZooStore(tmp_path / "b")
    real = trainer_mod.train_stack
    calls = []

    def dies_on_second_chunk(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(trainer_mod, "train_stack", dies_on_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        _get(store, blobs)
    [folder] = [p for p in (tmp_path / "b").iterdir() if p.is_dir()]
    assert sorted(p.name for p in folder.glob("chunk_*")) == ["chunk_0000.safetensors"]

    calls.clear()
    monkeypatch.setattr(trainer_mod, "train_stack", lambda *a, **k: calls.append(1) or real(*a, **k))
    resumed = _get(store, blobs)
    assert len(calls) == 2  # chunks 1 and 2 of 3; chunk 0 came from disk
    for name in reference.params:
        assert torch.equal(reference.params[name], resumed.params[name])


def test_key_changes_with_what_decides_the_parameters(blobs):
    idx = np.zeros((2, 3), dtype=np.int64)
    base = ZooStore.key("fp", idx, SPEC, 0, 50)
    assert base != ZooStore.key("fp2", idx, SPEC, 0, 50)
    assert base != ZooStore.key("fp", idx + 1, SPEC, 0, 50)
    assert base != ZooStore.key("fp", idx, SPEC.model_copy(update={"l2": 0.1}), 0, 50)
    assert base != ZooStore.key("fp", idx, SPEC, 1, 50)
    assert base == ZooStore.key("fp", idx.copy(), TrainSpec(**SPEC.model_dump()), 0, 50)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_cache_dir_non_root(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    with pytest.raises(GmiaError, match="cannot be written"):
        ZooStore(ro / "cache")


def test_unwritable_cache_dir(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(GmiaError, match="cache directory .* cannot be written"):
        ZooStore(blocker / "cache")
