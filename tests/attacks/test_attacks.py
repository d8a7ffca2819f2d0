"""LiRA, RMIA, loss and Shokri attacks against cases whose answer is known in closed form."""

import tracemalloc

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from gmia.attacks.rmia import A_GRID
from gmia.attacks import (ATTACKS, AttackInputs, AttackSettings, GmiaDirect, Lira, LossThreshold, Rmia, Shokri,
                          logit_confidence, make_attack)
from gmia.comparison.run import COMPARE_ATTACKS
from gmia.base.errors import GmiaError
from gmia.stats.signals import log_loss


def test_logit_confidence_is_log_odds_of_the_true_class_and_stays_finite():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 5, 4))
    y = rng.integers(0, 4, 5)
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    p_y = p[:, np.arange(5), y]
    assert np.allclose(logit_confidence(logits, y), np.log(p_y / (1 - p_y)))
    # A saturated model: 1 − p_y rounds to 0 in floating point, φ must not.
    assert logit_confidence(np.array([[[60.0, -60.0]]]), np.array([0]))[0, 0] == pytest.approx(120.0)


def _two_point(mu, sd):
    """Two values whose sample mean is mu and unbiased standard deviation is sd."""
    return np.stack([mu - sd / np.sqrt(2), mu + sd / np.sqrt(2)])


def test_lira_online_equals_the_analytic_gaussian_likelihood_ratio():
    mu_in, sd_in = np.array([2.0, 0.5, -1.0]), np.array([1.0, 0.3, 2.0])
    mu_out, sd_out = np.array([0.0, 0.0, -3.0]), np.array([0.5, 0.3, 1.0])
    # Models 0, 1 trained on every record, models 2, 3 on none: sample estimates are exact.
    phi = np.concatenate([_two_point(mu_in, sd_in), _two_point(mu_out, sd_out)])
    member = np.array([[True] * 3, [True] * 3, [False] * 3, [False] * 3])
    target = np.array([[1.0, 0.2, -2.0], [3.0, -0.4, 0.0]])
    got = Lira(online=True).fit_phi(phi, member).score_phi(target)
    want = stats.norm.logpdf(target, mu_in, sd_in) - stats.norm.logpdf(target, mu_out, sd_out)
    assert got.shape == (2, 3)
    assert np.allclose(got, want)


def test_lira_fixed_variance_pools_the_within_record_variance():
    mu = np.array([0.0, 5.0])
    sd = np.array([1.0, 3.0])
    phi = np.concatenate([_two_point(mu + 1, sd), _two_point(mu, sd)])
    member = np.array([[True, True], [True, True], [False, False], [False, False]])
    pooled = np.sqrt((sd**2).mean())  # equal counts: the pooled variance is the mean variance
    got = Lira(online=True, variance="fixed").fit_phi(phi, member).score_phi(np.array([[0.3, 4.0]]))
    want = stats.norm.logpdf([0.3, 4.0], mu + 1, pooled) - stats.norm.logpdf([0.3, 4.0], mu, pooled)
    assert np.allclose(got, want)


def test_lira_offline_is_minus_log_of_the_upper_tail_p_value():
    mu, sd = np.array([1.0, -2.0]), np.array([2.0, 0.5])
    phi = _two_point(mu, sd)
    member = np.zeros_like(phi, dtype=bool)
    target = np.array([[1.0, -2.0 + 0.5 * stats.norm.isf(0.05)], [1.0 + 2.0 * 40, -10.0]])
    got = Lira(online=False).fit_phi(phi, member).score_phi(target)
    assert got[0, 0] == pytest.approx(np.log(2))  # at the mean: p = 1/2
    assert got[0, 1] == pytest.approx(-np.log(0.05))
    assert np.isfinite(got[1, 0]) and got[1, 0] > 700  # 40 standard deviations: p underflows, −log p does not
    assert got[1, 1] == pytest.approx(-stats.norm.logsf(-10.0, -2.0, 0.5))


