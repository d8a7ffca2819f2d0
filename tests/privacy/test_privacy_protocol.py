"""ε lower bounds in the protocol's runs: reproduce (through `evaluate`), compare and defend
carry them, they equal `gmia.privacy.repeat_bounds` and `record_bounds` recomputed from the
signals, the terminal and the report show them as replace-one bounds apart from the Gaussian
estimates, and defend flags only a like-for-like excess (Cancer, tiny k, targets and training)."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import numpy as np
import pytest
from rich.console import Console

from gmia.attacks.direct import GmiaDirect
from gmia.comparison.config import CompareConfig
from gmia.comparison.run import run_compare
from gmia.console.compare import render_compare
from gmia.console.defend import render_defend
from gmia.console.reproduce import render
from gmia.data import load_bundled
from gmia.defenses.config import DefendConfig
from gmia.defenses.run import flags, run_defend
from gmia.protocol.evaluate import PRIVACY_SEED, evaluate, privacy_bounds, run_selection
from gmia.experiments.reproduce import ReproduceConfig, run_reproduce
from gmia.settings.presets import DEFAULT_DP_DELTA, DEFAULT_PRIVACY_CONFIDENCE
from gmia.privacy import record_bounds, repeat_bounds, repeats_of
from gmia.privacy.protocol import privacy_figures
from gmia.protocol.run import build_signals
from gmia.base.result import jsonable
from gmia.report.privacy import empirical_privacy
from gmia.zoo import TrainSpec, ZooStore

SPEC = TrainSpec(hidden=(), optimizer="adam", lr=1e-2, steps=100, batch_size=10)
TINY = dict(k=8, n_targets=4, seed=0)
# δ = 0.2, β = 1 select some Cancer records even at this size (tests/report/test_report.py).
DELTA, BETA = 0.2, 1.0


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return ZooStore(tmp_path_factory.mktemp("privacy-cache"))


def expected(scores, membership, positions, delta=DEFAULT_DP_DELTA, pvalues=None) -> dict:
    """The bounds recomputed here, from the scores, `repeat_bounds` and `record_bounds` alone."""
    options = dict(delta=delta, confidence=DEFAULT_PRIVACY_CONFIDENCE)
    repeats = repeats_of(scores.shape[0])
    selected = repeat_bounds(scores[:, positions], membership[:, positions], repeats, seed=PRIVACY_SEED, **options)
    record = None
    if pvalues is not None and len(positions):
        record = record_bounds(pvalues[:, positions], membership[:, positions], **options)
    out = {"relation": "replace-one", "all": repeat_bounds(scores, membership, repeats, seed=PRIVACY_SEED, **options).to_dict(),
           "selected": None if selected is None else selected.to_dict(), "per_record": None if record is None else record.to_dict()}
    return {**out, **privacy_figures(out)}


def raw_scores(signals) -> np.ndarray:
    """GMIA's score −p on the raw p-values, fitted here rather than read from evaluate's cache."""
    return -GmiaDirect("gaussian").fit_losses(signals.reference_loss).pvalues_of(signals.target_loss)


def positions(signals, records) -> np.ndarray:
    return np.searchsorted(signals.split.pool, np.asarray(records, dtype=np.int64))


def text_of(render_fn, *args) -> str:
    out = io.StringIO()
    render_fn(*args, Console(file=out, width=400, color_system=None))
    return out.getvalue()


def stored(results: dict, kind: str) -> dict:
    """The results as a run folder's results.json holds them (strict JSON, inf as null)."""
    return json.loads(json.dumps(jsonable({**results, "kind": kind})))


def test_evaluate_bounds_gmias_raw_pvalues_over_all_and_selected_pairs(cancer, store):
    signals = build_signals(cancer, SPEC, store, **TINY)
    ev = evaluate(signals, DELTA, BETA)
    pos = positions(signals, ev.selected)
    assert pos.size > 0
    assert ev.privacy == expected(raw_scores(signals), signals.membership, pos, pvalues=-raw_scores(signals))
    every, selected = ev.privacy["all"], ev.privacy["selected"]
    # Every pool record is a member of half the targets: the pair counts are the protocol's.
    assert every["n_members"] == every["n_nonmembers"] == 2 * signals.split.pool.size
    assert selected["n_members"] == selected["n_nonmembers"] == 2 * pos.size
    assert every["delta"] == DEFAULT_DP_DELTA and every["confidence"] == DEFAULT_PRIVACY_CONFIDENCE
    # Repeats (complementary pairs of targets) are the units, and the relation is replace-one.
    assert every["units"] == "repeats" and every["n_units"] == TINY["n_targets"] // 2 and every["design_effect"] >= 1
    assert every["relation"] == ev.privacy["relation"] == "replace-one"
    assert set(every["lower_bounds"]) == {"clopper_pearson"} and set(every["estimates"]) == {"gdp", "point"}
    assert ev.privacy["per_record"]["n_records"] == pos.size
    assert set(ev.privacy["lower_bounds"]) == {"all: clopper_pearson", "selected: clopper_pearson", "selected: per_record"}
    # The δ of the bounds is the caller's (defend passes its DP δ).
    other = evaluate(signals, DELTA, BETA, privacy_delta=1e-3)
    assert other.privacy == expected(raw_scores(signals), signals.membership, pos, delta=1e-3, pvalues=-raw_scores(signals))
    assert other.privacy["all"]["delta"] == 1e-3


