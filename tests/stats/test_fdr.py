"""Weighted Benjamini-Hochberg keeps the false-discovery rate at q on data where the truth is
known, with isolation-like weights, and never drops a record with overwhelming evidence."""

import numpy as np
import pytest

from gmia.base.errors import GmiaError
from gmia.stats.fdr import isolation_weights, weighted_bh


def test_the_false_discovery_proportion_averages_at_most_q():
    rng = np.random.default_rng(0)
    q, fdp, calls = 0.1, [], []
    for _ in range(300):
        m = 1000
        alt = rng.random(m) < 0.1
        p = np.where(alt, rng.beta(0.08, 1.0, m), rng.random(m))
        # Weights favour the alternatives (as isolation favours leaking records), independently of p.
        neighbours = np.where(alt, rng.poisson(1.0, m), rng.poisson(4.0, m))
        res = weighted_bh(p, isolation_weights(neighbours), q)
        fdp.append((res.called & ~alt).sum() / max(res.called.sum(), 1))
        calls.append(res.called.sum())
    assert np.mean(fdp) <= q + 3 * np.std(fdp) / np.sqrt(len(fdp))
    assert np.mean(calls) > 20  # and it calls something


def test_plain_bh_is_the_unweighted_case_and_matches_a_hand_count():
    p = np.array([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216])
    res = weighted_bh(p, None, 0.05)
    # BH at 0.05 with m = 10: the largest k with p_(k) <= 0.005 k is k = 2.
    assert res.called.tolist() == [True, True] + [False] * 8 and res.m == 10


def test_overwhelming_evidence_is_called_whatever_its_weight():
    p = np.r_[1e-12, np.full(99, 0.5)]
    w = np.r_[0.01, np.ones(99)]  # the record GMIA thinks least isolated
    assert weighted_bh(p, w, 0.1).called[0]


def test_untested_records_are_neither_called_nor_counted():
    res = weighted_bh(np.array([0.001, np.nan, 0.9]), None, 0.1)
    assert res.called.tolist() == [True, False, False] and res.m == 2


@pytest.mark.parametrize("q", [0, 1, 1.5, True])
def test_a_bad_level_is_one_sentence(q):
    with pytest.raises(GmiaError, match="false-discovery level"):
        weighted_bh(np.array([0.1]), None, q)
