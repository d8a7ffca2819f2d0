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
from gmia.attacks.indirect_null import (NOT_CALIBRATED, NullCheck, choose_null_records, excess_p, null_check, null_records_for,
                                        pairs_needed)
from gmia.auditing.run import AuditConfig, run_audit
from gmia.cli import main
from gmia.data import load_bundled
from gmia.base.errors import GmiaError
from gmia.protocol.evaluate import run_selection
from gmia.experiments.table3 import Table3Config, choose_record, run_table3
from gmia.protocol.run import build_signals, split_adversary, train_references
from gmia.stats.select import count_neighbours, selection_features
from gmia.data.queries import gaussian_queries, project, same_record, uniform_queries
from gmia.targets import CountingTarget, QueryBudgetExhausted, QueryLog, ZooTargets
from gmia.zoo import TrainSpec, ZooStore

SPEC = TrainSpec(steps=300, batch_size=10, lr=1e-2)
# Five null records: small enough for a test; the default would size the check to the cutoff.
SMALL = IndirectConfig(theta=0.8, n_candidates=300, n_clusters=20, positive_steps=150, opt_steps=30, max_optimised=10,
                       null_records=5)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["adult", "cancer"])
def test_uniform_queries_honour_the_schema(name):
    ds = load_bundled(name)
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
    ds = load_bundled("adult")
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
    ds = load_bundled("cancer")
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


@pytest.mark.slow
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
    assert not same_record(queried, r).any()  # nor while the null check ran
    assert result.n_enhancing == result.queries_sent > 0
    assert len(queried) == result.queries_sent + result.null_check["n_queries"]
    assert len(result.direct) == len(result.indirect) == 2
    assert json.loads((tmp_path / "partial.json").read_text())["record"] == result.record


def test_run_indirect_guard_raises_if_the_record_itself_is_queried(small, monkeypatch):
    """The never-query guard is live: a search that (wrongly) returns r makes run_indirect fail."""
    ds, store, signals = small
    r = int(signals.split.pool[0])
    real = indirect_mod.find_enhancing

    def leaky(positives, references, dataset, record, cfg, rng, avoid=None):
        found = real(positives, references, dataset, record, cfg, rng, avoid=avoid)
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
    with pytest.raises(GmiaError, match=r"no enhancing record found .* try a lower theta= \(--theta\)") as err:
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


# --- The indirect test's null check (gmia.attacks.indirect_null) ---------------------------------

def overconfident(predict_proba, label: int, power: float = 0.2):
    """A black box that answers p_y -> p_y ** power (renormalised) for class ``label`` at every query."""
    def answer(x):
        p = np.array(predict_proba(x), dtype=np.float64)
        p[..., label] = p[..., label] ** power
        return p / p.sum(axis=-1, keepdims=True)
    return answer


@pytest.fixture(scope="module")
def attacked(small):
    """The record table3 attacks on the small protocol, and its null records."""
    ds, store, signals = small
    cfg = Table3Config(spec=SPEC, indirect=SMALL, k=10, n_targets=4)
    r = choose_record(signals, None, cfg.delta, cfg.beta, cfg.scaling, cfg.features)[0]
    delta = run_selection(signals, cfg.delta, cfg.beta, cfg.scaling, cfg.features).delta  # as selection used it
    f = selection_features(cfg.features, signals.reference_logits, ds.x)
    chosen = choose_null_records(ds, r, signals.calibration, signals.split.adversary, f, delta, 5)
    return dataclasses.replace(cfg, delta=delta), r, chosen