def test_no_selected_record_leaves_the_selected_bounds_empty(cancer, store):
    signals = build_signals(cancer, SPEC, store, **TINY)
    ev = evaluate(signals, 1.5, 1e-9)  # every candidate has neighbours within a cosine distance of 1.5
    assert ev.selected == () and ev.privacy["selected"] is None and ev.privacy["per_record"] is None
    assert ev.privacy["all"] == expected(raw_scores(signals), signals.membership, np.array([], dtype=np.int64))["all"]


def test_too_few_pairs_to_split_give_no_bound_rather_than_an_error():
    rng = np.random.default_rng(0)
    scores, member = rng.normal(size=(4, 50)), np.zeros((4, 50), dtype=bool)
    member[0, ::2] = member[1, 1::2] = member[2, :25] = member[3, 25:] = True  # two repeats of complementary halves
    out = privacy_bounds(scores, member, np.array([7]))  # one record: two member pairs, two non-member pairs
    assert out["all"]["n_members"] == out["all"]["n_nonmembers"] == 100 and out["selected"]["n_members"] == 2
    # One repeat cannot be split into a half that chooses the threshold and one that bounds it.
    one = privacy_bounds(scores[:2], member[:2], np.array([7]))
    assert one["all"] is None and one["selected"] is None and one["lower_bounds"] == {}


@pytest.fixture(scope="module")
def reproduced(cancer, store):
    cfg = ReproduceConfig.resolve("cancer", spec=SPEC, delta=DELTA, beta=BETA, **TINY)
    return run_reproduce(cancer, store, cfg), cfg


@pytest.fixture(scope="module")
def compared(cancer, store):
    cfg = CompareConfig.resolve("cancer", spec=SPEC, n_inout=4, n_bootstrap=5, delta=DELTA, beta=BETA,
                                attacks=("gmia-direct", "loss"), **TINY)
    return run_compare(cancer, store, cfg), cfg


@pytest.fixture(scope="module")
def defended(cancer, store):
    cfg = DefendConfig(spec=SPEC, sweep=("dp-epsilon=2,inf",), dp_delta=1e-3, delta=DELTA, beta=BETA, **TINY)
    return run_defend(cancer, store, cfg), cfg


@pytest.fixture(scope="module")
def strong() -> dict:
    """Bounds far from zero and from each other (the tiny runs' are all 0), so each printed value
    identifies the number it shows."""
    rng = np.random.default_rng(1)
    member = rng.random((20, 100)) < 0.5
    out = privacy_bounds(rng.normal(size=member.shape) + 3.0 * member, member, np.arange(10))
    values = [figure(out, side, key) for side in ("all", "selected") for key in ("clopper_pearson", "gdp")]
    assert min(values) > 0.3 and len({f"{v:.3f}" for v in values}) == 4
    return out


def figure(bounds: dict, side: str, key: str) -> float:
    b = bounds[side]
    return b["lower_bounds"][key] if key in b["lower_bounds"] else b["estimates"][key]


def shown_values(bounds: dict) -> list[str]:
    return [f"{figure(bounds, side, key):.3f}" for side in ("all", "selected") for key in ("clopper_pearson", "gdp")]


def test_reproduce_records_the_bounds_per_seed(cancer, store, reproduced):
    result, cfg = reproduced
    ev = result.runs[0].evaluations[0]
    signals = build_signals(cancer, SPEC, store, **TINY, calibration_size=cfg.calibration_size)
    assert ev.privacy == expected(raw_scores(signals), signals.membership, positions(signals, ev.selected),
                                  pvalues=-raw_scores(signals))
    assert result.to_dict()["runs"][0]["evaluations"][0]["privacy"] == ev.privacy


