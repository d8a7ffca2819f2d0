"""The Python API: one configuration whichever way a command is called, targets by protocol, budgets everywhere."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import gmia
import gmia.api.verbs as api
from gmia.cli import main
from gmia.base.errors import GmiaError
from gmia.models.file_format import from_sklearn
from gmia.zoo import TrainSpec

FAST = TrainSpec(hidden=(), optimizer="adam", lr=1e-2, steps=200, batch_size=10)


class Captured(Exception):
    """Raised in place of the engine: what matters is the config it was handed."""


@pytest.fixture
def capture(monkeypatch):
    seen = []

    def engine(*args, **kwargs):
        seen.append(next(a for a in args if hasattr(a, "resolve")))
        raise Captured

    for name in ("run_audit", "run_reproduce", "run_table3", "run_compare", "run_defend", "run_audit_dp"):
        monkeypatch.setattr(api, name, engine)
    return seen


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, cancer):
    path = tmp_path_factory.mktemp("model") / "target.safetensors"
    from_sklearn(LogisticRegression(max_iter=500).fit(cancer.x, cancer.y), cancer.schema).save(path)
    return path


COMMANDS = [
    (["reproduce", "table1"], lambda **kw: gmia.reproduce("table1", "cancer", **kw)),
    (["reproduce", "table2"], lambda **kw: gmia.reproduce("table2", "cancer", **kw)),
    (["reproduce", "table3"], lambda **kw: gmia.reproduce("table3", "cancer", **kw)),
    (["reproduce", "table4"], lambda **kw: gmia.reproduce("table4", "cancer", **kw)),
    (["reproduce", "table5"], lambda **kw: gmia.reproduce("table5", "cancer", **kw)),
    (["reproduce", "table7"], lambda **kw: gmia.reproduce("table7", "cancer", **kw)),
    (["compare"], lambda **kw: gmia.compare("cancer", **kw)),
    (["defend", "--sweep", "l2=0,0.01"], lambda **kw: gmia.defend("cancer", ["l2=0,0.01"], **kw)),
]


@pytest.mark.slow
@pytest.mark.parametrize("argv, call", COMMANDS, ids=[" ".join(c[0][:2]) for c in COMMANDS])
def test_cli_and_library_resolve_the_same_configuration(argv, call, capture, tmp_path):
    with pytest.raises(Captured):
        main([*argv, "--dataset", "cancer", "--cache-dir", str(tmp_path / "c"), "--out", str(tmp_path / "o")])
    with pytest.raises(Captured):
        call(cache_dir=tmp_path / "c", progress=False)
    from_cli, from_library = capture
    assert from_cli == from_library
    assert from_cli.dataset == "cancer" and from_cli.k == 100


def test_audit_cli_and_library_resolve_the_same_configuration(capture, tmp_path, model_file, cancer):
    with pytest.raises(Captured):
        main(["audit", "--dataset", "cancer", "--target-model", str(model_file), "--cache-dir", str(tmp_path / "c"),
              "--out", str(tmp_path / "o")])
    with pytest.raises(Captured):
        gmia.audit(gmia.Model.load(model_file), cancer, cache_dir=tmp_path / "c", progress=False)
    from_cli, from_library = capture
    assert from_cli == from_library
    assert from_cli.features == "raw" and (from_cli.delta, from_cli.beta, from_cli.cutoff) == (None, 0.1, 0.01)


def test_defend_defaults_are_the_commands_on_both_paths():
    """The disagreement that started the preset module: Adult's defend delta is 0.2 from Python too."""
    assert gmia.DefendConfig.resolve("adult").delta == 0.2
    assert gmia.DefendConfig.resolve("cancer").delta == 0.1


