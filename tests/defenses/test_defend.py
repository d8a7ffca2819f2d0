"""`gmia defend` and `reproduce table4|table5` at a size a test can afford (Cancer, few models)."""

from __future__ import annotations

import json

import pytest

from gmia.cli import main
from gmia.data import load_bundled, paper_split
from gmia.defenses import epsilon_for, noise_for
from gmia.defenses.config import DefendConfig
from gmia.defenses.run import run_defend
from gmia.protocol.run import target_train_size
from gmia.protocol.run import build_signals
from gmia.zoo import TrainSpec, ZooStore

SPEC = TrainSpec(hidden=(), optimizer="adam", lr=1e-2, steps=300, batch_size=10)
SMALL = dict(k=20, n_targets=10, delta=0.1, beta=0.5)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return ZooStore(tmp_path_factory.mktemp("defend-cache"))


def test_dropping_the_flagged_records_leaves_none_of_them_a_member(store):
    result = run_defend(load_bundled("cancer"), store, DefendConfig(spec=SPEC, sweep=("drop-vulnerable=false,true",), **SMALL))
    kept, dropped = result.rows
    assert kept.dropped == 0 and dropped.dropped == kept.baseline_records["n"] > 0
    # No target trained on a dropped record, so every call on them is a false positive.
    assert dropped.baseline_records["member_pairs"] == 0 and dropped.baseline_records["tp"] == 0
    assert kept.baseline_records["member_pairs"] > 0


def test_output_perturbation_is_mirrored_and_label_only_blinds_the_loss(store):
    result = run_defend(load_bundled("cancer"), store, DefendConfig(spec=SPEC, sweep=("label-only=false,true",), **SMALL))
    full, label_only = result.rows
    assert label_only.output["label_only"] and label_only.test_accuracy == full.test_accuracy
    # A one-hot answer gives every correctly classified record the same loss: no ranking left.
    assert label_only.roc.auc == pytest.approx(0.5, abs=0.02)
    # And no better at the smallest FPR (one pair in a thousand of slack: both are near zero here).
    assert label_only.roc.tpr["0.001"] <= full.roc.tpr["0.001"] + 1e-3 + 1e-12


@pytest.mark.slow
def test_dp_setting_carries_its_guarantee(store):
    result = run_defend(load_bundled("cancer"), store, DefendConfig(spec=SPEC, sweep=("dp-epsilon=2,inf",), dp_delta=1e-3, **SMALL))
    private, plain = result.rows
    assert 1.9 <= private.dp["epsilon"] <= 2.0 and private.dp["noise"] > 1 and private.spec["dp_clip"] == 1.0
    assert plain.dp is None and plain.spec["dp_clip"] is None
    assert private.train_accuracy - private.test_accuracy <= 0.05


