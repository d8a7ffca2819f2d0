"""The audit's exchangeable design (the default): references each trained on a random N of the
candidates, every candidate tested against those that left it out, FDR calls over all of them;
and on targets drawn by the design's own rule, the level holds."""

from __future__ import annotations

import numpy as np
import pytest

import gmia
from gmia.auditing.exchangeable import reference_count, candidate_verdicts, train_exchangeable
from gmia.base.errors import GmiaError
from gmia.data import paper_split
from gmia.protocol.run import split_adversary
from gmia.stats.signals import log_loss
from gmia.zoo import TrainSpec, ZooStore

SPEC = TrainSpec(hidden=(), optimizer="adam", lr=1e-2, steps=300, batch_size=10)


def test_the_reference_count_leaves_each_record_out_of_the_asked_number_in_expectation():
    assert reference_count(50, 200, 100) == 100
    assert reference_count(50, 200, 150) == 200  # a record is out of a quarter of them
    with pytest.raises(GmiaError, match="N=200 is not below the 200 candidates"):
        reference_count(50, 200, 200)
    with pytest.raises(GmiaError, match="at most 2000"):
        reference_count(50, 1000, 990)


@pytest.mark.slow
def test_the_default_audit_tests_every_candidate_against_the_references_that_left_it_out(tmp_path, cancer):
    model, members = gmia.train_target(cancer, cache_dir=tmp_path, steps=300, lr=1e-2)
    kw = dict(k=10, steps=300, lr=1e-2, cache_dir=tmp_path, progress=False, members=members, delta=0.3, beta=5.0)
    result = gmia.audit(model, cancer, **kw)
    x = result.exchangeable
    assert result.config["references"] == "exchangeable" and x["references"] == 100  # 50 out of 200 - 100 candidates
    frame = result.candidates_frame()
    assert len(frame) == result.n_candidates == 200 and frame["record"].is_unique
    assert list(frame["record"][: result.n_tested]) == [r["record"] for r in result.records]
    # Each record's out-references are exactly the references whose training set lacks it.
    zoo = train_exchangeable(cancer, SPEC.model_copy(update={"steps": 300}), ZooStore(tmp_path),
                             paper_split(cancer).pool, x["references"], len(members), 0)
    left_out = (~zoo.membership[:, frame["record"].to_numpy()]).sum(axis=0)
    assert (frame["out_references"].to_numpy() == left_out).all()
    assert 30 <= frame["out_references"].median() <= 70
    for r in result.records:
        assert r["p_direct"] == frame.set_index("record").loc[r["record"], "p_exchangeable"]
        assert len(r["reference_losses"]) == r["out_references"] and "p_paper" in r
    assert int(frame["fdr_member"].sum()) == x["fdr"]["calls"] and "fdr" in result.truth
    assert x["shift"] is not None and x["shift_records"] == result.calibration["answered"]
    assert "exchangeable references: 100 models" in result.summary()
    # to_frame: a row per candidate, the tested ones first with their verdicts.
    rows = result.to_frame()
    assert len(rows) == 200 and rows["tested"].sum() == result.n_tested and rows["tested"][: result.n_tested].all()
    assert rows["verdict"][: result.n_tested].notna().all() and rows["verdict"][result.n_tested:].isna().all()
    assert (rows["p_value"][: result.n_tested] == rows["p_exchangeable"][: result.n_tested]).all()
    assert len(result.tested_frame()) == result.n_tested

    paper = gmia.audit(model, cancer, references="paper", **kw)
    assert paper.exchangeable is None and paper.candidates is None
    assert all(r["p_direct"] == r["p_calibrated"] and "p_rank" not in r for r in paper.records)
    with pytest.raises(ValueError, match="references=exchangeable"):
        paper.candidates_frame()


@pytest.mark.slow
def test_on_targets_drawn_by_the_designs_rule_the_non_member_pairs_hold_the_level(tmp_path, cancer):
    """60 models, each on a random half of the 200 candidates: each of the first 20 in turn is the
    audited target and the other 40 its references. Its non-member candidates' p-values (about
    2,000 pairs) fall below α at most α of the time (up to noise), and the FDR calls' realised
    false-discovery proportion averages at most q."""
    split = paper_split(cancer)
    zoo = train_exchangeable(cancer, SPEC, ZooStore(tmp_path), split.pool, 60, 100, seed=5)
    logits = zoo.logits(cancer.x)
    pool_loss = log_loss(logits[:, split.pool], cancer.y[split.pool])
    _, calibration = split_adversary(split.adversary, 5)
    held_loss = log_loss(logits[:, calibration], cancer.y[calibration])
    member = zoo.membership[:, split.pool]
    neighbours = np.random.default_rng(0).integers(0, 30, split.pool.size)  # any weights fixed apart from the p-values
    null, fdp = [], []
    for t in range(20):
        refs = np.arange(20, 60)
        test = candidate_verdicts(split.pool, pool_loss[t], pool_loss[refs], ~member[refs], neighbours, 0.1,
                               heldout=(held_loss[t], held_loss[refs]))
        null.append(test.p[~member[t]])
        called = test.fdr_member
        fdp.append((called & ~member[t]).sum() / called.sum() if called.sum() else 0.0)
    null = np.concatenate(null)
    for alpha in (0.05, 0.1):
        assert (null <= alpha).mean() <= alpha + 3 * np.sqrt(alpha * (1 - alpha) / null.size), alpha
    assert np.mean(fdp) <= 0.1 + 0.05