def test_null_rule_is_a_one_sided_binomial_test():
    assert excess_p(0, 5, 0.01) == 1.0
    assert excess_p(1, 5, 0.01) == pytest.approx(1 - 0.99**5)  # < 0.05: one null call of 5 flags p < 0.01
    assert excess_p(2, 5, 0.1) > 0.05 > excess_p(3, 5, 0.1)

    def check(p):
        p = np.asarray(p, dtype=float)
        return NullCheck(record=0, records=np.arange(len(p)), pvalues=p, n_enhancing=np.ones(len(p), int), n_queries=0)

    one = check([[0.001], [0.5], [0.7], [0.2], [0.9]])
    assert one.calls(0.01) == 1 and one.n_pairs == 5 and one.fraction(0.01) == 0.2
    assert one.rejected(0.01) is True and one.verdict(0.001, 0.01) == NOT_CALIBRATED
    assert one.rejected(0.1) is False and one.verdict(0.05, 0.1) == "member" and one.verdict(0.5, 0.1) == "no evidence"
    # Not rejected is not shown calibrated: 5 pairs without a call bound the null call rate only by 0.45.
    assert not one.large_enough(0.001) and one.upper_bound(0.001) == pytest.approx(1 - 0.05 ** (1 / 5), rel=1e-9)
    assert one.at([0.001])["0.001"] == {"calls": 0, "pairs": 5, "fraction": 0.0, "upper_bound": one.upper_bound(0.001),
                                        "excess_p": 1.0, "null_rejected": False, "large_enough": False}
    # A calibrated test: uniform null p-values are not flagged at any cutoff; NaN pairs do not count.
    uniform = check(np.r_[(np.arange(1000) + 0.5) / 1000, np.nan].reshape(-1, 1))
    assert uniform.n_pairs == 1000 and not any(uniform.rejected(c) for c in (0.01, 0.05, 0.1, 0.5))
    # 1,000 pairs are enough for every one of these cutoffs; the bound still says how high the rate may be.
    assert all(uniform.large_enough(c) for c in (0.01, 0.05, 0.1, 0.5))
    assert 0.01 < uniform.upper_bound(0.01) < 0.02
    # No pair (no enhancing query, or nothing answered): unchecked, the claim stays, and nothing is supported.
    none = check([[np.nan]])
    assert none.rejected(0.01) is None and none.verdict(0.001, 0.01) == "member" and not none.large_enough(0.5)


def test_the_default_null_check_size_supports_its_cutoff():
    """pairs_needed(α) null pairs without a call bound the null call rate by α at 95%, one fewer does not."""
    for alpha in (0.001, 0.01, 0.05, 0.1):
        n = pairs_needed(alpha)
        assert (1 - alpha) ** n <= 0.05 < (1 - alpha) ** (n - 1)
        clean = NullCheck(record=0, records=np.arange(n), pvalues=np.full((n, 1), 0.9), n_enhancing=np.ones(n, int), n_queries=0)
        short = NullCheck(record=0, records=np.arange(n - 1), pvalues=np.full((n - 1, 1), 0.9),
                          n_enhancing=np.ones(n - 1, int), n_queries=0)
        assert clean.upper_bound(alpha) <= alpha < short.upper_bound(alpha)
        assert clean.large_enough(alpha) and not short.large_enough(alpha)
    assert pairs_needed(0.01) == 299 and null_records_for(0.01, 100) == 3 and null_records_for(0.01, 1) == 299


def test_null_records_are_isolated_untrained_calibration_records_of_the_class(small, attacked):
    ds, store, signals = small
    cfg, r, chosen = attacked
    assert len(chosen) == 5 and set(chosen) <= set(signals.calibration.tolist())
    assert (ds.y[chosen] == ds.y[r]).all()
    assert not np.isin(chosen, signals.references.index_sets).any()  # no reference model trained on them
    assert not np.isin(chosen, signals.split.pool).any()  # nor any target
    outside = np.setdiff1d(np.arange(len(ds)), signals.calibration)
    for c in chosen:  # no exact twin outside the calibration set, so none of r's twins
        assert not same_record(ds.x[outside], ds.x[c]).any()
    # Most isolated first: no eligible calibration record of the class has fewer neighbours.
    f = selection_features(cfg.features, signals.reference_logits, ds.x)
    every = choose_null_records(ds, r, signals.calibration, signals.split.adversary, f, cfg.delta, len(ds))
    counts = count_neighbours(f[every], f[signals.split.adversary], cfg.delta)
    assert (np.diff(counts) >= 0).all() and (every[:5] == chosen).all()
    assert len(choose_null_records(ds, r, signals.calibration, signals.split.adversary, f, cfg.delta, 0)) == 0


