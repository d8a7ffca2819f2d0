"""Indirect inference: schema-valid queries, influence, clustering, optimisation, and proof
that the target never saw the record."""

import dataclasses
import json

import numpy as np
import pytest

import gmia.attacks.indirect as indirect_mod
from gmia.attacks.indirect import (
    IndirectConfig,
    cluster_medoids,
    influence,
    optimise_queries,
    positive_references,
    run_indirect,
)
from gmia.cli import main
from gmia.data import load_dataset
from gmia.errors import GmiaError
from gmia.experiments.table3 import Table3Config, run_table3
from gmia.protocol import build_signals
from gmia.queries import gaussian_queries, project, same_record, uniform_queries
from gmia.targets import QueryBudgetExhausted, QueryLog, ZooTargets
from gmia.zoo import TrainSpec, ZooStore

SPEC = TrainSpec(steps=300, batch_size=10, lr=1e-2)
SMALL = IndirectConfig(theta=0.8, n_candidates=300, n_clusters=20, positive_steps=150, opt_steps=30, max_optimised=10)


@pytest.mark.parametrize("name", ["adult", "cancer"])
def test_uniform_queries_honour_the_schema(name):
    ds = load_dataset(name)
    q = uniform_queries(ds.schema, 500, np.random.default_rng(0))
    for group, cols in ds.schema.groups().items():
        feats = [ds.schema.features[c] for c in cols]
        if feats[0].kind == "onehot":
            assert (q[:, cols].sum(axis=1) == 1).all(), group
            assert set(np.unique(q[:, cols])) <= {0.0, 1.0}
        else:
            f = feats[0]
            assert (q[:, cols[0]] >= f.low - 1e-6).all() and (q[:, cols[0]] <= f.high + 1e-6).all()
            if f.integer:
                raw = q[:, cols[0]] * f.scale + f.offset
                np.testing.assert_allclose(raw, np.round(raw), rtol=1e-6, atol=1e-3)
    # Uniform: every Cancer value 1..10 appears for a feature.
    if name == "cancer":
        assert len(np.unique(q[:, 0])) == 10
    np.testing.assert_allclose(project(q, ds.schema), q, atol=1e-6)


def test_gaussian_queries_stay_near_the_record_and_valid():
    ds = load_dataset("adult")
    r = ds.x[7]
    q = gaussian_queries(r, ds.schema, 200, 0.1, np.random.default_rng(0))
    np.testing.assert_allclose(project(q, ds.schema), q, atol=1e-6)
    assert np.median(np.linalg.norm(q - r, axis=1)) < np.median(np.linalg.norm(ds.x[:200] - r, axis=1))
    with pytest.raises(GmiaError, match="sigma=0"):
        gaussian_queries(r, ds.schema, 5, 0, np.random.default_rng(0))


def test_query_log_detects_the_record_and_its_duplicates():
    log = QueryLog(lambda x: np.zeros((1, len(x), 2)))
    r = np.array([0.1, 0.2, 0.3], dtype=np.float32)
    log.predict_proba(np.array([[0.0, 0.2, 0.3], [0.1, 0.2, 0.31]]))
    assert not log.sent(r) and log.n_queries == 2
    log.predict_proba(r.copy()[None, :])  # a duplicate: the same values in another array
    assert log.sent(r)
    assert same_record(np.array([[0.1, 0.2, 0.3]]), r).all()


