"""Logits and losses streamed to the store a block of models at a time equal those computed in memory."""

import numpy as np
import pytest

from gmia.base.errors import GmiaError
from gmia.stats.signals import log_loss
from gmia.stats.streamed import stream_signals
from gmia.zoo import TrainSpec, ZooStore


@pytest.fixture
def stored(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 6)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    store = ZooStore(tmp_path / "cache")
    spec = TrainSpec(hidden=(5,), steps=30, batch_size=20)
    zoo = store.get(x, y, "toy", rng.integers(0, 300, size=(7, 100)), spec, seed=1, n_classes=2, chunk_size=3)
    return store, zoo, x, y


def test_streamed_signals_equal_the_in_memory_ones_and_are_reused(stored):
    store, zoo, x, y = stored
    signals = stream_signals(store, zoo, x, y, "toy", models_per_block=3)  # 7 models: blocks of 3, 3 and 1
    logits = zoo.logits(x)
    assert signals.shape == (7, 300)
    np.testing.assert_array_equal(signals.logits(), logits)
    np.testing.assert_array_equal(signals.losses(), log_loss(logits, y).astype(np.float32))
    np.testing.assert_array_equal(signals.losses_of(50, 80), log_loss(logits, y).astype(np.float32)[:, 50:80])
    assert signals.logits_path.parent == store.folder(zoo)
    stamps = [p.stat().st_mtime_ns for p in (signals.logits_path, signals.losses_path)]
    again = stream_signals(store, zoo, x, y, "toy")
    assert [p.stat().st_mtime_ns for p in (again.logits_path, again.losses_path)] == stamps  # found, not rewritten
    assert not list(store.folder(zoo).glob(".*.tmp"))  # no half-written file left


def test_a_stack_the_store_does_not_hold_is_refused(stored, tmp_path):
    store, zoo, x, y = stored
    with pytest.raises(GmiaError, match="is not stored in"):
        stream_signals(ZooStore(tmp_path / "other"), zoo, x, y, "toy")
