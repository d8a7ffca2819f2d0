"""p-values against exchangeable references hold their level on data where the null is known,
including data the paper's reference design gets wrong (a shift between references and target)."""

import numpy as np
import pytest

from gmia.base.errors import GmiaError
from gmia.stats.exchangeable import leave_one_out, plugin_gaussian_pvalues, rank_pvalues, student_t_pvalues


def _protocol_losses(rng, n_models=60, n_records=400, shift=0.0):
    """Losses of n_models models on n_records records: each record its own skewed loss
    distribution, members (half of the models, at random) lower. ``shift`` > 0 makes every
    loss of a second set of models (the paper's adversary-trained references) larger."""
    member = rng.random((n_models, n_records)) < 0.5
    scale = rng.gamma(2.0, 0.3, n_records)
    loss = rng.gamma(1.5, 1.0, (n_models, n_records)) * scale  # skewed, no two records alike
    loss = np.where(member, loss * 0.3, loss)
    shifted = rng.gamma(1.5, 1.0, (n_models, n_records)) * scale * (1.0 + shift)
    return loss, member, shifted


@pytest.mark.parametrize("seed", range(3))
def test_rank_pvalues_against_the_other_targets_hold_at_every_level(seed):
    rng = np.random.default_rng(seed)
    loss, member, _ = _protocol_losses(rng)
    p = rank_pvalues(loss, loss, ~member, exclude=leave_one_out(len(loss)))
    null = p[~member]
    for alpha in (0.01, 0.05, 0.1):
        # exact: P(p <= α) <= α; 12,000 null pairs put 3 standard errors at about 0.3 α^0.5 / 36
        assert (null <= alpha).mean() <= alpha + 3 * np.sqrt(alpha * (1 - alpha) / null.size), alpha
    assert (p[member] <= 0.05).mean() > 0.1  # and members are found


def test_a_shifted_reference_set_breaks_the_paper_design_and_not_the_exchangeable_one():
    """References trained on other data (here: larger losses on every record) make a non-member
    target look like a member; references drawn like the target do not."""
    rng = np.random.default_rng(7)
    loss, member, shifted = _protocol_losses(rng, shift=1.0)
    paper = rank_pvalues(loss, shifted, np.ones_like(member))
    exchangeable = rank_pvalues(loss, loss, ~member, exclude=leave_one_out(len(loss)))
    assert (paper[~member] <= 0.05).mean() > 0.1  # more than twice the level: the design fails
    assert (exchangeable[~member] <= 0.05).mean() <= 0.055


def test_student_t_predictive_pvalues_are_exact_for_gaussian_confidence_and_the_plugin_is_not():
    rng = np.random.default_rng(3)
    n_out, n_records = 10, 40000
    phi = rng.normal(2.0, 1.5, (n_out + 1, n_records))
    loss = np.log1p(np.exp(-phi))  # L with logit confidence φ: φ = -L - log(1 - e^-L)
    target, refs = loss[:1], loss[1:]
    out = np.ones_like(refs, dtype=bool)
    t = student_t_pvalues(target, refs, out)[0]
    plugin = plugin_gaussian_pvalues(target, refs, out)[0]
    for alpha in (0.01, 0.05):
        se = np.sqrt(alpha * (1 - alpha) / n_records)
        assert abs((t <= alpha).mean() - alpha) < 4 * se, alpha
    assert (plugin <= 0.01).mean() > 2.0 * 0.01  # anti-conservative at 10 out-references


def test_records_with_too_few_out_references_get_no_parametric_pvalue():
    refs = np.array([[0.1, 0.2], [0.3, 0.4], [0.2, 0.1]])
    out = np.array([[True, True], [True, False], [True, False]])
    p = student_t_pvalues(np.array([[0.05, 0.05]]), refs, out)
    assert np.isfinite(p[0, 0]) and np.isnan(p[0, 1])


def test_shapes_that_do_not_line_up_are_one_sentence():
    with pytest.raises(GmiaError, match="do not line up"):
        rank_pvalues(np.zeros((2, 3)), np.zeros((4, 3)), np.zeros((4, 2), bool))