@pytest.mark.parametrize("argv, words", [
    (["--hidden", "0"], "hidden sizes '0' are invalid"),
    (["--train-size", "0"], "training-set size N 0 is invalid"),
    (["--budget", "0"], "query budget 0 is invalid"),
    (["--budget", "-3"], "query budget -3 is invalid"),
    (["--selection-features", "pixels"], "unknown selection features 'pixels'"),
    (["--delta", "3"], "delta=3.0 is out of range"),
    (["--attack", "sideways"], "unknown attack 'sideways'"),
])
@pytest.mark.slow
def test_audit_options_fail_before_any_model_trains(argv, words, tmp_path, capsys, model_file, monkeypatch):
    monkeypatch.setattr(api, "run_audit", lambda *a, **k: pytest.fail("the audit started with a bad option"))
    code = main(["audit", "--dataset", "cancer", "--target-model", str(model_file), "--cache-dir", str(tmp_path / "c"),
                 "--out", str(tmp_path / "o"), *argv])
    err = capsys.readouterr().err
    assert code == 2 and words in err and "Traceback" not in err, err
    assert not list((tmp_path / "c").rglob("*.safetensors"))


def test_error_text_keeps_brackets(tmp_path, capsys):
    """Messages print without console markup: a schema hint such as [str] reaches the user intact."""
    (tmp_path / "d.csv").write_text("a,b,y\n1,2,0\n3,4,1\n")
    (tmp_path / "s.json").write_text(json.dumps({"label": "y", "numeric": "a"}))
    code = main(["reproduce", "table1", "--dataset", str(tmp_path / "d.csv"), "--schema", str(tmp_path / "s.json"),
                 "--cache-dir", str(tmp_path / "c"), "--out", str(tmp_path / "o")])
    assert code == 2 and "[str]" in capsys.readouterr().err


def test_unknown_library_option_is_one_sentence():
    with pytest.raises(GmiaError, match="unknown option 'detla'"):
        gmia.ReproduceConfig.resolve("cancer", detla=0.1)


class OnlyProba:
    """A target of the user's own: nothing but predict_proba."""

    def __init__(self, model):
        self.model, self.calls = model, 0

    def predict_proba(self, x):
        self.calls += len(x)
        return self.model.predict_proba(x)


def test_any_object_with_predict_proba_is_a_target_and_a_budget_holds_for_it(tmp_path, cancer):
    model, members = gmia.train_target(cancer, cache_dir=tmp_path, steps=200, lr=1e-2)
    user = OnlyProba(model)
    assert isinstance(user, gmia.Target)
    kw = dict(k=10, beta=5.0, delta=0.1, steps=200, lr=1e-2, cache_dir=tmp_path, progress=False, members=members, references="paper")
    full = gmia.audit(user, cancer, **kw)
    # The tested records, then the calibration records (Cancer: 249 held out of the references).
    assert full.n_tested >= 3 and full.calibration["answered"] == 249
    assert user.calls == full.queries["sent"] <= full.n_tested + 249
    frame = full.to_frame()
    assert list(frame["record"]) == [r["record"] for r in full.records]
    assert {"p_value", "p_raw", "p_calibrated", "p_interval", "verdict", "neighbours", "expected_neighbours",
            "member"} <= set(frame.columns)
    assert (frame["p_value"] == frame["p_calibrated"]).all() and (frame["p_value"] >= 1 / 250).all()
    assert (frame["p_interval"].map(lambda iv: iv[0] <= iv[1])).all()
    assert "called member" in full.summary() and "calibration: the target answered 249" in full.summary()

    limited = gmia.audit(OnlyProba(model), cancer, budget=2, **kw)
    assert limited.stopped and "budget of 2 records is spent" in limited.stopped
    assert limited.queries["sent"] == 2
    lim = limited.to_frame()
    answered = lim["p_raw"].notna()
    assert answered.sum() == 2 and (lim.loc[~answered, "verdict"] == "not queried").all()
    # No budget left for calibration: no calibrated verdict rather than a raw one passed off as calibrated.
    assert (lim.loc[answered, "verdict"] == "no calibration answers").all() and lim["p_value"].isna().all()
    # The answered records got exactly the raw p-values of the unlimited audit.
    assert np.allclose(lim["p_raw"][answered], frame["p_raw"][: 2])

    raw = gmia.audit(OnlyProba(model), cancer, budget=2, pvalues="raw", **kw).to_frame()
    assert np.allclose(raw["p_value"][answered], frame["p_raw"][: 2])