def test_reproduce_prints_and_reports_the_bounds(reproduced, strong):
    result = replace(reproduced[0], runs=tuple(
        replace(run, evaluations=tuple(replace(ev, privacy=strong) for ev in run.evaluations)) for run in reproduced[0].runs))
    cp, gdp, sel_cp, sel_gdp = shown_values(strong)
    assert (f"seed 0: all pairs ε ≥ {cp} (CP, replace-one, D=1.00), GDP est. {gdp}; selected at delta=0.2 beta=1 "
            f"ε ≥ {sel_cp} (CP, replace-one, D=") in result.summary()
    shown = text_of(render, result)
    assert "ε ≥ (CP)" in shown and "GDP est." in shown and "repeats" in shown and "not a bound" in shown
    assert "replace-one" in shown and f"δ={DEFAULT_DP_DELTA:g}, 95% confidence" in shown
    assert all(v in shown for v in (cp, gdp, sel_cp, sel_gdp))
    html = empirical_privacy(stored(result.to_dict(), "table1"), None)
    assert "Empirical privacy: ε lower bounds" in html and "selected at delta=0.2" in html
    assert all(v in html for v in (cp, gdp, sel_cp, sel_gdp))


def test_compare_bounds_every_attacks_scores(cancer, store, compared):
    result, cfg = compared
    signals = build_signals(cancer, cfg.spec, store, k=cfg.k, n_targets=cfg.n_targets, seed=cfg.seed, pool_size=cfg.pool_size,
                            chunk_size=cfg.chunk_size, reference_sampling=cfg.reference_sampling,
                            calibration_size=cfg.calibration_size)
    pos = positions(signals, result.selected)
    assert pos.size > 0
    # GMIA scores −p; the loss attack −(the target's loss).
    assert result.attack("gmia-direct").privacy == expected(raw_scores(signals), signals.membership, pos,
                                                            pvalues=-raw_scores(signals))
    assert result.attack("loss").privacy == expected(-signals.target_loss, signals.membership, pos)


def test_compare_prints_and_reports_the_bounds_per_attack(compared, strong):
    result = replace(compared[0], attacks=tuple(
        replace(a, privacy=strong if a.name == "loss" else a.privacy) for a in compared[0].attacks))
    cp, gdp, sel_cp, sel_gdp = shown_values(strong)
    frame = result.to_frame().set_index("attack")
    assert frame.loc["loss", ["eps_lower_cp", "eps_gdp_estimate", "eps_lower_cp_selected"]].tolist() == [
        figure(strong, "all", "clopper_pearson"), figure(strong, "all", "gdp"), figure(strong, "selected", "clopper_pearson")]
    assert frame.loc["gmia-direct", "eps_lower_cp"] == figure(result.attack("gmia-direct").privacy, "all", "clopper_pearson")
    assert frame.loc["loss", "eps_relation"] == "replace-one" and np.isnan(frame.loc["loss", "eps_lower_per_record"])
    assert (f"all pairs ε ≥ {cp} (CP, replace-one, D=1.00), GDP est. {gdp} at delta=1e-05; selected records ε ≥ {sel_cp}"
            in result.summary())
    shown = text_of(render_compare, result)
    assert "Empirical privacy" in shown and "repeats" in shown and "GDP est." in shown
    line = next(x for x in shown[shown.index("Empirical privacy"):].splitlines() if x.startswith("│ loss "))
    assert all(v in line for v in (cp, gdp, sel_cp, sel_gdp))
    for kind in ("compare", "table7"):
        html = empirical_privacy(stored(result.to_dict(), kind), None)
        assert "<td class=\"l\">loss</td>" in html and all(v in html for v in (cp, gdp, sel_cp, sel_gdp))


@pytest.mark.slow
def test_defend_sets_the_bounds_at_the_dp_delta(cancer, store, defended):
    result, cfg = defended
    private, plain = result.rows
    assert all(row.privacy["all"]["delta"] == 1e-3 for row in result.rows)
    # A lower bound above the accountant's upper bound (same relation) would mean broken accounting or training.
    assert private.dp["epsilon_replace_one"] > private.dp["epsilon"]
    assert max(private.privacy["lower_bounds"].values()) <= private.dp["epsilon_replace_one"]
    assert result.flagged() == []
    signals = build_signals(cancer, TrainSpec.model_validate(plain.spec), store, **TINY, calibration_size=cfg.calibration_size)
    assert plain.dp is None
    pos = positions(signals, run_selection(signals, DELTA, BETA, cfg.scaling, cfg.features).selected)
    assert plain.privacy == expected(raw_scores(signals), signals.membership, pos, delta=1e-3, pvalues=-raw_scores(signals))