@pytest.mark.slow
def test_with_nothing_selected_every_candidate_is_still_tested_and_a_budget_goes_to_the_verdicts_first(tmp_path, cancer):
    model, members = gmia.train_target(cancer, cache_dir=tmp_path, steps=300, lr=1e-2)
    kw = dict(k=10, steps=300, lr=1e-2, cache_dir=tmp_path, progress=False, members=members)
    none = gmia.audit(model, cancer, features="logits", delta=1.99, beta=0.1, **kw)  # every record near many
    assert none.n_tested == 0 and len(none.candidates_frame()) == none.n_candidates
    assert none.exchangeable["shift"] is not None and none.truth["fdr"]["members_among_queried"] == len(members)
    # A budget of the distinct rows of the tested and calibration records: both answered, then it is spent.
    some = gmia.audit(model, cancer, delta=0.3, beta=5.0, **kw)
    _, calibration = split_adversary(paper_split(cancer).adversary, 0)
    tested = [r["record"] for r in some.records]
    spent = len(np.unique(cancer.x[np.concatenate([tested, calibration])], axis=0))
    short = gmia.audit(model, cancer, delta=0.3, beta=5.0, budget=spent, **kw)
    assert short.stopped and short.calibration["answered"] == some.calibration["answered"]
    frame = short.candidates_frame()
    assert frame["p_exchangeable"][: short.n_tested].notna().all()
    # The others are unanswered, but for exact duplicates of answered rows (Cancer has many), which share an answer.
    rest = frame[short.n_tested:]
    unanswered = rest["p_exchangeable"].isna()
    assert unanswered.any() and not rest["fdr_member"][unanswered].any() and "budget" in short.stopped
    asked_before = {tuple(row) for row in cancer.x[np.concatenate([frame["record"][: short.n_tested], calibration])]}
    assert {tuple(row) for row in cancer.x[rest["record"][~unanswered]]} <= asked_before


def test_a_non_member_whose_identical_twin_is_a_member_is_marked(cancer):
    from gmia.auditing.exchangeable import twin_of_member

    groups = {}
    for i, row in enumerate(np.column_stack([cancer.x, cancer.y])):
        groups.setdefault(row.tobytes(), []).append(i)
    a, b = next(g for g in groups.values() if len(g) >= 2)[:2]  # two identical records
    lone = next(g[0] for g in groups.values() if len(g) == 1)
    marked = twin_of_member(cancer, np.array([a, b, lone]), np.array([b]))
    assert marked.tolist() == [True, False, False]  # a: its twin b trained; b: a member itself; lone: no twin


@pytest.mark.slow
def test_every_attack_scores_every_candidate_on_the_same_answers(tmp_path, cancer):
    """The baselines run on the user's target from the exchangeable references and the answers
    the audit already has: no extra query, a score per candidate, and with the members their AUC
    (checked against scikit-learn's on the scores written per candidate)."""
    from sklearn.metrics import roc_auc_score

    from gmia.attacks import ATTACKS
    from gmia.targets import CountingTarget

    model, members = gmia.train_target(cancer, cache_dir=tmp_path, steps=300, lr=1e-2)
    kw = dict(k=10, steps=300, lr=1e-2, cache_dir=tmp_path, progress=False, delta=0.3, beta=5.0)
    counted = CountingTarget(model.predict_proba, cancer.schema)
    full = gmia.audit(counted, cancer, members=members, **kw)
    assert list(full.attacks) == list(ATTACKS)
    frame = full.candidates_frame()
    for name, a in full.attacks.items():
        scores = frame[f"score_{name}"]
        assert scores.notna().all()
        assert a["auc"] == pytest.approx(roc_auc_score(frame["member"], scores), abs=1e-9), name
        assert a["auc_ci"][0] <= a["auc"] <= a["auc_ci"][1] and a["epsilon"]["lower_bound"] >= 0
    assert full.attacks["rmia-offline"]["parameters"]["a_tuned"] is True
    counted_none = CountingTarget(model.predict_proba, cancer.schema)
    gmia.audit(counted_none, cancer, members=members, attacks=(), **kw)
    assert counted.sent == counted_none.sent  # the attacks asked nothing more

    blind = gmia.audit(model, cancer, attacks=("loss", "lira-offline"), **kw)  # no members: scores only
    assert list(blind.attacks) == ["loss", "lira-offline"] and blind.attacks["loss"]["auc"] is None
    assert {"score_loss", "score_lira-offline"} <= set(blind.candidates_frame().columns)
    assert "a score for every candidate" in blind.summary()
    with pytest.raises(GmiaError, match="only the exchangeable design"):
        gmia.audit(model, cancer, references="paper", attacks=("loss",), **kw)
    with pytest.raises(GmiaError, match="'nope' is not registered"):
        gmia.audit(model, cancer, attacks=("nope",), **kw)