def test_cluster_medoids_one_per_blob():
    rng = np.random.default_rng(0)
    centres = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=float)
    x = np.vstack([c + rng.normal(scale=0.01, size=(20, 3)) for c in centres])
    medoids = cluster_medoids(x, 3)
    assert sorted(medoids // 20) == [0, 1, 2]


def test_theta_out_of_range():
    for theta in (0.0, 1.0, 1.5):
        with pytest.raises(GmiaError, match=f"theta={theta}"):
            IndirectConfig(theta=theta)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    store = ZooStore(tmp_path_factory.mktemp("cache"))
    ds = load_dataset("cancer")
    signals = build_signals(ds, SPEC, store, k=10, n_targets=4, seed=0)
    return ds, store, signals


def test_positive_references_raise_the_record_class_at_the_record(small):
    ds, store, signals = small
    r = int(signals.split.pool[0])
    pos = positive_references(store, ds, signals.references, r, SMALL, seed=1)
    assert pos.n_models == 10 and (pos.counts()[:, r] > 0).all()
    # Adding r pushes p(y_r | r) up in (nearly) every reference model.
    assert influence(pos, signals.references, ds.x[[r]], int(ds.y[r]))[0] >= 0.9
    # Cached: asking again trains nothing and returns the same stack.
    assert positive_references(store, ds, signals.references, r, SMALL, seed=1).key == pos.key


def test_optimisation_raises_the_influence(small):
    ds, store, signals = small
    r = int(signals.split.pool[0])
    label = int(ds.y[r])
    pos = positive_references(store, ds, signals.references, r, SMALL, seed=1)
    start = uniform_queries(ds.schema, 40, np.random.default_rng(3))
    before = influence(pos, signals.references, start, label)
    cfg = IndirectConfig(theta=0.8, gamma=0.05, opt_steps=100, opt_lr=0.05)
    moved = optimise_queries(pos, signals.references, start, label, ds, cfg)
    np.testing.assert_allclose(project(moved, ds.schema), moved, atol=1e-6)
    assert influence(pos, signals.references, moved, label).mean() >= before.mean()


def test_indirect_attack_never_queries_the_record(small, tmp_path, monkeypatch):
    ds, store, _ = small
    sent = []
    real = ZooTargets.predict_proba

    def spy(self, x):
        sent.append(np.array(x))
        return real(self, x)

    monkeypatch.setattr(ZooTargets, "predict_proba", spy)
    result = run_table3(ds, store, Table3Config(spec=SPEC, indirect=SMALL, k=10, n_targets=4), out=tmp_path)
    queried = np.concatenate(sent)
    r = ds.x[result.record]
    duplicates = np.flatnonzero(same_record(ds.x, r))  # the record and every exact twin of it
    assert result.record in duplicates
    assert not same_record(queried, r).any()
    assert len(queried) == result.n_enhancing == result.queries_sent > 0
    assert len(result.direct) == len(result.indirect) == 2
    assert json.loads((tmp_path / "partial.json").read_text())["record"] == result.record


def test_run_indirect_guard_raises_if_the_record_itself_is_queried(small, monkeypatch):
    """The never-query guard is live: a search that (wrongly) returns r makes run_indirect fail."""
    ds, store, signals = small
    r = int(signals.split.pool[0])
    real = indirect_mod.find_enhancing

    def leaky(positives, references, dataset, record, cfg, rng):
        found = real(positives, references, dataset, record, cfg, rng)
        twin = dataset.x[[record]].copy()  # an exact duplicate of r, not the row object itself
        return dataclasses.replace(found, queries=np.vstack([found.queries, twin]))

    monkeypatch.setattr(indirect_mod, "find_enhancing", leaky)
    target = ZooTargets(signals.targets)
    with pytest.raises(RuntimeError, match=f"queried record {r} itself; this is a bug"):
        run_indirect(store, ds, signals.references, r, SMALL, target.predict_proba, seed=0)


def test_run_indirect_lets_a_spent_budget_through_after_reporting_the_search(small):
    ds, store, signals = small
    r = int(signals.split.pool[0])
    seen = []

    def spent(x):
        raise QueryBudgetExhausted("query budget of 0 records is spent")

    with pytest.raises(QueryBudgetExhausted):
        run_indirect(store, ds, signals.references, r, SMALL, spent, seed=0, on_search=seen.append)
    assert len(seen) == 1 and seen[0].record == r
    answered = run_indirect(store, ds, signals.references, r, SMALL, ZooTargets(signals.targets).predict_proba, seed=0)
    assert answered.n_queries == answered.search.n_found == seen[0].n_found
    assert answered.pvalues.shape == (signals.targets.n_models,) and ((answered.pvalues >= 0) & (answered.pvalues <= 1)).all()
    assert QueryLog is indirect_mod.QueryLog  # one query log, below the attacks


def test_no_enhancing_record_is_one_sentence_and_keeps_partial_results(small, tmp_path, monkeypatch):
    ds, store, _ = small
    monkeypatch.setattr(indirect_mod, "influence", lambda pos, ref, q, label: np.zeros(len(q)))
    with pytest.raises(GmiaError, match="no enhancing record found .* try a lower --theta") as err:
        run_table3(ds, store, Table3Config(spec=SPEC, indirect=SMALL, k=10, n_targets=4), out=tmp_path)
    assert "\n" not in str(err.value)
    partial = json.loads((tmp_path / "partial.json").read_text())
    assert partial["n_enhancing"] == 0 and len(partial["medoid_influence"]) == partial["n_medoids"]


def test_record_must_be_in_range_and_in_the_pool(small):
    ds, store, signals = small
    with pytest.raises(GmiaError, match="record index 5000 is out of range"):
        run_table3(ds, store, Table3Config(spec=SPEC, indirect=SMALL, record=5000, k=10, n_targets=4))
    outside = int(signals.split.adversary[0])
    with pytest.raises(GmiaError, match=f"record {outside} is not in the target pool"):
        run_table3(ds, store, Table3Config(spec=SPEC, indirect=SMALL, record=outside, k=10, n_targets=4))


@pytest.mark.parametrize("args,words", [
    (["--theta", "1.5"], "theta=1.5"),
    (["--record", "-3"], "record index -3"),
    (["--correlation", "nope"], "'nope'"),
])
def test_table3_bad_input_exit_code(args, words, tmp_path, capsys):
    code = main(["reproduce", "table3", "--dataset", "cancer", "--k", "4", "--targets", "2",
                 "--cache-dir", str(tmp_path), *args])
    err = capsys.readouterr().err
    assert code == 2 and words in err and "Traceback" not in err