def test_overconfident_targets_are_flagged_not_calibrated_and_keep_their_pvalues(small, attacked, monkeypatch):
    ds, store, signals = small
    cfg, r, chosen = attacked
    sent = []
    real = ZooTargets.predict_proba

    def spy(self, x):
        sent.append(np.array(x))
        return overconfident(lambda q: real(self, q), int(ds.y[r]))(x)

    monkeypatch.setattr(ZooTargets, "predict_proba", spy)
    result = run_table3(ds, store, dataclasses.replace(cfg, record=r))
    null = result.null_check
    assert null["records"] == chosen.tolist() and null["n_queries"] > 0
    for c in cfg.cutoffs:
        at = null["cutoffs"][f"{c:g}"]
        assert at["null_rejected"] is True and at["calls"] > c * at["pairs"] and at["excess_p"] < 0.05
        assert result.indirect_verdicts[f"{c:g}"] == [NOT_CALIBRATED] * 4
    # The raw p-values and raw calls stay in the result (and in results.json).
    assert len(result.card["p_values"]) == 4 and sum(row.tp + row.fp for row in result.indirect) > 0
    assert np.asarray(null["pvalues"]).shape == (5, 4)
    frame = result.to_frame()
    assert (frame["indirect_not_calibrated"] == 4).all() and frame["indirect_null_rejected"].all()
    assert NOT_CALIBRATED in result.summary()
    json.dumps(result.to_dict())
    # Neither the record nor a null record was ever sent.
    queried = np.concatenate(sent)
    for record in (r, *chosen):
        assert not same_record(queried, ds.x[record]).any()


def test_reference_like_targets_are_not_flagged_where_the_test_holds(small, attacked):
    """Targets trained exactly like the references: the null check reports their null fraction,
    and at a cutoff where the test holds its level they keep membership claims while the
    overconfident version of the same targets is flagged (so the flag is not always on)."""
    ds, store, signals = small
    cfg, r, chosen = attacked
    reference_records, _ = split_adversary(signals.split.adversary, 0)
    like = ZooTargets(train_references(ds, SPEC, store, reference_records, 10, signals.n_train, seed=101))
    plain = null_check(store, ds, signals.references, r, chosen, SMALL, like.predict_proba, 0)
    sharp = null_check(store, ds, signals.references, r, chosen, SMALL, overconfident(like.predict_proba, int(ds.y[r])), 0)
    assert plain.n_pairs == sharp.n_pairs == 50
    assert plain.fraction(0.01) <= plain.fraction(0.5)  # reported at every cutoff: a looser one calls no fewer
    assert plain.rejected(0.5) is False and plain.verdict(0.3, 0.5) == "member"
    assert sharp.rejected(0.5) is True and sharp.fraction(0.5) > plain.fraction(0.5)


def test_null_check_never_sends_the_record_or_a_null_record(small, attacked, monkeypatch):
    ds, store, signals = small
    cfg, r, chosen = attacked
    log = QueryLog(ZooTargets(signals.targets).predict_proba)
    check = null_check(store, ds, signals.references, r, chosen, SMALL, log.predict_proba, 0)
    assert check.n_queries == log.n_queries == check.n_enhancing.sum() > 0
    assert not any(log.sent(ds.x[c]) for c in (r, *chosen))
    # The guard is live: a search that (wrongly) returns the attacked record fails loudly.
    real = indirect_mod.find_enhancing

    def leaky(positives, references, dataset, record, cfg, rng, avoid=None):
        found = real(positives, references, dataset, record, cfg, rng, avoid=avoid)
        return dataclasses.replace(found, queries=np.vstack([found.queries, avoid]))

    monkeypatch.setattr(indirect_mod, "find_enhancing", leaky)
    with pytest.raises(RuntimeError, match="queried a record it must never send; this is a bug"):
        null_check(store, ds, signals.references, r, chosen[:1], SMALL, ZooTargets(signals.targets).predict_proba, 0)


