"""Exact ROC, its bootstrap over targets and records, FPR-matched thresholds, and `run_compare`."""

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score, roc_curve

from gmia.attacks import ATTACKS, Attack, register
from gmia.comparison import SortedPairs, compare_defaults, fpr_threshold, roc_with_ci, run_compare
from gmia.comparison.config import CompareConfig
from gmia.comparison.metrics import bootstrap_weights
from gmia.comparison.run import COMPARE_ATTACKS
from gmia.data import load_bundled
from gmia.base.errors import GmiaError
from gmia.settings.paper import PRESETS
from gmia.stats.roc import roc_summary
from gmia.zoo import ZooStore


def _planted(seed=0, t=20, n=300, shift=1.5, ties=False):
    rng = np.random.default_rng(seed)
    member = rng.random((t, n)) < 0.5
    scores = rng.normal(size=(t, n)) + shift * member
    if ties:
        scores = np.round(scores, 0)  # a handful of distinct values: many ties across classes
    return scores, member


def _brute_tpr_at(scores, member, f):
    """max TPR over every threshold "score >= s" whose FPR is at most f (the definition)."""
    s, m = scores.ravel(), member.ravel()
    best = 0.0
    for thr in np.unique(s):
        called = s >= thr
        if (called & ~m).sum() <= f * (~m).sum():
            best = max(best, (called & m).sum() / m.sum())
    return best


@pytest.mark.parametrize("ties", [False, True])
def test_exact_roc_matches_the_definitions(ties):
    scores, member = _planted(ties=ties)
    r = roc_with_ci(scores, member)
    assert r.auc == pytest.approx(roc_auc_score(member.ravel(), scores.ravel()), abs=1e-12)
    for f in (0.001, 0.01, 0.1):
        assert SortedPairs.from_matrix(scores, member).summary(fprs=(f,))[1] == pytest.approx(_brute_tpr_at(scores, member, f))
    if not ties:
        fpr, tpr, _ = roc_curve(member.ravel(), scores.ravel(), drop_intermediate=False)
        assert r.tpr["0.01"] == pytest.approx(tpr[fpr <= 0.01].max())
        assert roc_summary(scores, member).tpr["0.01"] == pytest.approx(r.tpr["0.01"])


def test_swapping_members_and_non_members_gives_one_minus_auc():
    """The known pitfall: with classes swapped the AUC becomes 1 − AUC. Members score higher here,
    so an implementation that swaps the classes fails the first assertion."""
    scores, member = _planted(shift=2.0)
    right = roc_with_ci(scores, member)
    swapped = roc_with_ci(scores, ~member)
    assert right.auc > 0.9
    assert right.auc + swapped.auc == pytest.approx(1.0, abs=1e-12)
    assert right.tpr["0.01"] > swapped.tpr["0.01"]


@pytest.mark.parametrize("ties", [False, True])
def test_weighted_bootstrap_equals_resampling_the_matrix(ties):
    scores, member = _planted(seed=1, t=6, n=50, ties=ties)
    w_rows, w_cols = bootstrap_weights(6, 50, 5, np.random.default_rng(0))
    pairs = SortedPairs.from_matrix(scores, member)
    for wr, wc in zip(w_rows, w_cols):
        rows, cols = np.repeat(np.arange(6), wr.astype(int)), np.repeat(np.arange(50), wc.astype(int))
        s, m = scores[np.ix_(rows, cols)], member[np.ix_(rows, cols)]
        got = pairs.summary(wr, wc, fprs=(0.01, 0.1))
        assert got[0] == pytest.approx(roc_auc_score(m.ravel(), s.ravel()), abs=1e-12)
        fpr, tpr, _ = roc_curve(m.ravel(), s.ravel(), drop_intermediate=False)
        assert got[2] == pytest.approx(tpr[fpr <= 0.1].max())