def test_lira_reaches_the_optimal_auc_of_two_gaussians():
    """Equal-variance Gaussians a distance d apart: the likelihood-ratio test's AUC is Φ(d / √2)."""
    rng = np.random.default_rng(1)
    k, n, t, d = 400, 300, 40, 1.0
    mu = rng.normal(size=n)  # each record has its own OUT mean; IN is d higher
    member = np.zeros((k, n), dtype=bool)
    for j in range(n):  # test set-up only
        member[rng.permutation(k)[: k // 2], j] = True
    phi = mu + d * member + rng.normal(size=(k, n))
    t_member = rng.random((t, n)) < 0.5
    t_phi = mu + d * t_member + rng.normal(size=(t, n))
    for online in (True, False):
        scores = Lira(online=online).fit_phi(phi, member).score_phi(t_phi)
        auc = roc_auc_score(t_member.ravel(), scores.ravel())
        assert auc == pytest.approx(stats.norm.cdf(d / np.sqrt(2)), abs=0.015)
        # Swapping the classes turns it into 1 − AUC: a swapped implementation fails the line above.
        assert roc_auc_score(~t_member.ravel(), scores.ravel()) == pytest.approx(1 - auc)


def test_lira_needs_two_models_on_each_side():
    phi = np.zeros((3, 2))
    member = np.array([[True, True], [False, False], [False, False]])
    with pytest.raises(GmiaError, match="1 IN shadow models"):
        Lira(online=True).fit_phi(phi, member)
    Lira(online=False).fit_phi(phi, member)  # offline needs only the OUT side


def test_rmia_matches_a_hand_computed_case():
    # Dyadic values, so every mean below is exact and the ties are real ties.
    # Record 0: IN models give 0.875 and 0.625, OUT models 0.5 and 0.25 → Pr(x) = (0.75 + 0.375) / 2 = 0.5625.
    # Record 1: IN 0.625, 0.375, OUT 0.375, 0.625 → Pr(x) = 0.5.
    ref_x = np.array([[0.875, 0.625], [0.5, 0.375], [0.625, 0.375], [0.25, 0.625]])
    member = np.array([[True, True], [False, False], [True, True], [False, False]])
    ref_z = np.full((4, 4), 0.5)  # Pr(z) = 0.5 for every population record
    target_z = np.array([[0.25, 0.5, 0.75, 0.8]])  # ratio_z = 0.5, 1.0, 1.5, 1.6
    target_x = np.array([[0.84375, 0.5]])  # ratio_x = 1.5 and 1.0
    got = Rmia(online=True).fit_probs(ref_x, member, ref_z).score_probs(target_x, target_z)
    # ratio_x / ratio_z > 1: record 0 beats 0.5 and 1.0 (not its tie 1.5); record 1 beats 0.5 only.
    assert np.allclose(got, [[2 / 4, 1 / 4]])
    got = Rmia(online=True, gamma=2.0).fit_probs(ref_x, member, ref_z).score_probs(target_x, target_z)
    assert np.allclose(got, [[1 / 4, 0 / 4]])  # 1.5 / 2 = 0.75 beats 0.5 only
    # Offline, a = 0.3: Pr = 0.65 mean_out + 0.35 → Pr(x) = 0.59375, 0.675; Pr(z) = 0.675.
    off = Rmia(online=False, a=0.3).fit_probs(ref_x, member, ref_z)
    assert np.allclose(off.marginal_x_, [0.65 * 0.375 + 0.35, 0.65 * 0.5 + 0.35])
    ratio_x = target_x[0] / off.marginal_x_
    ratio_z = target_z[0] / 0.675
    want = (ratio_x[:, None] > ratio_z[None, :]).mean(axis=1)
    assert np.allclose(off.score_probs(target_x, target_z), want[None, :])


def test_rmia_equals_the_pairwise_count_on_random_data():
    rng = np.random.default_rng(2)
    k, n, z, t = 6, 40, 30, 3
    ref_x, ref_z = rng.random((k, n)), rng.random((k, z))
    member = np.zeros((k, n), dtype=bool)
    member[: k // 2] = True
    tx, tz = rng.random((t, n)), rng.random((t, z))
    for online in (True, False):
        rmia = Rmia(online=online, gamma=1.3).fit_probs(ref_x, member, ref_z)
        rx, rz = tx / rmia.marginal_x_, tz / rmia.marginal_z_
        want = ((rx[:, :, None] / rz[:, None, :]) > 1.3).mean(axis=2)  # the O(n·Z) definition, test only
        assert np.allclose(rmia.score_probs(tx, tz), want)


def test_rmia_online_gives_a_record_and_its_population_twin_one_marginal():
    """A record IN exactly half of the references and a population record with the same
    probabilities: ½ (mean_in + mean_out) and the mean over all are equal, and computed as one
    they tie exactly, so γ = 1 never counts the twin; the two formulas differ in rounding."""
    rng = np.random.default_rng(5)
    k, n = 64, 2000
    px = rng.random((k, n))
    member = np.zeros((k, n), dtype=bool)
    for j in range(n):
        member[rng.permutation(k)[: k // 2], j] = True
    rmia = Rmia(online=True).fit_probs(px, member, px)  # the population: the same rows
    assert np.array_equal(rmia.marginal_x_, rmia.marginal_z_)
    by_halves = 0.5 * (np.where(member, px, 0).sum(0) / (k // 2) + np.where(member, 0, px).sum(0) / (k // 2))
    assert (by_halves != px.mean(axis=0)).any()  # what rounding used to decide
    # A target that gives record j the same probability as its twin z_j: a tie, never counted (strictly greater).
    target = rng.random((1, n))
    scores = rmia.score_probs(target, target)[0]
    ratio = target[0] / rmia.marginal_x_
    assert np.array_equal(np.round(scores * n), [(ratio < r).sum() for r in ratio])


def test_rmia_offline_tunes_a_on_the_references_unless_given():
    """Reference models whose members get a higher probability: each one in turn as the target,
    the others as references; the a with the best AUC on its members is kept and reported."""
    rng = np.random.default_rng(6)
    k, n, z = 12, 300, 200
    member = np.argsort(rng.random((k, n)), axis=0) < k // 2  # each record IN half of the models
    base = rng.beta(5, 2, n)
    px = np.clip(base + np.where(member, 0.15, 0.0) + rng.normal(0, 0.05, (k, n)), 1e-6, 1.0)
    pz = np.clip(rng.beta(5, 2, z)[None, :] + rng.normal(0, 0.05, (k, z)), 1e-6, 1.0)
    tuned = Rmia(online=False).fit_probs(px, member, pz)
    assert tuned.a_ in A_GRID and tuned.parameters() == {"online": False, "a": tuned.a_, "gamma": 1.0, "a_tuned": True}
    # The kept a is the grid's best mean AUC over the first 4 models as targets, recomputed with scikit-learn's AUC.
    from sklearn.metrics import roc_auc_score

    mean_auc = []
    for a in A_GRID:
        aucs = []
        for j in range(4):
            others = np.arange(k) != j
            r = Rmia(online=False, a=float(a)).fit_probs(px[others], member[others], pz[others])
            aucs.append(roc_auc_score(member[j], r.score_probs(px[j][None], pz[j][None])[0]))
        mean_auc.append(np.mean(aucs))
    assert tuned.a_ == A_GRID[int(np.argmax(np.round(mean_auc, 12)))]
    fixed = Rmia(online=False, a=0.3).fit_probs(px, member, pz)
    assert fixed.a_ == 0.3 and fixed.parameters()["a_tuned"] is False


def test_rmia_memory_stays_linear_in_records():
    """n = Z = 20,000: an n × Z matrix would need 3.2 GB; the sorted comparison needs a few MB."""
    rng = np.random.default_rng(3)
    n = z = 20_000
    rmia = Rmia().fit_probs(rng.random((4, n)), np.repeat([[True], [False]], 2, axis=0) & np.ones((4, n), bool),
                      rng.random((4, z)))
    tx, tz = rng.random((2, n)), rng.random((2, z))
    tracemalloc.start()
    scores = rmia.score_probs(tx, tz)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert scores.shape == (2, n)
    assert peak < 20e6


def test_loss_attack_ranks_lower_losses_as_members():
    losses = np.array([[0.01, 2.0, 0.3, 1.5]])
    member = np.array([[True, False, True, False]])
    attack = LossThreshold().fit_losses(np.array([0.1, 0.5]))
    assert attack.threshold_ == pytest.approx(0.3)
    assert roc_auc_score(member.ravel(), attack.score_losses(losses).ravel()) == 1.0
    assert attack.decide(attack.score_losses(losses)).tolist() == [[True, False, False, False]]
    # One decide for every attack: GMIA's "p < c" is decide(−p, −c).
    p = np.array([[0.001, 0.02, 0.5]])
    assert GmiaDirect("zero").decide(-p, -0.01).tolist() == [[True, False, False]]


def _separable_probs(rng, k, n, y, member):
    p_true = np.where(member, rng.uniform(0.9, 1.0, (k, n)), rng.uniform(0.5, 0.8, (k, n)))
    probs = np.empty((k, n, 2))
    probs[:, np.arange(n), y] = p_true
    probs[:, np.arange(n), 1 - y] = 1 - p_true
    return probs


@pytest.mark.slow
def test_shokri_learns_a_separable_case():
    rng = np.random.default_rng(4)
    k, n = 10, 60
    y = rng.integers(0, 2, n)
    member = rng.random((k, n)) < 0.5
    attack = Shokri(confidence=0.8, max_iter=300, seed=0).fit_probs(_separable_probs(rng, k, n, y, member), y, member)
    t_member = rng.random((5, n)) < 0.5
    scores = attack.score_probs(_separable_probs(rng, 5, n, y, t_member), y)
    assert scores.shape == (5, n) and ((scores >= 0) & (scores <= 1)).all()
    assert roc_auc_score(t_member.ravel(), scores.ravel()) > 0.99
    calls = attack.decide(scores)
    assert (calls & t_member).sum() > 0.8 * t_member.sum() and not (calls & ~t_member).any()
    # The same seed gives the same networks.
    rng = np.random.default_rng(4)
    y2, member2 = rng.integers(0, 2, n), rng.random((k, n)) < 0.5
    shadow = _separable_probs(rng, k, n, y2, member2)
    first = Shokri(seed=7).fit_probs(shadow, y2, member2).score_probs(shadow[:2], y2)
    assert np.array_equal(first, Shokri(seed=7).fit_probs(shadow, y2, member2).score_probs(shadow[:2], y2))


def test_shokri_sorted_features_hide_correctness_on_two_classes():
    attack = Shokri(features="sorted")
    probs = np.array([[[0.9, 0.1], [0.1, 0.9]]])
    assert np.array_equal(attack._features(probs)[0, 0], attack._features(probs)[0, 1])


@pytest.mark.parametrize("make, words", [
    (lambda: Lira(variance="global"), "LiRA variance 'global'"),
    (lambda: Rmia(a=1.5), "a=1.5"),
    (lambda: Rmia(gamma=0.0), "gamma=0.0"),
    (lambda: Shokri(confidence=1.0), "confidence threshold 1.0"),
    (lambda: Shokri(features="ranked"), "Shokri features 'ranked'"),
])
def test_bad_parameters_get_one_sentence(make, words):
    with pytest.raises(GmiaError, match=words):
        make()


def _random_inputs(rng, k=8, n=30, t=3, z=12, c=2):
    """An AttackInputs of random logits; every record is IN half of the K shadow models."""
    member = np.zeros((k, n), dtype=bool)
    member[::2] = True
    y, y_pop = rng.integers(0, c, n), rng.integers(0, c, z)
    shadow, target = rng.normal(size=(k, n, c)), rng.normal(size=(t, n, c))
    return AttackInputs(
        y_pool=y, y_pop=y_pop, target_logits=target, target_logits_pop=rng.normal(size=(t, z, c)),
        shadow_logits=shadow, shadow_logits_pop=rng.normal(size=(k, z, c)), shadow_membership=member,
        reference_loss=rng.random((k, n)), target_loss=log_loss(target, y),
    )


def test_registry_names_match_and_every_attack_scores_t_by_n():
    rng = np.random.default_rng(5)
    t, n = 3, 30
    inputs = _random_inputs(rng, n=n, t=t)
    assert COMPARE_ATTACKS == tuple(ATTACKS)
    for name in COMPARE_ATTACKS:
        attack = ATTACKS[name]()
        assert attack.name == name
        out = attack.fit(inputs).score(inputs)
        assert out.shape == (t, n), name
        assert np.isfinite(out).all(), name


def test_every_attack_on_inputs_equals_its_array_form():
    """``fit(inputs)`` / ``score(inputs)`` feed each attack the signals it always took."""
    rng = np.random.default_rng(6)
    inputs = _random_inputs(rng)
    gmia = GmiaDirect("zero").fit(inputs)
    p = GmiaDirect("zero").fit_losses(inputs.reference_loss).pvalues_of(inputs.target_loss)
    assert np.array_equal(gmia.pvalues(inputs), p) and np.array_equal(gmia.score(inputs), -p)
    phi = logit_confidence(inputs.shadow_logits, inputs.y_pool)
    lira = Lira(online=False).fit_phi(phi, inputs.shadow_membership)
    want = lira.score_phi(logit_confidence(inputs.target_logits, inputs.y_pool))
    assert np.array_equal(Lira(online=False).fit(inputs).score(inputs), want)
    loss = LossThreshold().fit(inputs)
    assert loss.threshold_ == pytest.approx(inputs.shadow_loss[inputs.shadow_membership].mean())
    assert np.array_equal(loss.score(inputs), -inputs.target_loss)
    rmia = Rmia().fit_probs(np.exp(-inputs.shadow_loss), inputs.shadow_membership, np.exp(-inputs.shadow_loss_pop))
    want = rmia.score_probs(np.exp(-inputs.target_loss), np.exp(-inputs.target_loss_pop))
    assert np.array_equal(Rmia().fit(inputs).score(inputs), want)


def test_attacks_take_the_common_settings_they_need():
    settings = AttackSettings(tail="zero", confidence=0.7, seed=11)
    assert make_attack("gmia-direct", settings).tail == "zero"
    shokri = make_attack("shokri", settings)
    assert (shokri.confidence, shokri.seed) == (0.7, 11)
    lira = make_attack("lira-offline-fixed", settings)
    assert (lira.online, lira.variance, lira.name) == (False, "fixed", "lira-offline-fixed")
    assert make_attack("loss", settings).parameters() == {}
    with pytest.raises(GmiaError, match="unknown attack 'lira'"):
        make_attack("lira", settings)
