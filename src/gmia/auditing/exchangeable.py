"""The audit's exchangeable references (``--references exchangeable``, the default; docs/algorithm.md,
"Exchangeable references").

H_out for a candidate record r: r was not in the target's training set. The guarantee assumes
the target's training set is a random size-N subset of the candidates (members and non-members
under test) and that the target trained by the references' rule. Then K references, each
trained on its own random size-N subset of the candidates, are drawn exactly like the target;
the membership matrix says which trained on r, and r is tested only against the others (its
*out-references*, about K (1 - N / |C|) of them). Under H_out the target and r's
out-references are exchangeable, so the rank p-value is exact and the Student-t predictive one
(`gmia.stats.exchangeable`) holds when the logit-scaled confidence is near Gaussian across models.

Selection keeps the paper's references, trained on the adversary's population records: the
models that choose a record are not those its p-value ranks against (sample splitting), so
selecting cannot bias the test. Each model's overall shift is removed on the calibration
records (population records no model trained on) when the target answered some.

Member calls over *all* candidates: weighted Benjamini-Hochberg at q with GMIA's isolation as
the weights (`gmia.stats.fdr`), so a record with overwhelming evidence is called whether or
not selection flagged it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from gmia.base.errors import GmiaError
from gmia.data.schema import duplicate_groups
from gmia.protocol.run import exchangeable_streams, train_models
from gmia.stats.ecdf import clopper_pearson
from gmia.stats.exchangeable import DEFAULT_TEST, TESTS, model_shifts
from gmia.stats.fdr import isolation_weights, weighted_bh

MAX_REFERENCES = 2000  # beyond this the design asks for more candidates, not more models


def reference_count(out_references: int, n_candidates: int, n_train: int) -> int:
    """K such that each candidate is left out of ``out_references`` references in expectation:
    a reference trains on N of the |C| candidates, so r is out of it with probability 1 - N/|C|."""
    if n_train >= n_candidates:
        raise GmiaError(f"the target's training-set size N={n_train} is not below the {n_candidates} candidates, so no "
                        "reference can leave a record out; expected N < candidates (or --references paper)")
    k = math.ceil(out_references * n_candidates / (n_candidates - n_train))
    if k > MAX_REFERENCES:
        raise GmiaError(f"{out_references} out-references per record need {k} exchangeable references with N={n_train} of "
                        f"{n_candidates} candidates; expected at most {MAX_REFERENCES}: add candidates, lower "
                        "--out-references, or use --references paper")
    return k


def candidate_index_sets(candidates: np.ndarray, count: int, n_train: int, rng: np.random.Generator) -> np.ndarray:
    """``[count, N]``: each reference's training set, a random size-N subset of the candidates
    (without replacement: drawn as the target's is assumed to be)."""
    return np.stack([rng.choice(candidates, size=n_train, replace=False) for _ in range(count)]) if count else \
        np.empty((0, n_train), dtype=np.int64)


@dataclass(frozen=True)
class ExchangeableTest:
    """The test of the queried candidates, aligned with ``records``.

    p : the default test's p-values (NaN where the target did not answer or a record has fewer
        than 3 out-references); p_rank : the exact rank p-values; out_references : n_out(r);
    fdr_member : weighted BH calls at ``q``; shift : the target's b_t (None without calibration
    answers); shift_records : how many records it was estimated on.
    """

    records: np.ndarray
    p: np.ndarray
    p_rank: np.ndarray
    out_references: np.ndarray
    fdr_member: np.ndarray
    q: float
    shift: float | None
    shift_records: int
    out_losses: list  # per record, its out-references' losses: what the p-value is read from

    def interval(self, i: int) -> tuple[float, float]:
        """Clopper-Pearson 95% interval of the share of r's out-references at least as
        member-like as the target (each model's shift removed): the tail the rank p-value counts."""
        n = int(self.out_references[i])
        if np.isnan(self.p_rank[i]) or n == 0:
            return (np.nan, np.nan)
        return clopper_pearson(int(round(self.p_rank[i] * (1 + n))) - 1, n)


def candidate_verdicts(records: np.ndarray, target_loss: np.ndarray, reference_loss: np.ndarray, out: np.ndarray,
                    neighbours: np.ndarray, q: float, heldout: tuple[np.ndarray, np.ndarray] | None = None,
                    test: str = DEFAULT_TEST) -> ExchangeableTest:
    """Test each queried candidate against its out-references and call members over all of them.

    ``target_loss [n]`` (NaN: not answered), ``reference_loss [K, n]``, ``out [K, n]`` (reference
    did not train on the record), ``neighbours [n]`` N'_n from selection (the FDR weights);
    ``heldout``: (the target's losses ``[h]``, the references' ``[K, h]``) on calibration records
    no model trained on, for the model shifts."""
    target_loss = np.asarray(target_loss, dtype=np.float64)
    shift, shift_records = None, 0
    if heldout is not None and np.size(heldout[0]):
        b = model_shifts(np.vstack([np.asarray(heldout[0])[None, :], heldout[1]]))
        shift, shift_records = (b[:1], b[1:]), int(np.size(heldout[0]))
    answered = ~np.isnan(target_loss)
    p = np.full(target_loss.shape, np.nan)
    p_rank = np.full(target_loss.shape, np.nan)
    if answered.any():
        args = (target_loss[None, answered], reference_loss[:, answered], out[:, answered])
        p[answered] = TESTS[test](*args, shift=shift)[0]
        p_rank[answered] = TESTS["rank"](*args, shift=shift)[0]
    calls = weighted_bh(p, isolation_weights(neighbours), q).called if len(p) else np.zeros(0, bool)
    return ExchangeableTest(records=np.asarray(records), p=p, p_rank=p_rank, out_references=out.sum(axis=0),
                            fdr_member=calls, q=float(q), shift=None if shift is None else float(shift[0][0]),
                            shift_records=shift_records,
                            out_losses=[reference_loss[out[:, i], i] for i in range(len(target_loss))])


def train_exchangeable(dataset, spec, store, candidates: np.ndarray, count: int, n_train: int, seed: int,
                       progress=None, algorithm=None):
    """The exchangeable references: ``count`` models by the references' rule (gmia's stack of
    ``spec``, or ``algorithm``), each on a random size-N subset of the candidates (the seed's
    own stream, `gmia.protocol.run.exchangeable_streams`)."""
    sets_stream, train_stream = exchangeable_streams(seed)
    sets = candidate_index_sets(candidates, count, n_train, np.random.default_rng(sets_stream))
    return train_models(dataset, spec, store, sets, int(train_stream.generate_state(1)[0]), algorithm,
                        name="exchangeable references", progress=progress)


class RecordLogits:
    """The exchangeable references' logits on the records an audit needs (the candidates and the
    answered calibration records), computed once rather than on the whole data set:
    ``logits[records]`` is ``[K, len(records), C]``."""

    def __init__(self, xrefs, dataset, records: np.ndarray):
        self.records = np.unique(np.asarray(records, dtype=np.int64))
        self.values = xrefs.logits(dataset.x[self.records])

    def __getitem__(self, records) -> np.ndarray:
        return self.values[:, np.searchsorted(self.records, np.asarray(records, dtype=np.int64))]


def exchangeable_test(dataset, xrefs, logits: RecordLogits, asked, proba_asked, selection, heldout, cfg, ref_losses,
                      loss_of):
    """`candidate_verdicts` on the queried candidates ``asked`` (``proba_asked``: the target's
    answers, NaN where none), with the shift from the calibration answers ``heldout`` (records,
    the target's losses and answers) when there are any; ``ref_losses``/``loss_of`` compute the references'
    and the target's losses alike (`gmia.auditing.run`)."""
    y = dataset.y[asked]
    out = ~xrefs.membership[:, asked]
    held = None
    if heldout is not None:
        records, target_loss, _ = heldout
        held = (target_loss, ref_losses(logits[records], dataset.y[records]))
    neighbours = selection.neighbours[np.searchsorted(selection.candidates, asked)]
    return candidate_verdicts(asked, loss_of(proba_asked, y), ref_losses(logits[asked], y), out, neighbours, cfg.fdr_q,
                           heldout=held)


def leak_power(p: float, n_out: int, cutoff: float) -> tuple[float, float]:
    """(z, power): the standardised excess z of a record whose Student-t predictive p-value is
    ``p`` against ``n_out`` out-references, and ≈ the probability that a record with that true
    excess gets p < ``cutoff`` (the predictive t shifted by z; an approximation that ignores the
    noise in the out-references' mean and spread)."""
    df, scale = n_out - 1.0, np.sqrt(1.0 + 1.0 / n_out)
    z = -special.stdtrit(df, p) * scale
    return float(z), float(special.stdtr(df, z / scale - special.stdtrit(df, 1.0 - cutoff)))


def exchangeable_summary(xtest, xrefs, n_train: int, n_tested: int, cfg) -> dict:
    """results.json's ``exchangeable``: the design, the out-reference counts of the tested
    records (of every queried candidate when none was tested), the shift removed, the FDR calls,
    and the most-leaking candidate with the power against a record like it."""
    queried = ~np.isnan(xtest.p)
    n_out = xtest.out_references[:n_tested] if n_tested else xtest.out_references[queried]
    leak = None
    if queried.any():
        i = int(np.nanargmin(xtest.p))
        z, power = leak_power(float(xtest.p[i]), int(xtest.out_references[i]), cfg.cutoff)
        leak = {"record": int(xtest.records[i]), "p": float(xtest.p[i]), "z": z, "power_at_cutoff": power,
                "cutoff": cfg.cutoff}
    return {"references": int(xrefs.n_models), "n_train": int(n_train), "test": DEFAULT_TEST,
            "out_references_expected": cfg.out_references,
            "out_references": {"min": int(n_out.min()) if n_out.size else 0,
                               "median": float(np.median(n_out)) if n_out.size else 0.0,
                               "max": int(n_out.max()) if n_out.size else 0},
            "smallest_rank_p": float(1.0 / (1.0 + n_out.min())) if n_out.size else None,
            "shift": xtest.shift, "shift_records": xtest.shift_records,
            "fdr": {"q": xtest.q, "tested": int(queried.sum()), "calls": int(xtest.fdr_member.sum()),
                    "selected_called": int(xtest.fdr_member[:n_tested].sum())},
            "most_leaking": leak}


def twin_of_member(dataset, records: np.ndarray, members: np.ndarray) -> np.ndarray:
    """``[n]``: the record is not a member but an identical one (same features and label) is,
    so the target did train on this content. A member call on it is not an error of the test."""
    rows = np.concatenate([np.asarray(records), np.asarray(members)]).astype(np.int64)
    groups = duplicate_groups(np.column_stack([dataset.x[rows], dataset.y[rows]]))
    mine, theirs = groups[: len(records)], groups[len(records):]
    return np.isin(mine, theirs) & ~np.isin(records, members)


def _aligned(records: np.ndarray, values: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """``values`` (one per record of ``records``) at the records ``wanted``; NaN where absent."""
    position = {int(r): i for i, r in enumerate(records)}
    return np.array([values[position[int(r)]] if int(r) in position else np.nan for r in wanted], dtype=np.float64)


def candidate_rows(dataset, xtest, selection, members, twin=None, attacked=None, attack_scores=None) -> list[dict]:
    """One row per queried candidate: its exchangeable p-values, out-reference count, N'_n, FDR
    call, each attack's score (``score_<attack>``, NaN where the target did not answer;
    ``attacked``: the records the scores are of) and, with the members known, the truth
    (``member``; ``member_twin``: a non-member whose content the target trained on, ``twin`` from
    `twin_of_member` over ``xtest.records``)."""
    neighbours = selection.neighbours[np.searchsorted(selection.candidates, xtest.records)]
    truth = None if members is None else np.isin(xtest.records, members)
    scores = {}
    for name, attack in (attack_scores or {}).items():
        scores[f"score_{name}"] = _aligned(attacked, attack.scores, xtest.records)
    rows = []
    for i, r in enumerate(xtest.records):
        rows.append({"record": int(r), "class": dataset.schema.classes[dataset.y[r]], "neighbours": int(neighbours[i]),
                     "p_exchangeable": float(xtest.p[i]), "p_rank": float(xtest.p_rank[i]),
                     "out_references": int(xtest.out_references[i]), "fdr_member": bool(xtest.fdr_member[i]),
                     **{k: float(v[i]) for k, v in scores.items()},
                     **({} if truth is None else {"member": bool(truth[i]), "member_twin": bool(twin[i])})})
    return rows