def test_bootstrap_interval_holds_the_estimate_and_is_reproducible():
    scores, member = _planted(seed=2)
    weights = bootstrap_weights(*scores.shape, 200, np.random.default_rng(0))
    r = roc_with_ci(scores, member, weights)
    assert r.auc_ci[0] < r.auc < r.auc_ci[1]
    assert r.tpr_ci["0.01"][0] <= r.tpr["0.01"] <= r.tpr_ci["0.01"][1]
    again = roc_with_ci(scores, member, bootstrap_weights(*scores.shape, 200, np.random.default_rng(0)))
    assert again == r


def test_fpr_threshold_gives_the_largest_fpr_not_above_the_target():
    scores, member = _planted(seed=3, ties=True)
    for f in (0.001, 0.01, 0.05):
        tau = fpr_threshold(scores, member, f)
        realised = (scores[~member] > tau).mean()
        assert realised <= f
        # τ is a non-member score: calling its ties "member" too would exceed f, so no lower
        # threshold keeps FPR <= f.
        assert tau in scores[~member] and (scores[~member] >= tau).mean() > f


def test_compare_defaults_are_the_papers():
    d = compare_defaults("cancer")
    assert (d["delta"], d["beta"], d["cutoffs"], d["shokri_confidence"]) == (0.1, 0.1, (0.008, 0.01), 0.8)
    assert compare_defaults("adult")["shokri_confidence"] == 0.6
    assert compare_defaults("mine")["cutoffs"] == (0.01,)


def test_run_compare_end_to_end_on_cancer(tmp_path):
    spec = PRESETS["cancer"].spec.model_copy(update={"steps": 100})
    result = run_compare(load_bundled("cancer"), ZooStore(tmp_path), CompareConfig.resolve(
        "cancer", spec=spec, k=8, n_targets=4, n_inout=8, beta=50.0, n_bootstrap=50, seed=0))
    assert [a.name for a in result.attacks] == list(COMPARE_ATTACKS)
    n_sel = len(result.selected)
    assert n_sel > 0
    for a in result.attacks:
        assert a.roc.auc_ci[0] <= a.roc.auc <= a.roc.auc_ci[1] and a.roc.auc_ci[0] < a.roc.auc_ci[1], a.name
        for key, v in a.roc.tpr.items():
            lo, hi = a.roc.tpr_ci[key]
            assert 0.0 <= lo <= hi <= 1.0 and 0.0 <= v <= 1.0, a.name
        # Each selected record is a member of half the targets.
        assert all(row.member_pairs == 2 * n_sel for row in a.rows)
    assert [r.cutoff for r in result.gmia_rows] == [0.008, 0.01]
    assert result.shokri_rows[0].cutoff == 0.8
    assert result.config["n_population"] == 499
    json.dumps(result.to_dict())  # the result file is plain JSON
    # A rerun loads every stack from the store and gives the same numbers.
    again = run_compare(load_bundled("cancer"), ZooStore(tmp_path), CompareConfig.resolve(
        "cancer", spec=spec, k=8, n_targets=4, n_inout=8, beta=50.0, n_bootstrap=50, seed=0,
        attacks=("gmia-direct", "lira-online")))
    assert again.attack("lira-online").roc == result.attack("lira-online").roc


@pytest.fixture
def registry():
    """The attack registry, restored after the test however it ends."""
    saved = dict(ATTACKS)
    yield ATTACKS
    ATTACKS.clear()
    ATTACKS.update(saved)


