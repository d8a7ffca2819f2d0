"""Auditing a user's own model: references trained its way by default, the match shown, the
user's own data roles, and the command line around them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.neural_network import MLPClassifier

import gmia
from gmia.cli import main
from gmia.data import paper_split
from gmia.base.errors import GmiaError
from gmia.models.file_format import from_sklearn

FAST = dict(k=8, progress=False, features="logits", delta=0.3, beta=5.0)


@pytest.fixture(scope="module")
def members(cancer):
    pool = paper_split(cancer).pool
    return np.sort(np.random.default_rng(0).permutation(pool)[: len(pool) // 2])


@pytest.fixture(scope="module")
def hgb(cancer, members):
    return HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(cancer.x[members], cancer.y[members])


@pytest.mark.slow
def test_a_scikit_learn_target_gets_clones_of_itself_as_references(tmp_path, cancer, members, hgb):
    result = gmia.audit(hgb, cancer, members=members, cache_dir=tmp_path, **FAST)
    alg = result.algorithms
    assert alg["match"] is True and alg["references"]["estimator"].endswith("HistGradientBoostingClassifier")
    assert alg["references"]["changed"] == {"max_iter": 10} and "clones of the target's own estimator" in alg["note"]
    assert "algorithms: target: HistGradientBoostingClassifier(max_iter=10)" in result.summary()
    assert result.dataset == "cancer" and result.n_tested > 0
    stored = [p.name for p in tmp_path.iterdir() if p.name.startswith("out-")]
    # The paper's k=8 references for selection, and the exchangeable ones the p-values rank against.
    sizes = sorted(len(list((tmp_path / name).glob("model_*.safetensors"))) for name in stored)
    assert sizes == [8, result.exchangeable["references"]]
    assert all(np.isfinite(r["reference_losses"]).all() and len(r["reference_losses"]) == r["out_references"]
               for r in result.records)

    other = gmia.audit(hgb, cancer, members=members, cache_dir=tmp_path, algorithm="random-forest",
                       algorithm_params={"n_estimators": 10}, **FAST)
    assert other.algorithms["match"] is False and "NOT matched" in other.algorithms["note"]


def test_trees_that_answer_zero_and_one_give_finite_p_values(tmp_path, cancer, members):
    forest = RandomForestClassifier(n_estimators=10, random_state=0).fit(cancer.x[members], cancer.y[members])
    assert forest.predict_proba(cancer.x).max() == 1.0
    result = gmia.audit(forest, cancer, members=members, cache_dir=tmp_path, **FAST)
    frame = result.tested_frame()
    assert len(frame) and np.isfinite(frame["target_loss"]).all() and frame["p_raw"].between(0, 1).all()


def test_a_gmia_model_file_gives_its_architecture_and_says_what_it_cannot_know(tmp_path, cancer, members):
    mlp = MLPClassifier((8,), max_iter=300, random_state=0).fit(cancer.x[members], cancer.y[members])
    result = gmia.audit(from_sklearn(mlp, cancer.schema), cancer, cache_dir=tmp_path, steps=50, **FAST)
    alg = result.algorithms
    assert alg["target"]["kind"] == "gmia-file" and alg["references"]["hidden"] == [8]
    assert alg["references"]["activation"] == "relu" and alg["match"] is None
    assert "converted from sklearn.MLPClassifier" in alg["target"]["text"] and "--algorithm" in alg["note"]

    class Bare:
        def predict_proba(self, x):
            return mlp.predict_proba(x)

    bare = gmia.audit(Bare(), cancer, cache_dir=tmp_path, steps=50, **FAST)
    assert bare.algorithms["match"] is None and "cannot be known to match" in bare.algorithms["note"]
    assert bare.algorithms["references"]["hidden"] == []  # the preset's softmax regression: the mismatch of issue 15


def test_the_indirect_attack_refuses_references_it_cannot_continue(tmp_path, cancer, hgb):
    with pytest.raises(GmiaError, match="indirect attack needs gmia's stacked reference models"):
        gmia.audit(hgb, cancer, cache_dir=tmp_path, attack="indirect", **FAST)


def test_the_users_own_roles_decide_candidates_population_and_truth(tmp_path, cancer, members, hgb):
    raw = cancer.raw()
    pool = paper_split(cancer).pool
    rest = np.setdiff1d(np.arange(len(cancer)), pool)
    candidates = raw.iloc[pool[:60]].drop(columns=[cancer.schema.label])
    member_rows = {cancer.x[i].tobytes() for i in members}  # Cancer's duplicates of a member count as members
    rest = np.array([i for i in rest if cancer.x[i].tobytes() not in member_rows])
    population = raw.iloc[rest[:300]]
    result = gmia.audit(hgb, cancer, members=members, candidates=candidates, population=population, cache_dir=tmp_path,
                        **FAST)
    roles = result.roles
    wanted = {cancer.x[i].tobytes() for i in pool[:60]}  # a row stands for every record equal to it
    twins = sum(cancer.x[i].tobytes() in wanted for i in rest[:300])  # population rows equal to a candidate
    assert twins and roles["population"] == 300 - twins and any("candidate" in n for n in roles["notes"])
    assert roles["candidates"] >= 60 and roles["members_known"]
    assert result.n_candidates == roles["candidates"] and result.config["n_train"] == len(members)
    assert result.records and all(cancer.x[r["record"]].tobytes() in wanted for r in result.records)
    with pytest.raises(GmiaError, match="population"):
        gmia.audit(hgb, cancer, members=members, population=raw.iloc[members[:5]], cache_dir=tmp_path, **FAST)


@pytest.mark.slow
def test_the_command_line_trains_an_onnx_target_and_audits_it_matched(tmp_path, capsys):
    model = tmp_path / "hgb.onnx"
    params = json.dumps({"max_iter": 10})
    cache = str(tmp_path / "cache")
    assert main(["model", "train", "--dataset", "cancer", "--algorithm", "hist-gradient-boosting", "--algorithm-params",
                 params, "--out", str(model), "--cache-dir", cache]) == 0
    assert model.exists() and model.with_suffix(".members.json").exists()
    code = main(["audit", "--dataset", "cancer", "--target-model", str(model), "--members",
                 str(model.with_suffix(".members.json")), "--k", "8", "--cache-dir", cache, "--out", str(tmp_path / "run"),
                 "--selection-features", "logits", "--delta", "0.3", "--beta", "5"])
    out = capsys.readouterr().out
    assert code == 0 and "Training algorithms: target: HistGradientBoostingClassifier(max_iter=10)" in " ".join(out.split())
    doc = json.loads((tmp_path / "run" / "results.json").read_text())
    assert doc["algorithms"]["match"] is True

    bad = tmp_path / "population.csv"
    frame = gmia.load_dataset("cancer").raw()
    members = json.loads(model.with_suffix(".members.json").read_text())["records"]
    frame.iloc[members[:3]].to_csv(bad, index=False)
    code = main(["audit", "--dataset", "cancer", "--target-model", str(model), "--members",
                 str(model.with_suffix(".members.json")), "--population", str(bad), "--cache-dir", cache,
                 "--out", str(tmp_path / "run2")])
    err = capsys.readouterr().err
    assert code == 2 and "population" in err and "Traceback" not in err


def test_compare_runs_every_attack_on_models_of_another_algorithm_and_defend_refuses_them(tmp_path, cancer):
    result = gmia.compare(cancer, algorithm="logistic-regression", k=4, n_targets=4, n_inout=4, n_bootstrap=0,
                          cache_dir=tmp_path, progress=False)
    frame = result.to_frame()
    assert {"gmia-direct", "shokri", "lira-online", "rmia-online"} <= set(frame["attack"]) and frame["auc"].between(0, 1).all()
    assert any(p.name.startswith("out-") for p in tmp_path.iterdir())  # targets, references and shadows as outputs
    with pytest.raises(GmiaError, match="defend sweeps settings of the training spec .* expected no algorithm"):
        gmia.defend(cancer, algorithm="random-forest", cache_dir=tmp_path, progress=False)
