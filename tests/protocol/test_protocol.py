"""The paper's protocol: target index sets, reference samples, signals and metrics."""

import numpy as np
import pytest

from gmia.data import load_bundled
from gmia.base.errors import GmiaError
from gmia.protocol.evaluate import CutoffRow, evaluate
from gmia.protocol.run import bootstrap_index_sets, build_signals, subsample_index_sets, target_index_sets
from gmia.zoo import TrainSpec, ZooStore


def test_every_pool_record_is_a_member_of_exactly_half_the_targets():
    pool = np.arange(100, 300)
    sets = target_index_sets(pool, 10, np.random.default_rng(0))
    assert sets.shape == (10, 100)
    member = np.zeros((10, 400), dtype=bool)
    for m, s in enumerate(sets):
        member[m, s] = True
    assert (member[:, pool].sum(axis=0) == 5).all()
    assert not member[:, :100].any()
    # The two targets of one split are complementary.
    assert set(sets[0]) | set(sets[1]) == set(pool) and not set(sets[0]) & set(sets[1])


def test_reference_samples():
    adv = np.arange(1000, 1500)
    boot = bootstrap_index_sets(adv, 20, 300, np.random.default_rng(0))
    assert boot.shape == (20, 300) and np.isin(boot, adv).all()
    distinct = np.mean([np.unique(b).size for b in boot]) / 300
    assert 0.6 < distinct < 0.85  # with replacement: repeats
    sub = subsample_index_sets(adv, 20, 300, np.random.default_rng(0))
    assert all(np.unique(s).size == 300 for s in sub)
    with pytest.raises(GmiaError, match="k=1"):
        bootstrap_index_sets(adv, 1, 10, np.random.default_rng(0))
    with pytest.raises(GmiaError, match="600"):
        subsample_index_sets(adv, 2, 600, np.random.default_rng(0))


def test_cutoff_row_counts():
    calls = np.array([[True, False, True], [True, True, False]])
    member = np.array([[True, False, False], [True, True, True]])
    row = CutoffRow.from_calls(calls, member, 0.01)
    assert (row.tp, row.fp, row.member_pairs) == (3, 1, 4)
    assert row.precision == pytest.approx(0.75) and row.recall == pytest.approx(0.75)
    assert row.precision_ci[0] < 0.75 < row.precision_ci[1]


@pytest.fixture(scope="module")
def cancer_signals(tmp_path_factory):
    store = ZooStore(tmp_path_factory.mktemp("cache"))
    spec = TrainSpec(steps=300, batch_size=10, lr=1e-2)
    return build_signals(load_bundled("cancer"), spec, store, k=20, n_targets=10, seed=0)


def test_signals_shapes_and_accuracy(cancer_signals):
    s = cancer_signals
    assert s.reference_loss.shape == (20, 200) and s.target_loss.shape == (10, 200)
    assert s.membership.sum(axis=0).tolist() == [5] * 200
    pool_f, adv_f = s.features("logits")
    assert pool_f.shape == (200, 40) and adv_f.shape == (499, 40)
    assert s.features("raw")[0].shape == (200, 9)
    assert s.accuracies["target_test"] > 0.9 and s.accuracies["reference_test"] > 0.9


def test_evaluate_on_a_small_protocol(cancer_signals):
    ev = evaluate(cancer_signals, 0.1, 1.0, cutoffs=(0.05, 0.1))
    assert len(ev.selected) == ev.count_by_scaling["n_over_nprime"] > 0
    assert set(ev.selected) <= set(cancer_signals.split.pool.tolist())
    for row in ev.rows:
        assert row.member_pairs == 5 * len(ev.selected)
        assert row.tp + row.fp <= 10 * len(ev.selected)
    # A looser cutoff never calls fewer pairs.
    assert ev.rows[1].tp + ev.rows[1].fp >= ev.rows[0].tp + ev.rows[0].fp
    assert set(ev.tail_comparison) == {"pchip", "zero", "gaussian"}
    # The AUC over all pool records and targets is scikit-learn's on the same raw p-values.
    from sklearn.metrics import roc_auc_score

    from gmia.protocol.evaluate import pool_pvalues

    p_raw = pool_pvalues(cancer_signals, "gaussian")
    assert ev.roc.auc == pytest.approx(roc_auc_score(cancer_signals.membership.ravel(), -p_raw.ravel()), abs=1e-12)


def test_raw_feature_mode(cancer_signals):
    ev = evaluate(cancer_signals, 0.01, 1.0, cutoffs=(0.1,), features="raw")
    assert ev.features == "raw" and ev.n_candidates == 200


def test_calibration_records_are_held_out_of_every_reference_model(cancer_signals):
    s = cancer_signals
    assert s.calibration.size == 249  # half of Cancer's 499 adversary records (gmia.stats.calibration.calibration_size)
    assert not np.isin(s.calibration, s.references.index_sets).any()
    assert not np.isin(s.calibration, s.targets.index_sets).any()
    assert set(s.calibration.tolist()) <= set(s.split.adversary.tolist())
    assert s.calibration_target_loss.shape == (10, 249) and s.calibration_reference_loss.shape == (20, 249)


def test_evaluation_reports_raw_and_calibrated_pvalues_and_every_feature_kind(cancer_signals):
    ev = evaluate(cancer_signals, 0.1, 1.0, cutoffs=(0.05, 0.1))
    assert ev.pvalues_kind == "calibrated" and ev.features == "centred-logits"
    assert set(ev.rows_by_pvalues) == {"raw", "calibrated"} and ev.rows == ev.rows_by_pvalues["calibrated"]
    assert set(ev.count_by_features) == {"logits", "centred-logits", "raw", "label-logits"}
    assert ev.count_by_features["centred-logits"] == len(ev.selected)
    assert set(ev.calibration_calibrated) == {"0.01", "0.05", "0.1"}
    raw = evaluate(cancer_signals, 0.1, 1.0, cutoffs=(0.05, 0.1), pvalues="raw")
    assert raw.rows == raw.rows_by_pvalues["raw"] == ev.rows_by_pvalues["raw"]
    # The smallest calibrated p-value is 1 / (1 + |C|): never zero.
    assert ev.pvalues.min() >= 1 / 250


def test_no_calibration_set_means_raw_pvalues_only(tmp_path):
    from gmia.base.errors import GmiaError
    from gmia.experiments.reproduce import ReproduceConfig

    with pytest.raises(GmiaError, match="calibration size is 0"):
        ReproduceConfig.resolve("cancer", calibration_size=0)
    assert ReproduceConfig.resolve("cancer", calibration_size=0, pvalues="raw").calibration_size == 0
    # Commands whose numbers rank on the raw p-value need no calibration set.
    from gmia.comparison.config import CompareConfig

    assert CompareConfig.resolve("cancer", calibration_size=0).calibration_size == 0