def test_a_target_without_predict_proba_is_one_sentence(cancer):
    with pytest.raises(GmiaError, match="has no predict_proba"):
        gmia.audit(object(), cancer, progress=False)


def test_import_gmia_is_lazy():
    assert set(gmia.__all__) >= {"audit", "reproduce", "compare", "defend", "load_dataset", "Target"}
    with pytest.raises(AttributeError):
        gmia.no_such_thing  # noqa: B018


@pytest.mark.slow
def test_every_command_runs_from_python_with_frames_and_summaries(tmp_path):
    small = dict(k=8, n_targets=4, steps=100, lr=1e-2, cache_dir=tmp_path / "c", progress=False)
    table1 = gmia.reproduce("table1", "cancer", out=tmp_path / "t1", **small)
    frame = table1.to_frame()
    assert list(frame["cutoff"]) == [0.008, 0.01] and list(frame["paper_precision"]) == [1.0, 0.8889]
    assert "paper 100.00%" in table1.summary()
    assert (tmp_path / "t1" / "records.parquet").is_file() and (tmp_path / "t1" / "report.html").is_file()

    compared = gmia.compare("cancer", attacks=["gmia-direct", "loss"], n_inout=8, n_bootstrap=0, beta=50.0, **small)
    assert list(compared.to_frame()["attack"]) == ["gmia-direct", "loss"]
    assert "loss: AUC" in compared.summary()

    defended = gmia.defend("cancer", "l2=0,0.01", beta=50.0, out=tmp_path / "d", **small)
    assert list(defended.to_frame()["setting"]) == ["l2=0", "l2=0.01"]
    assert "l2=0.01: test accuracy" in defended.summary()
    assert (tmp_path / "d" / "tradeoff.png").is_file()


def test_members_must_be_record_indices(cancer, model_file):
    with pytest.raises(GmiaError, match="are not all record indices of 'cancer'"):
        gmia.audit(gmia.Model.load(model_file), cancer, members=[3, 10_000], progress=False)


def test_progress_counters_never_run_past_their_totals(tmp_path, cancer):
    """The tested records and the calibration records are counted apart: no "145/3 records"."""
    from gmia.auditing.run import AuditConfig, run_audit
    from gmia.targets import CountingTarget
    from gmia.zoo import TrainSpec, ZooStore

    spec = TrainSpec(hidden=(), optimizer="adam", lr=1e-2, steps=200, batch_size=10)
    model, _ = gmia.train_target(cancer, cache_dir=tmp_path, steps=200, lr=1e-2)
    counters = []

    def progress(description, total, done, unit=None):
        counter = {"what": description, "total": total, "done": done}
        counters.append(counter)
        return lambda n: counter.__setitem__("done", counter["done"] + n)

    target = CountingTarget(OnlyProba(model).predict_proba, cancer.schema)
    result = run_audit(cancer, target, ZooStore(tmp_path), AuditConfig(spec=spec, k=10, beta=5.0, delta=0.1),
                       progress=progress)
    queried = [c for c in counters if c["what"].startswith("querying")]
    # The tested records, the calibration records, then (the exchangeable design, the default) every other candidate.
    assert [c["what"] for c in queried] == ["querying the target", "querying the calibration records",
                                            "querying the other candidates"]
    assert all(c["done"] == c["total"] for c in queried), queried
    # Counted in distinct rows, as the target is asked (Cancer's exact duplicates share one answer).
    asked = [c["record"] for c in result.candidates]
    assert asked[: result.n_tested] == [r["record"] for r in result.records]
    assert queried[0]["total"] == len(np.unique(cancer.x[asked[: result.n_tested]], axis=0)) <= result.n_tested
    assert queried[2]["total"] <= len(np.unique(cancer.x[asked[result.n_tested:]], axis=0))
    assert queried[1]["total"] <= 249 and target.sent <= sum(c["total"] for c in queried)
