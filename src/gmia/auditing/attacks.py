"""Every attack on the user's model (``gmia audit --attacks NAME``, Python ``attacks=``): GMIA and
the baselines scored on the same references and the same answers.

The exchangeable design's references (`gmia.auditing.exchangeable`) are in/out models: each
trained by the target's rule on a random N of the candidates, so for every candidate some
trained on it and some did not. They are what LiRA (online and offline), RMIA, Shokri's attack
and the loss threshold need as shadow models, and the calibration records the target answered
(population records no model trained on) are RMIA's population z. GMIA's direct test keeps the
paper's references. No attack asks the target anything more: every score is read from the
target's answers on the candidates and the calibration records, which the audit has already
asked (and which a query budget already covers).

With the members known, each attack gets (`score_attacks`) ROC AUC and TPR at FPR <= 0.1% and
1% over the candidates, with percentile bootstrap intervals over the records, its ROC curve, and
the one-run ε lower bound (`gmia.privacy.one_run`, Steinke et al.): the candidates play the
canaries. That bound assumes each candidate was in the training set by a coin of its own
(probability 1/2, independent); an audit's roles only make the training set a random subset of
the candidates, so it is printed with that assumption and, like every ε here, about add/remove
neighbours. The paper's design (``references="paper"``) has no in/out references, so no
attack but GMIA's own verdicts runs there. RMIA needs the population: without calibration
answers (a spent budget) it is left out, and the audit says so.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.special import softmax

from gmia.attacks.base import AttackSettings
from gmia.attacks.inputs import AttackInputs
from gmia.attacks.registry import make_attack
from gmia.comparison.metrics import bootstrap_weights, roc_with_ci
from gmia.models.foreign import proba_logits
from gmia.privacy.one_run import one_run_bound
from gmia.stats.roc import roc_points

BOOTSTRAP = 200
MIN_PAIRS = 10  # members and non-members each, for an AUC worth printing
NEEDS_POPULATION = ("rmia-online", "rmia-offline")


@dataclass(frozen=True)
class AttackScores:
    """One attack on the user's target: a score per queried candidate (higher = more likely a
    member; NaN where the target did not answer) and, with the members known, how well it
    separates them."""

    name: str
    parameters: dict
    scores: np.ndarray
    auc: float | None = None
    auc_ci: tuple | None = None
    tpr: dict | None = None
    tpr_ci: dict | None = None
    roc: dict | None = None
    epsilon: dict | None = None

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("scores")  # one per candidate: the candidates' rows carry them (score_<attack>)
        return out


def _policy_logits(logits: np.ndarray, policy) -> np.ndarray:
    """Logits as the target's answers would show them: through its output policy, then back to
    centred log-probabilities with the floor the target's own answers get (`proba_logits`)."""
    return proba_logits(policy.apply(softmax(np.asarray(logits, dtype=np.float64), axis=-1)))


def audit_inputs(dataset, records: np.ndarray, target_proba: np.ndarray, target_loss: np.ndarray,
                 population: np.ndarray, population_proba: np.ndarray, xrefs, logits, reference_loss: np.ndarray,
                 policy) -> AttackInputs:
    """The attacks' inputs for one target: the candidates ``records`` it answered
    (``target_proba``; ``target_loss`` as the audit computes it), the population records
    ``population`` it answered, the exchangeable references ``xrefs`` (in/out shadows) with their
    ``logits`` by record (`gmia.auditing.exchangeable.RecordLogits`) and the paper references'
    losses on the records."""
    return AttackInputs(
        y_pool=dataset.y[records], y_pop=dataset.y[population],
        target_logits=proba_logits(target_proba)[None], target_logits_pop=proba_logits(population_proba)[None],
        shadow_logits=_policy_logits(logits[records], policy),
        shadow_logits_pop=_policy_logits(logits[population], policy),
        shadow_membership=xrefs.membership[:, records], reference_loss=reference_loss, target_loss=target_loss[None])


def score_attacks(names, inputs: AttackInputs, settings: AttackSettings, members: np.ndarray | None,
                  seed: int, on_stage=None) -> dict[str, AttackScores]:
    """Each attack of ``names`` fitted and scored on ``inputs`` (one target); with ``members``
    (bool per record of the inputs) its ROC, bootstrap intervals and one-run ε bound."""
    out = {}
    weights = None
    if members is not None and min(members.sum(), (~members).sum()) >= MIN_PAIRS:
        weights = bootstrap_weights(1, members.size, BOOTSTRAP, np.random.default_rng([seed, 31]))
    for name in names:
        if on_stage:
            on_stage(f"attack {name}")
        attack = make_attack(name, settings)
        scores = np.asarray(attack.fit(inputs).score(inputs), dtype=np.float64)[0]
        scores = np.where(np.isnan(scores), -np.inf, scores)  # an attack with no evidence on a record ranks it last
        result = AttackScores(name=name, parameters=attack.parameters(), scores=scores)
        if weights is not None:
            roc = roc_with_ci(scores[None], members[None], weights)
            bound = one_run_bound(np.where(np.isinf(scores), np.nanmin(scores[np.isfinite(scores)], initial=0.0) - 1.0,
                                           scores), members)
            result = AttackScores(name=name, parameters=result.parameters, scores=scores, auc=roc.auc, auc_ci=roc.auc_ci,
                                  tpr=roc.tpr, tpr_ci=roc.tpr_ci, roc=roc_points(scores[None], members[None]),
                                  epsilon={"lower_bound": bound.epsilon, "estimate_fdp_gaussian": bound.epsilon_fdp,
                                           "guesses": bound.guesses, "correct": bound.correct, "delta": bound.delta,
                                           "confidence": bound.confidence, "relation": "add/remove",
                                           "assumes": "each candidate in the training set by its own coin"})
        out[name] = result
    return out


def run_attacks(names, dataset, cfg, xrefs, logits, asked: np.ndarray, proba_asked: np.ndarray, heldout,
                ref_logits: np.ndarray, ref_losses, loss_of, policy, members,
                stage) -> tuple[np.ndarray, dict[str, AttackScores]]:
    """`score_attacks` on the candidates the target answered (``asked``, ``proba_asked``), with
    the answered calibration records (``heldout``: records, losses, answers) as the population.
    Returns (those candidates, each attack's scores)."""
    answered = ~np.isnan(proba_asked).any(axis=1)
    records = asked[answered]
    if not names or records.size == 0:
        return records, {}
    if heldout is None:
        left = [n for n in names if n in NEEDS_POPULATION]
        if left:
            stage(f"note: {', '.join(left)} left out: they need the target's answers on population records, and there are none")
        names = [n for n in names if n not in NEEDS_POPULATION]
        population, population_proba = records[:0], np.empty((0, proba_asked.shape[1]))
    else:
        population, _, population_proba = heldout
    y = dataset.y[records]
    inputs = audit_inputs(dataset, records, proba_asked[answered], loss_of(proba_asked[answered], y), population,
                          population_proba, xrefs, logits, ref_losses(ref_logits[:, records], y), policy)
    truth = None if members is None else np.isin(records, members)
    return records, score_attacks(names, inputs, AttackSettings(tail=cfg.tail, seed=cfg.seed), truth, cfg.seed, stage)