def test_audit_flags_an_overconfident_target_and_a_spent_budget_keeps_the_answers(small):
    ds, store, signals = small
    model = ZooTargets(signals.targets)
    first = lambda x: model.predict_proba(x)[0]  # noqa: E731  one target of the protocol
    cfg = AuditConfig(spec=SPEC, k=10, features="logits", attack="indirect", max_records=1, indirect=SMALL)
    r = run_audit(ds, CountingTarget(first, ds.schema), store, dataclasses.replace(cfg, attack="direct")).records[0]["record"]
    label = int(ds.y[r])
    result = run_audit(ds, CountingTarget(overconfident(first, label), ds.schema), store, cfg)
    row = result.records[0]
    assert row["record"] == r and row["verdict_indirect"] == NOT_CALIBRATED and row["indirect_null_rejected"] is True
    assert 0.0 <= row["p_indirect"] <= 1.0 and row["null_pairs"] == 5 and row["null_calls"] >= 1
    assert len(row["null_p"]) == len(row["null_records"]) == 5 and result.stopped is None
    assert NOT_CALIBRATED in result.summary()
    # Null queries count against the budget: room for r's queries and the first null record's only.
    budget = row["n_enhancing"] + row["null_enhancing"][0]
    spent = run_audit(ds, CountingTarget(overconfident(first, label), ds.schema, budget=budget), store, cfg)
    kept = spent.records[0]
    assert spent.stopped and "budget" in spent.stopped
    assert kept["p_indirect"] == row["p_indirect"] and kept["null_pairs"] == 1
    assert kept["null_p"][0] == row["null_p"][0] and np.isnan(kept["null_p"][1:]).all()
    # Off: no null check, the raw verdict stays.
    off = run_audit(ds, CountingTarget(overconfident(first, label), ds.schema), store,
                    dataclasses.replace(cfg, indirect=dataclasses.replace(SMALL, null_records=0))).records[0]
    assert "null_calls" not in off and off["verdict_indirect"] in ("member", "no evidence")


@pytest.mark.parametrize("command", [["reproduce", "table3", "--k", "4", "--targets", "2"],
                                     ["audit", "--target-model", "missing.safetensors", "--attack", "indirect"]])
def test_negative_null_records_is_refused_in_one_sentence(command, tmp_path, capsys):
    code = main([*command, "--dataset", "cancer", "--null-records", "-1", "--cache-dir", str(tmp_path),
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "number of null records -1 is invalid" in err and "Traceback" not in err
    assert "\n" not in err.split("number of null records")[1]


@pytest.mark.slow
def test_a_registered_indirect_test_reaches_the_audit_and_table3(tmp_path, monkeypatch):
    """The audit and Table 3 run GMIA's indirect test through the registry, as the direct one:
    a registered replacement of "gmia-indirect" is what they run."""
    from gmia.attacks import registry
    from gmia.attacks.indirect import GmiaIndirect

    assert isinstance(registry.indirect_test(indirect_mod.IndirectConfig()), GmiaIndirect)
    ran = []

    class Replacement:
        def __init__(self, config):
            self.config = config

        def run(self, store, dataset, references, record, predict_proba, seed, **options):
            ran.append(record)
            raise GmiaError("the replacement ran")

    monkeypatch.setitem(registry.RECORD_ATTACKS, "gmia-indirect", lambda: Replacement)
    data = load_bundled("cancer")
    spec = TrainSpec(steps=100, batch_size=10, lr=1e-2)
    model = build_signals(data, spec, ZooStore(tmp_path), k=4, n_targets=2, seed=0).targets
    target = CountingTarget(lambda x: torch_proba(model, x), data.schema)
    with pytest.raises(GmiaError, match="the replacement ran"):
        run_audit(data, target, ZooStore(tmp_path), AuditConfig(spec=spec, k=4, attack="indirect", beta=5.0, delta=0.3))
    with pytest.raises(GmiaError, match="the replacement ran"):
        run_table3(data, ZooStore(tmp_path), Table3Config(spec=spec, k=4, n_targets=2))
    assert len(ran) == 2


def torch_proba(zoo, x):
    from scipy.special import softmax

    return softmax(zoo.logits(x)[0].astype(np.float64), axis=-1)