@pytest.mark.slow
@pytest.mark.parametrize("dp_sweep", ["dp-epsilon=4", "dp-noise=1.2"])
def test_accountant_uses_the_sampling_rate_the_targets_train_at(store, monkeypatch, dp_sweep):
    """q = batch / N with N the trained targets' own training-set size, drop-vulnerable cells included
    (their dropped records shrink N); epsilon, and sigma for a target epsilon, at that q."""
    import gmia.defenses.run as defend_run

    trained = []  # (excluded?, N of the targets, the noise they trained with), one per protocol run

    def spy(dataset, spec, store, *args, exclude=None, **kwargs):
        signals = build_signals(dataset, spec, store, *args, exclude=exclude, **kwargs)
        trained.append((exclude is not None, int(signals.targets.index_sets.shape[1]), spec.dp_noise))
        return signals

    monkeypatch.setattr(defend_run, "build_signals", spy)
    spec = SPEC.model_copy(update={"steps": 100})
    cfg = DefendConfig(spec=spec, sweep=(dp_sweep, "drop-vulnerable=false,true"), dp_delta=1e-3, **SMALL)
    result = run_defend(load_bundled("cancer"), store, cfg)
    runs = iter(trained[1:])  # the first is the undefended baseline
    rows = result.rows
    assert [r.setting["drop-vulnerable"] for r in rows] == [False, True]
    assert rows[0].dropped == 0 and rows[1].dropped > 0  # the drop cell trains on fewer records
    sizes = []
    for row in rows:
        if row.setting["drop-vulnerable"]:
            assert not next(runs)[0]  # the provider's own audit, on the whole pool
        excluded, n, noise = next(runs)
        sizes.append(n)
        assert excluded == row.setting["drop-vulnerable"]
        q = spec.batch_size / n
        assert row.dp["sample_rate"] == q
        assert row.dp["epsilon"] == epsilon_for(row.dp["noise"], q, spec.steps, cfg.dp_delta, cfg.accountant)
        if "dp-epsilon" in row.setting:  # sigma solved at the trainer's q
            assert row.dp["noise"] == noise_for(row.setting["dp-epsilon"], q, spec.steps, cfg.dp_delta, cfg.accountant)
        assert noise == row.dp["noise"] == row.spec["dp_noise"]  # the noise the targets trained with
    assert next(runs, None) is None
    assert [r.n_train for r in rows] == sizes == [100, (200 - rows[1].dropped) // 2]  # Cancer's pool: 200 records


@pytest.mark.parametrize("n_excluded", [0, 3, 4])
def test_target_train_size_follows_the_protocol(store, n_excluded):
    """The N the accountant is given is the N build_signals trains targets on (odd leftovers rounded down)."""
    data = load_bundled("cancer")
    pool = paper_split(data).pool
    exclude = pool[::7][:n_excluded] if n_excluded else None
    signals = build_signals(data, SPEC.model_copy(update={"steps": 1}), store, k=2, n_targets=2, exclude=exclude)
    assert target_train_size(pool, exclude) == signals.n_train == (pool.size - n_excluded) // 2


@pytest.mark.slow
def test_cli_defend_writes_table_figure_and_report(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["defend", "--dataset", "cancer", "--sweep", "l2=0,0.01", "--sweep", "dp-epsilon=100,inf", "--k", "10",
            "--targets", "4", "--steps", "200", "--lr", "0.01", "--dp-delta", "1e-3", "--cache-dir", str(tmp_path / "c"),
            "--out", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "Utility against attack success per setting" in text and "means nothing" in text
    results = json.loads((out / "results.json").read_text())
    assert [r["label"] for r in results["rows"]] == ["l2=0, dp-epsilon=100", "l2=0, dp-epsilon=inf",
                                                     "l2=0.01, dp-epsilon=100", "l2=0.01, dp-epsilon=inf"]
    assert (out / "tradeoff.png").stat().st_size > 10_000 and (out / "tradeoff.svg").read_text().startswith("<?xml")
    html = (out / "report.html").read_text()
    section = html[html.index("Defences: utility against attack success"):]
    # The trade-off figure in the report itself, with every setting in its legend.
    assert "<figure" in section[:section.index("</figure>")] and "<svg" in section[:section.index("</figure>")]
    assert all(label in section[:section.index("</figure>")] for label in ("l2=0, dp-epsilon=100", "l2=0.01, dp-epsilon=inf"))


@pytest.mark.slow
def test_reproduce_table4_runs_scaled_down(tmp_path, capsys):
    assert main(["reproduce", "table4", "--dataset", "cancer", "--k", "10", "--targets", "4",
                 "--cache-dir", str(tmp_path / "c"), "--out", str(tmp_path / "t4")]) == 0
    assert "Scaled down: cancer instead of MNIST; steps 300 and 3000" in capsys.readouterr().out
    results = json.loads((tmp_path / "t4" / "results.json").read_text())
    assert [r["label"] for r in results["rows"]] == ["steps=300", "steps=3000"]
    assert results["paper"]["steps=3000"].startswith("10,000 steps: 16 records")
    assert (results["config"]["delta"], results["config"]["beta"]) == (0.2, 0.1)


@pytest.mark.parametrize("sweeps, words", [
    (["armour=1"], "unknown defence 'armour'"),
    (["dp-epsilon=0"], "epsilon=0 is not positive"),
    (["dp-epsilon=-1,1"], "epsilon=-1 is not positive"),
    (["dp-epsilon=1", "dp-delta=0.5"], "delta=0.5 is out of range for a training set of 100 records"),
    (["dp-delta=1e-3"], "dp-delta is swept but no setting trains with DP"),
    (["dp-clip=0"], "defence dp-clip='0' is invalid; expected a clipping norm > 0"),
    (["l2"], "has no values"),
    (["l2=0", "l2=1"], "'l2' is swept more than once"),
])
@pytest.mark.slow
def test_bad_sweeps_exit_2_with_one_sentence(sweeps, words, tmp_path, capsys):
    argv = ["defend", "--dataset", "cancer", *[a for s in sweeps for a in ("--sweep", s)],
            "--cache-dir", str(tmp_path / "c"), "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_bad_dp_clip_option(tmp_path, capsys):
    argv = ["defend", "--dataset", "cancer", "--sweep", "dp-epsilon=1", "--dp-clip", "0",
            "--cache-dir", str(tmp_path / "c"), "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    assert "clipping norm 0 is invalid" in capsys.readouterr().err
