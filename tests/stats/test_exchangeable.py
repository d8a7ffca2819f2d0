"""p-values against exchangeable references hold their level on data where the null is known,
including data the paper's reference design gets wrong (a shift between references and target)."""

import numpy as np
import pytest

from gmia.base.errors import GmiaError
from gmia.stats.exchangeable import (
    leave_one_out, model_shifts, plugin_gaussian_pvalues, rank_pvalues, student_t_pvalues,
)


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


def test_removing_each_models_shift_restores_one_targets_level_and_keeps_the_rank_test_exact():
    """φ_m(r) = μ(r) + b_m + ε: over the draw of the target the test holds, but one target with
    a large b_m gets small p-values on every record. Estimating b_m on held-out records (out for
    every model) and removing it gives that target its level back."""
    rng = np.random.default_rng(11)
    n_models, n_records, n_held = 60, 3000, 300
    mu = rng.normal(3.0, 2.0, n_records + n_held)
    b = rng.normal(0.0, 0.4, n_models)
    b[0] = 1.2  # the audited target: more confident than its references on everything
    phi = mu[None, :] + b[:, None] + rng.normal(0.0, 1.0, (n_models, n_records + n_held))
    loss = np.log1p(np.exp(-phi))
    records, held = loss[:, :n_records], loss[:, n_records:]
    out = np.ones((n_models - 1, n_records), bool)  # every record a non-member of every model
    shifts = model_shifts(held)
    assert abs(shifts[0] - shifts[1:].mean() - (b[0] - b[1:].mean())) < 0.15  # b recovered (up to a common constant)
    for test in (student_t_pvalues, rank_pvalues):
        plain = test(records[:1], records[1:], out)[0]
        fixed = test(records[:1], records[1:], out, shift=(shifts[:1], shifts[1:]))[0]
        assert (plain <= 0.05).mean() > 0.15, test.__name__  # the shifted target: three times the level and more
        assert (fixed <= 0.05).mean() <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / n_records), test.__name__
    # Over targets (each model in turn), the rank test stays exact with the shifts removed.
    p = rank_pvalues(records, records, np.ones((n_models, n_records), bool), exclude=leave_one_out(n_models),
                     shift=(shifts, shifts))
    assert (p <= 0.05).mean() <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / p.size)


def test_model_shifts_need_held_out_records_and_one_per_model():
    with pytest.raises(GmiaError, match="held-out records"):
        model_shifts(np.empty((4, 0)))
    loss = np.ones((3, 5))
    with pytest.raises(GmiaError, match="one shift per model"):
        rank_pvalues(loss, loss, np.ones((3, 5), bool), shift=(np.zeros(3), np.zeros(2)))
