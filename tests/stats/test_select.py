"""Vulnerable-record selection: neighbour counting in blocks, E[N_n] scalings, thresholds."""

import numpy as np
import pytest

from gmia.base.errors import GmiaError
from gmia.stats.select import count_neighbours, expected_neighbours, logit_features, select_vulnerable


def brute_force(q, r, delta):
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    rn = r / np.linalg.norm(r, axis=1, keepdims=True)
    return ((1 - qn @ rn.T) < delta).sum(axis=1)


def test_logit_features_concatenate_models_per_record():
    logits = np.arange(2 * 3 * 2).reshape(2, 3, 2)  # [k=2, N=3, C=2]
    f = logit_features(logits)
    assert f.shape == (3, 4)
    np.testing.assert_array_equal(f[1], [logits[0, 1, 0], logits[0, 1, 1], logits[1, 1, 0], logits[1, 1, 1]])


@pytest.mark.parametrize("max_block_mb", [1e-4, 0.01, 256.0])
def test_block_counting_equals_brute_force(max_block_mb):
    rng = np.random.default_rng(0)
    q, r = rng.normal(size=(130, 8)), rng.normal(size=(257, 8))
    for delta in (0.2, 0.6, 1.0):
        np.testing.assert_array_equal(count_neighbours(q, r, delta, max_block_mb), brute_force(q, r, delta))


def test_isolated_record_is_selected_and_crowded_one_is_not():
    rng = np.random.default_rng(1)
    crowd = rng.normal(size=(500, 4)) * 0.05 + np.array([1.0, 1.0, 0.0, 0.0])
    lonely = np.array([[-1.0, 0.0, 1.0, 0.0]])
    queries = np.vstack([crowd[:3] + 0.01, lonely])
    sel = select_vulnerable(queries, crowd, np.array([10, 11, 12, 13]), delta=0.1, beta=0.1, n_train=250)
    assert list(sel.selected) == [13]
    assert sel.neighbours[3] == 0 and (sel.neighbours[:3] > 100).all()


def test_scalings_and_beta():
    counts = np.array([0, 1, 2, 10])
    # N = 100 training records, N' = 300 reference records.
    np.testing.assert_allclose(expected_neighbours(counts, 100, 300, "n_over_nprime"), counts / 3)
    np.testing.assert_allclose(expected_neighbours(counts, 100, 300, "nprime_over_n"), counts * 3)
    rng = np.random.default_rng(2)
    r = rng.normal(size=(300, 6))
    q = rng.normal(size=(50, 6))
    counts = count_neighbours(q, r, 0.1)
    assert ((counts == 1) | (counts == 2)).any() and (counts == 0).any()
    small = select_vulnerable(q, r, np.arange(50), 0.1, 0.1, n_train=100)
    big = select_vulnerable(q, r, np.arange(50), 0.1, 1.0, n_train=100)
    # Only N'_n·N/N' lets the selection grow with β below N'/N (docs/algorithm.md, Pitfalls).
    assert big.count_by_scaling()["n_over_nprime"] > small.count_by_scaling()["n_over_nprime"]
    assert big.count_by_scaling()["nprime_over_n"] == small.count_by_scaling()["nprime_over_n"]


@pytest.mark.parametrize("delta,beta,match", [(0.0, 0.1, "delta=0.0"), (2.5, 0.1, "delta=2.5"), (0.1, 0.0, "beta=0.0"), (0.1, -1, "beta=-1")])
def test_thresholds_out_of_range(delta, beta, match):
    with pytest.raises(GmiaError, match=match):
        select_vulnerable(np.ones((2, 2)), np.ones((3, 2)), np.arange(2), delta, beta, n_train=2)


def test_unknown_scaling():
    with pytest.raises(GmiaError, match="unknown scaling 'x'"):
        select_vulnerable(np.ones((2, 2)), np.ones((3, 2)), np.arange(2), 0.1, 0.1, n_train=2, scaling="x")


def test_centred_logits_ignore_the_softmax_offset_of_each_model():
    from gmia.stats.select import selection_features

    rng = np.random.default_rng(3)
    logits = rng.normal(size=(4, 30, 3))
    shifted = logits + rng.normal(size=(4, 1, 1)) * 10  # a per-model offset softmax cannot see
    np.testing.assert_allclose(selection_features("centred-logits", logits, None),
                               selection_features("centred-logits", shifted, None), atol=1e-9)
    assert not np.allclose(selection_features("logits", logits, None), selection_features("logits", shifted, None))
    with pytest.raises(GmiaError, match="unknown selection features 'pixels'"):
        selection_features("pixels", logits, None)


def test_zero_rows_are_each_others_neighbours_and_nobody_elses():
    # Raw Cancer features encode an all-minimum record as the zero vector, where cosine is undefined.
    queries = np.array([[0.0, 0.0], [1.0, 0.0]], dtype=np.float32)
    refs = np.array([[0.0, 0.0], [0.0, 0.0], [2.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    assert count_neighbours(queries, refs, delta=0.1).tolist() == [2, 1]


@pytest.mark.slow
def test_derived_delta_selects_the_stated_fraction_of_new_records():
    from gmia.stats.select import DELTA_FRACTION, derived_delta

    rng = np.random.default_rng(3)
    adversary, pool = rng.normal(size=(3000, 8)), rng.normal(size=(2000, 8))
    for beta, n_train in ((0.1, 1000), (2.5, 1000)):  # m = 1 and m = 8 neighbours
        delta = derived_delta(adversary, beta, n_train)
        sel = select_vulnerable(pool, adversary, np.arange(2000), delta, beta, n_train)
        assert 0.004 <= sel.mask().mean() <= 0.02, (beta, delta, sel.mask().mean())
        assert abs(sel.mask().mean() - DELTA_FRACTION) < 0.01


def test_derived_delta_is_taken_on_the_held_out_rows_only():
    """Records the references trained on can sit elsewhere than unseen ones: given the rows no
    reference trained on, the quantile is theirs; raw features ignore them (no reference shapes them)."""
    from gmia.stats.select import derived_delta

    rng = np.random.default_rng(5)
    seen = rng.normal(size=(900, 8)) * 0.2 + 1.0  # in-sample rows: tight around one direction
    unseen = rng.normal(size=(300, 8))  # held out: spread out, so farther from their neighbours
    adversary = np.vstack([seen, unseen])
    held = np.arange(900, 1200)
    assert derived_delta(adversary, 0.1, 500, holdout=held) > derived_delta(adversary, 0.1, 500)
    assert derived_delta(adversary, 0.1, 500, holdout=np.array([], dtype=int)) == derived_delta(adversary, 0.1, 500)
    logits = select_vulnerable(unseen[:50], adversary, np.arange(50), None, 0.1, 500, mode="logits", holdout=held)
    raw = select_vulnerable(unseen[:50], adversary, np.arange(50), None, 0.1, 500, mode="raw", holdout=held)
    assert logits.delta == derived_delta(adversary, 0.1, 500, holdout=held)
    assert raw.delta == derived_delta(adversary, 0.1, 500)


def test_no_delta_means_derived_and_says_so():
    rng = np.random.default_rng(4)
    adversary = rng.normal(size=(1000, 4))
    sel = select_vulnerable(adversary[:200], adversary, np.arange(200), None, 0.1, 500)
    assert sel.delta_derived and 0 < sel.delta < 2
    given = select_vulnerable(adversary[:200], adversary, np.arange(200), 0.3, 0.1, 500)
    assert not given.delta_derived and given.delta == 0.3
