"""GMIA's direct test with references drawn like the target (``--references exchangeable``;
docs/algorithm.md, "Exchangeable references").

In the paper's protocol the references train on the adversary's records while the targets train
on halves of the pool, and a record is selected because it is isolated among the adversary's
records: on exactly the selected records the references are unlike the target, and the paper's
p-values do not hold there. The protocol's own targets are drawn by the rule the p-value needs
(each trains on a random half of the pool), so each (target t, record r) is tested here against
the other targets that did not train on r (about T/2 of them). Selection keeps using the
adversary's references only, so it cannot bias the test (the models it looks at are not the
ones the p-value ranks against).

Reported per selection setting: the exact rank test and the Student-t predictive test
(`gmia.stats.exchangeable`) on the selected records at each cutoff, their null fractions on the
selected records' non-member pairs, the out-reference counts, and member calls over *all* pool
records per target with the false-discovery rate at ``q`` (weighted Benjamini-Hochberg with
GMIA's isolation as the weights, `gmia.stats.fdr`), with the realised false-discovery proportion.
"""

from __future__ import annotations

import numpy as np

from gmia.stats.calibration import null_fraction
from gmia.stats.exchangeable import DEFAULT_TEST, TESTS, model_shifts
from gmia.stats.fdr import DEFAULT_Q, isolation_weights, weighted_bh

ALPHAS = (0.01, 0.05, 0.1)


def out_references_of(membership: np.ndarray, t: int) -> np.ndarray:
    """``[T, P]``: the targets target ``t`` is ranked against on each record, the others that did
    not train on it, as many for every record whatever t's own membership. A record is in the
    training set of half the targets: against a non-member t the others out number T/2 - 1, against
    a member T/2, so one of those is left out (at random, seeded by t). Otherwise the count of
    out-references would tell membership (and the rank test's smallest p, 1/(1 + count), differ by it)."""
    out = ~membership
    out[t] = False
    cols = np.nonzero(membership[t] & out.any(axis=0))[0]
    if cols.size:
        draw = np.random.default_rng([int(t), 11]).random((out.shape[0], cols.size))
        draw[~out[:, cols]] = -1.0  # only an out-reference can be the one left out
        out[draw.argmax(axis=0), cols] = False
    return out


def exchangeable_pvalues(target_loss: np.ndarray, membership: np.ndarray, test: str,
                         shifts: np.ndarray | None = None) -> np.ndarray:
    """``[T, P]`` p-values of every (target, pool record) pair against the other targets that
    did not train on the record (`out_references_of`: as many for members as for non-members);
    ``shifts`` (``[T]``, `gmia.stats.exchangeable.model_shifts`) removes each target's overall
    shift first."""
    shift = None if shifts is None else (shifts, shifts)
    return TESTS[test](target_loss, target_loss, ~membership, exclude=lambda t: ~out_references_of(membership, t),
                       shift=shift)


def fdr_calls(p: np.ndarray, neighbours: np.ndarray, q: float = DEFAULT_Q) -> np.ndarray:
    """``[T, P]`` member calls: per target, weighted BH at ``q`` over its pool records."""
    weights = isolation_weights(neighbours)
    return np.stack([weighted_bh(row, weights, q).called for row in p]) if p.size else np.zeros(p.shape, bool)


