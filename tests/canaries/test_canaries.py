"""`gmia audit-dp`: canary sources, the result's shape, the command line's bad input, the report section."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest

from gmia.canaries import ATTACKS, SOURCES, AuditDpConfig
from gmia.canaries.choose import choose
from gmia.canaries.choose import check_canaries, inclusion, most_isolated
from gmia.canaries.run import check_disjoint
from gmia.cli import main
from gmia.data import load_bundled, paper_split
from gmia.base.errors import GmiaError
from gmia.protocol.run import split_adversary, target_train_size, train_references
from gmia.zoo import ZooStore

pytestmark = pytest.mark.usefixtures("one_torch_thread")

M = 40
TINY = dict(k=3, canaries=M, steps=60, seed=0)


@pytest.fixture(scope="module")
def pool(cancer):
    split = paper_split(cancer, seed=0)
    return split.pool, target_train_size(split.pool)


def test_random_and_mislabelled_canaries_come_from_the_pool_apart_from_the_base_set(cancer, pool):
    records, n = pool
    for source in ("random", "mislabelled"):
        c = choose(source, cancer.y, cancer.n_classes, records, M, n, seed=0)
        assert c.records.size == np.unique(c.records).size == M and np.isin(c.records, records).all()
        assert c.base.size == n and np.isin(c.base, records).all() and not np.isin(c.base, c.records).any()
        assert c.included.dtype == bool and c.included.size == M
        assert np.array_equal(c.training_set, np.sort(np.r_[c.base, c.records[c.included]]))
        assert c.n_train == n + c.included.sum()
    random = choose("random", cancer.y, cancer.n_classes, records, M, n, seed=0)
    flipped = choose("mislabelled", cancer.y, cancer.n_classes, records, M, n, seed=0)
    assert np.array_equal(random.labels, cancer.y[random.records])
    assert (flipped.labels != cancer.y[flipped.records]).all()
    assert ((flipped.labels >= 0) & (flipped.labels < cancer.n_classes)).all()


def test_sources_are_seeded_and_independent_of_each_other(cancer, pool):
    records, n = pool
    a = choose("random", cancer.y, cancer.n_classes, records, M, n, seed=3)
    b = choose("random", cancer.y, cancer.n_classes, records, M, n, seed=3)
    c = choose("random", cancer.y, cancer.n_classes, records, M, n, seed=4)
    assert np.array_equal(a.records, b.records) and np.array_equal(a.included, b.included)
    assert np.array_equal(a.base, b.base) and a.train_seed == b.train_seed
    assert not np.array_equal(a.records, c.records)
    # Each source draws from its own stream: random and mislabelled canaries are not the same records.
    assert not np.array_equal(a.records, choose("mislabelled", cancer.y, cancer.n_classes, records, M, n, seed=3).records)


def test_each_canary_is_included_with_probability_one_half():
    flags = inclusion(0, "gmia", 20_000)
    assert abs(flags.mean() - 0.5) < 0.015
    # Independent across canaries: the next canary's flag does not follow this one's.
    assert abs(np.mean(flags[1:] == flags[:-1]) - 0.5) < 0.015


def test_gmia_canaries_are_the_most_isolated_pool_records():
    rng = np.random.default_rng(0)
    adversary = rng.normal(size=(300, 5)) + np.array([5, 0, 0, 0, 0])  # one cloud
    pool_features = np.r_[rng.normal(size=(20, 5)) + np.array([5, 0, 0, 0, 0]),  # inside it
                          rng.normal(size=(5, 5)) - np.array([5, 0, 0, 0, 0])]  # far from it: no neighbour
    pool = np.arange(100, 125)
    chosen, counts = most_isolated(pool_features, adversary, pool, 8, delta=0.05)
    assert set(chosen[:5]) == set(range(120, 125)) and (counts[:5] == 0).all()
    assert (np.diff(counts) >= 0).all()  # most isolated first
    assert counts[-1] <= np.sort(most_isolated(pool_features, adversary, pool, 25, delta=0.05)[1])[8]


def test_too_many_canaries_and_references_holding_a_canary_are_refused():
    with pytest.raises(GmiaError, match="at most 100 canaries"):
        check_canaries(101, 200, 100)
    refs = SimpleNamespace(index_sets=np.array([[1, 2, 3], [4, 5, 6]]))
    check_disjoint(np.array([7, 8]), refs)
    with pytest.raises(RuntimeError, match="reference"):
        check_disjoint(np.array([5, 8]), refs)


@pytest.mark.parametrize("options,words", [
    (dict(sources=("nope",)), ["'nope'", "gmia, random, mislabelled"]),
    (dict(sources=("random", "random")), ["'random'", "twice"]),
    (dict(sources=()), ["no canary source"]),
    (dict(canaries=1), ["canaries 1"]),
    (dict(dp_epsilon=0.0), ["dp-epsilon=0.0", "inf for no DP"]),
    (dict(dp_epsilon=float("nan")), ["dp-epsilon=nan"]),
    (dict(confidence=1.0), ["confidence=1"]),
    (dict(calibration_size=0), ["calibration size 0"]),
])
def test_config_refuses_bad_options(options, words):
    with pytest.raises(GmiaError) as exc:
        AuditDpConfig(**options)
    for w in words:
        assert w in str(exc.value)


def test_config_resolves_from_the_preset_and_keeps_the_sources_order():
    cfg = AuditDpConfig.resolve("cancer", sources=("mislabelled", "gmia"), steps=10)
    assert cfg.sources == ("gmia", "mislabelled") and cfg.spec.steps == 10 and cfg.canaries is None
    assert cfg.canaries_for(20000, 10000) == 1000 and cfg.canaries_for(200, 100) == 100  # the default, or what fits
    assert cfg.delta == 0.1 and math.isinf(cfg.dp_epsilon) and not cfg.private
    with pytest.raises(GmiaError, match="unknown option 'sweep' for audit-dp"):
        AuditDpConfig.resolve("cancer", sweep="x")


@pytest.fixture(scope="module")
def tiny(cancer, tmp_path_factory):
    """A tiny run through the Python API, with a run folder: (result, store, run folder)."""
    from gmia.api import audit_dp

    root = tmp_path_factory.mktemp("audit-dp")
    store = ZooStore(root / "cache")
    out = root / "run"
    return audit_dp(cancer, store=store, out=out, progress=False, **TINY), store, out


@pytest.mark.slow
def test_result_has_one_row_per_source_and_attack(tiny):
    result, _, _ = tiny
    frame = result.to_frame()
    assert list(frame.columns[:6]) == ["source", "attack", "epsilon", "epsilon_fdp_estimate", "relation", "guesses"]
    assert {"accountant_epsilon", "seconds"} <= set(frame.columns)
    assert len(frame) == len(SOURCES) * len(ATTACKS)
    assert list(frame["source"].unique()) == list(SOURCES) and (frame["epsilon"] >= 0).all()
    for s in result.sources:
        assert len(s.records) == len(s.included) == len(s.labels) == M
        assert set(s.scores) == set(s.bounds) == set(ATTACKS)
        assert all(len(v) == M and np.isfinite(v).all() for v in s.scores.values())
        assert s.dp is None and s.accountant_epsilon is None and s.seconds > 0
        assert s.n_train == result.config["n_train"] + sum(s.included)
    assert result.source("gmia").neighbours == sorted(result.source("gmia").neighbours)
    assert "mislabelled" in result.summary() and result.references["k"] == 3
    json.dumps(result.to_dict(), default=float)  # plain data


def test_no_reference_model_holds_a_canary_and_mislabelled_targets_train_on_their_own_labels(cancer, tiny):
    result, store, _ = tiny
    cfg = AuditDpConfig.resolve("cancer", **TINY)
    split = paper_split(cancer, seed=0)
    reference_records, _ = split_adversary(split.adversary, 0)
    references = train_references(cancer, cfg.spec, store, reference_records, 3, target_train_size(split.pool), 0)
    for s in result.sources:  # loaded from the store: the run's own references
        assert not np.isin(s.records, references.index_sets).any()
    fingerprints = {json.loads(p.read_text())["data_fingerprint"] for p in store.root.glob("*/meta.json")}
    assert len(list(store.root.glob("*/meta.json"))) == 1 + len(SOURCES)  # nothing trained twice
    assert fingerprints - {cancer.fingerprint()}  # the mislabelled target's data has its flipped labels


@pytest.mark.slow
def test_report_section_shows_each_source_and_its_score_distributions(tiny):
    from gmia.report import build_report, load_run
    from gmia.report.canaries import audit_dp as audit_dp_section

    _, _, out = tiny
    page = (out / "report.html").read_text()
    assert "One-run privacy audit with canaries" in page
    for source in SOURCES:
        assert f"{source} canaries" in page
    assert page.count("<svg") >= len(SOURCES) and "IN guesses" in page
    results, records = load_run(out)  # rebuilt from results.json, where inf is null
    assert results["kind"] == "audit-dp" and results["config"]["dp_epsilon"] is None
    assert "One-run privacy audit" in build_report(results, records)
    assert audit_dp_section({"kind": "defend", "config": {}}, None) is None


def run_cli(args, capsys, tmp_path):
    code = main(["audit-dp", "--dataset", "cancer", *args, "--cache-dir", str(tmp_path / "cache"),
                 "--out", str(tmp_path / "run")])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("args,words", [
    (["--source", "nope"], ["canary source 'nope'", "mislabelled"]),
    (["--dp-epsilon", "0"], ["dp-epsilon=0.0", "inf for no DP"]),
    (["--canaries", "1"], ["canaries 1"]),
    (["--canaries", "150"], ["150 canaries", "at most 100"]),
    (["--dp-epsilon", "2", "--dp-delta", "0.5"], ["delta=0.5", "1/N"]),
    (["--confidence", "2"], ["confidence=2"]),
])
def test_cli_bad_input_is_one_sentence_and_exit_2_before_any_training(args, words, capsys, tmp_path):
    code, _, err = run_cli([*args, "--k", "3", "--steps", "10"], capsys, tmp_path)
    assert code == 2 and "Traceback" not in err, err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for w in words:
        assert w in err, err
    assert not list((tmp_path / "cache").glob("*/chunk_*"))  # no model trained


@pytest.mark.slow
def test_cli_runs_a_tiny_audit(capsys, tmp_path):
    code, out, _ = run_cli(["--canaries", "20", "--source", "random", "--k", "2", "--steps", "20", "--dp-epsilon", "4",
                            "--dp-delta", "1e-3"], capsys, tmp_path)
    assert code == 0
    assert "One-run audit on cancer" in out and "random" in out and "lira-offline" in out and "accountant" in out
    assert (tmp_path / "run" / "report.html").is_file()
