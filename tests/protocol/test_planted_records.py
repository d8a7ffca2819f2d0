"""Planted records: far out, with labels that contradict their neighbourhood, the records that
leak most. The paper's label-blind selection features miss them; the label-aware ones and the
FDR calls over all records (exchangeable references) find their members."""

import numpy as np
import pytest

from gmia.data import Dataset, Feature, Schema, paper_split
from gmia.protocol.evaluate import evaluate
from gmia.protocol.run import build_signals
from gmia.zoo import TrainSpec, ZooStore

pytestmark = pytest.mark.usefixtures("one_torch_thread")

N, D, POOL, PLANTED = 700, 12, 200, 8
SPEC = TrainSpec(hidden=(32,), optimizer="adam", lr=0.01, steps=1500, batch_size=20)


def planted_dataset(seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, N)
    x = rng.normal(size=(N, D))
    x[:, 0] += 2.5 * (2 * y - 1)
    base = Dataset("planted", x.astype(np.float32), y.astype(np.int64), Schema(
        features=tuple(Feature(f"f{i}", "numeric", f"f{i}", -10.0, 10.0) for i in range(D)), classes=("a", "b"), label="y"))
    planted = paper_split(base, pool_size=POOL, seed=0).pool[:PLANTED]
    x[planted, 0] = 2.5  # deep in class b's region ...
    x[planted, 1 + np.arange(PLANTED)] = 8.0  # ... and far out, each in a direction of its own
    y[planted] = 0  # labelled a: the neighbourhood says b
    return Dataset("planted", x.astype(np.float32), y.astype(np.int64), base.schema), planted


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    data, planted = planted_dataset()
    signals = build_signals(data, SPEC, ZooStore(tmp_path_factory.mktemp("cache")), k=20, n_targets=40, seed=0,
                            pool_size=POOL)
    assert np.isin(planted, signals.split.pool).all()
    return signals, planted


@pytest.mark.slow
def test_label_aware_features_select_the_planted_records_that_the_label_blind_ones_miss(run):
    signals, planted = run
    found = {kind: int(np.isin(planted, evaluate(signals, None, 1.0, cutoffs=(0.05,), features=kind).selected).sum())
             for kind in ("centred-logits", "label-logits")}
    assert found["label-logits"] >= PLANTED // 2 and found["label-logits"] > found["centred-logits"], found


@pytest.mark.slow
def test_fdr_calls_over_all_records_find_the_planted_members(run):
    signals, planted = run
    ev = evaluate(signals, None, 1.0, cutoffs=(0.05,), references="exchangeable")
    pos = np.searchsorted(signals.split.pool, planted)
    member = signals.membership[:, pos]
    calls = ev.fdr_member[:, pos]
    assert (calls & member).sum() >= 0.5 * member.sum()  # most planted member pairs are called
    assert ev.exchangeable["tests"]["student-t"]["fdr"]["fdr"] <= 0.15  # and the realised FDR stays near q