def twin_members(membership: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """``[T, P]``: the pair is a non-member whose exact twin (an identical pool record,
    ``groups`` from `gmia.data.duplicate_groups`) is in the target's training set. Such a call is
    not an error of the test: the target did train on this content."""
    out = np.zeros(membership.shape, bool)
    for t, member in enumerate(membership):
        out[t] = np.isin(groups, groups[member]) & ~member
    return out


def evaluate_exchangeable(target_loss: np.ndarray, membership: np.ndarray, positions: np.ndarray,
                          neighbours: np.ndarray, cutoffs, row_of, q: float = DEFAULT_Q,
                          groups: np.ndarray | None = None,
                          heldout_loss: np.ndarray | None = None) -> tuple[dict, np.ndarray, np.ndarray]:
    """The exchangeable design's figures for one selection: ``positions`` are the selected
    records' pool positions, ``neighbours`` every pool record's N'_n (the selection's, from the
    adversary's references), ``row_of(calls, member, cutoff)`` a `CutoffRow` maker, ``groups``
    the pool records' exact-duplicate groups (false calls on a record whose twin the target
    trained on are counted apart), ``heldout_loss`` the targets' losses ``[T, h]`` on records no
    target trained on (the calibration records), from which each target's shift is removed
    (`gmia.stats.exchangeable.model_shifts`; none without them). Also the default test's
    p-values and FDR calls ``[T, P]``, for the run folder's per-pair rows."""
    member_sel = membership[:, positions]
    shifts = model_shifts(heldout_loss) if heldout_loss is not None and heldout_loss.shape[1] else None
    twin = twin_members(membership, groups) if groups is not None else np.zeros(membership.shape, bool)
    out_refs = (~membership[:, positions]).sum(axis=0) - 1  # per pair (`out_references_of`)
    tests, kept = {}, {}
    for name in TESTS:
        p = exchangeable_pvalues(target_loss, membership, name, shifts)
        sel = p[:, positions]
        calls = fdr_calls(p, neighbours, q)
        kept[name] = (p, calls)
        false = int((calls & ~membership).sum())
        # FDR = E[false calls / calls], 0 where a target has no call: its estimate is the mean over targets.
        fdp = [(c & ~m).sum() / c.sum() if c.sum() else 0.0 for c, m in zip(calls, membership)]
        tests[name] = {
            "rows": tuple(row_of(sel < c, member_sel, c) for c in cutoffs),
            "null_selected": null_fraction(sel[~member_sel], ALPHAS),
            "null_all": null_fraction(p[~membership], ALPHAS),
            "fdr": {"q": q, "calls": int(calls.sum()), "false_calls": false,
                    "fdr": float(np.mean(fdp)) if fdp else 0.0,  # realised, averaged over targets
                    "false_share_pooled": false / int(calls.sum()) if calls.sum() else 0.0,
                    # false calls on content the target did train on (an exact twin is its member)
                    "false_calls_on_twins": int((calls & twin).sum()),
                    "targets_with_calls": int((calls.sum(axis=1) > 0).sum()),
                    "selected_called": int(calls[:, positions].sum())},
        }
    figures = {"references": "the other targets that did not train on the record",
               "default_test": DEFAULT_TEST,
               # each target's shift b_t on φ, removed before testing: from how many held-out records, and its spread
               "model_shifts": None if shifts is None else {"records": int(heldout_loss.shape[1]),
                                                            "sd": float(np.std(shifts)),
                                                            "max_abs": float(np.abs(shifts).max())},
               "out_references": {"min": int(out_refs.min()) if out_refs.size else 0,
                                  "median": float(np.median(out_refs)) if out_refs.size else 0.0},
               "tests": tests}
    return (figures, *kept[DEFAULT_TEST])


def pooled_over_seeds(seeds: list[dict]) -> dict[str, dict]:
    """Per test, the figures the console and the report print, from each seed's `evaluate_exchangeable`
    figures in their results.json form: pooled TP / FP / precision / recall per cutoff, the worst
    seed's null fractions and realised FDR, and the FDR calls, false calls and false calls on a
    member's twin summed over seeds."""
    out = {}
    for name in seeds[0]["tests"]:
        tests = [seed["tests"][name] for seed in seeds]
        rows = []
        for i, first in enumerate(tests[0]["rows"]):
            tp, fp = sum(t["rows"][i]["tp"] for t in tests), sum(t["rows"][i]["fp"] for t in tests)
            members = sum(t["rows"][i]["member_pairs"] for t in tests)
            rows.append({"cutoff": first["cutoff"], "tp": tp, "fp": fp,
                         "precision": tp / (tp + fp) if tp + fp else None, "recall": tp / members if members else None})
        fdr = [t["fdr"] for t in tests]
        out[name] = {"rows": rows,
                     "worst_null": {a: max(t["null_selected"][a] for t in tests) for a in ("0.01", "0.05", "0.1")},
                     "q": fdr[0]["q"], "calls": sum(f["calls"] for f in fdr), "false": sum(f["false_calls"] for f in fdr),
                     "twins": sum(f.get("false_calls_on_twins", 0) for f in fdr), "worst_fdr": max(f["fdr"] for f in fdr)}
    return out