def test_a_registered_attack_runs_in_the_comparison_with_nothing_else_touched(tmp_path, registry):
    """Adding an attack is its class and its registration: run_compare makes it, fits it, scores it."""

    @register("random-scores")
    class RandomScores(Attack):
        name = "random-scores"

        def __init__(self, seed: int = 0):
            self.seed = seed

        @classmethod
        def from_settings(cls, settings, **fixed):
            return cls(seed=settings.seed, **fixed)

        def fit(self, inputs):
            return self

        def score(self, inputs):
            return np.random.default_rng(self.seed).random(inputs.shape)

    assert "random-scores" in registry and "random-scores" not in COMPARE_ATTACKS
    spec = PRESETS["cancer"].spec.model_copy(update={"steps": 100})
    result = run_compare(load_bundled("cancer"), ZooStore(tmp_path), CompareConfig.resolve(
        "cancer", spec=spec, k=8, n_targets=4, n_inout=8, beta=50.0, n_bootstrap=10, seed=0,
        attacks=("gmia-direct", "random-scores")))
    assert [a.name for a in result.attacks] == ["gmia-direct", "random-scores"]
    toy = result.attack("random-scores")
    # Random scores know nothing of membership: their AUC's 95% interval holds 0.5.
    assert toy.roc.auc_ci[0] <= 0.5 <= toy.roc.auc_ci[1] and len(toy.rows) == len(result.gmia_rows)
    assert result.config["attack_parameters"]["random-scores"] == {}
    registry.pop("random-scores")  # unregistered, it is unknown again
    with pytest.raises(GmiaError, match="unknown attack 'random-scores'"):
        run_compare(load_bundled("cancer"), ZooStore(tmp_path), CompareConfig.resolve(
            "cancer", spec=spec, k=8, n_targets=4, n_inout=8, attacks=("gmia-direct", "random-scores")))


@pytest.mark.parametrize("kwargs, words", [
    ({"n_inout": 6 + 1}, "in/out shadow models 7"),
    ({"attacks": ("gmia-direct", "lira")}, "unknown attack 'lira'"),
    ({"attacks": ("loss",)}, "leave out gmia-direct"),
    ({"n_bootstrap": -1}, "bootstrap resamples -1"),
    ({"shokri_confidence": 0.0}, "confidence threshold 0.0"),
])
def test_bad_settings_get_one_sentence(tmp_path, kwargs, words):
    with pytest.raises(GmiaError, match=words):
        run_compare(load_bundled("cancer"), ZooStore(tmp_path), CompareConfig.resolve("cancer", **kwargs))


@pytest.mark.slow
def test_command_line_compare_and_table7(tmp_path, capsys):
    import gmia.cli as cli

    fast = ["--dataset", "cancer", "--k", "8", "--targets", "4", "--inout", "8", "--steps", "100", "--beta", "50",
            "--bootstrap", "10", "--cache-dir", str(tmp_path / "cache")]
    assert cli.main(["compare", *fast, "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "lira-online" in out and "rmia-offline" in out and "gmia (p < cutoff)" in out
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [a["name"] for a in saved["attacks"]] == list(COMPARE_ATTACKS)
    assert cli.main(["reproduce", "table7", *fast, "--out", str(tmp_path / "t7")]) == 0
    out = capsys.readouterr().out
    assert "P(in) > 0.8" in out and "50.25%" in out
    assert cli.main(["compare", "--dataset", "cancer", "--inout", "7", "--cache-dir", str(tmp_path / "cache")]) == 2
    err = capsys.readouterr().err
    assert "in/out shadow models 7" in err and "Traceback" not in err


@pytest.mark.slow
def test_gmia_against_the_shadows_that_left_the_record_out_holds_its_level_where_the_papers_design_does_not(tmp_path):
    """On Cancer's paper models (40 targets, 40 shadows each on a random half of the pool), the
    own decision p < c of gmia-exchangeable calls about c of all non-member pairs; gmia-direct,
    whose references train on the adversary's records, calls several times c."""
    result = run_compare(load_bundled("cancer"), ZooStore(tmp_path), CompareConfig.resolve(
        "cancer", k=20, n_targets=40, n_inout=40, n_bootstrap=0, seed=1, cutoffs=(0.05,),
        attacks=("gmia-direct", "gmia-exchangeable")))
    pairs = 40 * 100  # non-member pairs: 40 targets x half of the 200 pool records
    tolerance = 3 * np.sqrt(0.05 * 0.95 / pairs) + 0.01  # pairs of one target share its draw
    assert result.exchangeable_fpr["0.05"] <= 0.05 + tolerance
    assert result.gmia_fpr["0.05"] > 2 * 0.05
    assert [r.cutoff for r in result.exchangeable_rows] == [0.05]
    assert result.attack("gmia-exchangeable").privacy["all"] is not None