def test_defend_prints_the_bounds_beside_the_accountants_epsilon(defended, strong):
    result = replace(defended[0], rows=tuple(replace(r, privacy=strong) for r in defended[0].rows))
    private = result.rows[0]
    cp, gdp, sel_cp, _ = shown_values(strong)
    frame = result.to_frame()
    assert frame.loc[0, ["epsilon", "epsilon_replace_one", "eps_lower_cp", "eps_gdp_estimate", "eps_lower_cp_selected"]].tolist() == [
        private.dp["epsilon"], private.dp["epsilon_replace_one"], figure(strong, "all", "clopper_pearson"),
        figure(strong, "all", "gdp"), figure(strong, "selected", "clopper_pearson")]
    assert (f"{private.label}: test accuracy {private.test_accuracy:.3f}" in result.summary()
            and f"replace-one epsilon >= {cp} (CP, all pairs), >= {sel_cp} (CP, selected)" in result.summary()
            and f"GDP estimate {gdp} (accountant: epsilon <= {private.dp['epsilon_replace_one']:.3f} replace-one, "
                f"{private.dp['epsilon']:.3g} add/remove)" in result.summary())
    shown = text_of(render_defend, result)
    assert "accountant: replace-one" in shown and "GDP est." in shown and "upper bound" in shown
    # The setting's row of the bounds table, which follows the utility table.
    line = [x for x in shown.splitlines() if x.startswith("│ " + private.label)][-1]
    assert line.index(f"{private.dp['epsilon']:.3g} (σ=") < line.index(cp) < line.index(gdp) < line.index(sel_cp, line.index(gdp))
    html = empirical_privacy(stored(result.to_dict(), "defend"), None)
    assert "accountant&#x27;s ε, replace-one (upper bound)" in html and f"{private.dp['epsilon']:.3g}" in html and "- (no DP)" in html
    assert all(v in html for v in shown_values(strong))
    # The undefended protocol's own (zero here) bounds at the DP δ, in the real result's table.
    assert "δ=0.001" in text_of(render_defend, defended[0])


def test_defend_flags_only_a_proven_bound_above_the_same_relations_epsilon(defended):
    """A CP bound between the add/remove and the replace-one ε is no flaw; above replace-one it is;
    a Gaussian estimate above it never flags."""
    private = defended[0].rows[0]
    add_remove, replace_one = private.dp["epsilon"], private.dp["epsilon_replace_one"]
    between = {"lower_bounds": {"all: clopper_pearson": (add_remove + replace_one) / 2},
               "estimates": {"all: gdp": replace_one + 5}}
    assert flags("dp", private.dp, between) == []
    above = {"lower_bounds": {"selected: per_record": replace_one + 0.1}, "estimates": {}}
    assert len(flags("dp", private.dp, above)) == 1 and "per_record" in flags("dp", private.dp, above)[0]
    assert flags("no DP", None, above) == []


def strip_privacy(obj):
    """The results as a run written before the bounds existed."""
    if isinstance(obj, dict):
        return {k: strip_privacy(v) for k, v in obj.items() if k != "privacy"}
    if isinstance(obj, list):
        return [strip_privacy(v) for v in obj]
    return obj


def test_report_section_is_left_out_without_bounds_or_for_other_runs():
    # As results.json held them before bounds and estimates were told apart: still shown.
    bounds = {"delta": 1e-5, "confidence": 0.95, "threshold_rule": "split", "n_members": 4, "n_nonmembers": 4,
              "clopper_pearson": 0.5, "gdp": 0.75, "gdp_mu": 0.3, "estimate": None, "threshold": -0.1, "tpr": 0.5, "fpr": 0.25}
    compare = {"kind": "compare", "attacks": [{"name": "loss", "privacy": {"all": bounds, "selected": None}}]}
    html = empirical_privacy(compare, None)
    assert "0.500" in html and "0.750" in html and "δ=1e-05, 95% confidence" in html
    assert empirical_privacy(strip_privacy(compare), None) is None
    defend = {"kind": "table4", "rows": [{"label": "steps=10", "dp": None, "privacy": {"all": bounds, "selected": None}}]}
    assert "steps=10" in empirical_privacy(defend, None)
    assert empirical_privacy(strip_privacy(defend), None) is None
    assert empirical_privacy({"kind": "table2", "runs": [{"seed": 0, "evaluations": [{"delta": 0.1, "beta": 1.0}]}]}, None) is None
    assert empirical_privacy({**compare, "kind": "audit"}, None) is None
