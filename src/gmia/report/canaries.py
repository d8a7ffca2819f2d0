"""The report's section of a one-run canary audit (`gmia audit-dp`)."""

from __future__ import annotations

import math

import numpy as np

from gmia.base.formatting import fmt_epsilon
from gmia.privacy.one_run import exceeds_accountant
from gmia.report.figures import MEMBER, NON_MEMBER, readable_counts, styled, subplots, to_svg
from gmia.report.html import esc, figure, num, section, table


def _accountant(source: dict):
    return None if source.get("dp") is None else source["dp"]["epsilon"]


def guess_thresholds(scores: np.ndarray, k_plus: int, k_minus: int) -> tuple[float | None, float | None]:
    """The scores at which the bound's guesses start: IN at or above the k₊-th highest, OUT at or
    below the k₋-th lowest (None where no guess of that side was made)."""
    ordered = np.sort(scores)[::-1]
    upper = float(ordered[k_plus - 1]) if k_plus else None
    lower = float(ordered[scores.size - k_minus]) if k_minus else None
    return upper, lower


def shown(attack: str, scores: np.ndarray) -> tuple[np.ndarray, str, bool]:
    """Scores as drawn, still higher = member: GMIA's −p as −log10 p (members crowd at p ≈ 0),
    and a symmetric-log axis for scores beyond ±50 (LiRA's −log p of a memorised canary)."""
    if attack == "gmia-direct":
        return -np.log10(np.clip(-scores, 1e-12, 1.0)), "−log10 p-value (higher = member)", False
    return scores, "score (higher = member)", bool(scores.size and np.nanmax(np.abs(scores)) > 50)


@styled
def score_distributions(source: dict) -> str:
    """Per attack, the canaries' scores in vs out of the training set, and where the guesses start."""
    attacks = list(source["scores"])
    included = np.asarray(source["included"], dtype=bool)
    fig, axes = subplots(1, len(attacks), figsize=(3.3 * len(attacks), 2.6), squeeze=False)
    for ax, attack in zip(axes[0], attacks):
        s = np.asarray([np.nan if v is None else v for v in source["scores"][attack]], dtype=float)
        finite = np.isfinite(s)
        b = source["bounds"][attack]
        upper, lower = guess_thresholds(s[finite], b["k_plus"], b["k_minus"]) if finite.any() else (None, None)
        s, label, symlog = shown(attack, s[finite])
        upper, lower = (None if t is None else float(shown(attack, np.array([t]))[0][0]) for t in (upper, lower))
        inc = included[finite]
        if symlog:
            ax.set_xscale("symlog", linthresh=1.0)
            edges = np.r_[0.0, np.geomspace(1.0, max(s.max(), 1.0) * 1.01, 30)] if s.min() >= 0 else 30
        else:
            edges = 30
        bins = np.histogram_bin_edges(s, bins=edges) if s.size and np.ptp(s) > 0 else 10
        ax.hist(s[~inc], bins=bins, color=NON_MEMBER, alpha=0.6, label="out")
        ax.hist(s[inc], bins=bins, color=MEMBER, alpha=0.6, label="in")
        if upper is not None:
            ax.axvline(upper, color=MEMBER, linestyle="--", linewidth=0.9, label=f"guess IN (top {b['k_plus']})")
        if lower is not None:
            ax.axvline(lower, color=NON_MEMBER, linestyle="--", linewidth=0.9, label=f"guess OUT (bottom {b['k_minus']})")
        readable_counts(ax, x="keep" if symlog else "linear")
        ax.set_title(f"{attack}: ε ≥ {b['epsilon']:.2f}", fontsize=8)
        ax.set_xlabel(label, fontsize=8)
        ax.legend(frameon=False, fontsize=6)
    axes[0][0].set_ylabel("canaries")
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.2, top=0.86, wspace=0.3)
    return to_svg(fig)


def _guesses(source: dict) -> str:
    """The guesses that made each attack's bound: how many IN and OUT guesses, and how many right."""
    included = np.asarray(source["included"], dtype=bool)
    rows = []
    for attack, b in source["bounds"].items():
        s = np.asarray([-np.inf if v is None else v for v in source["scores"][attack]], dtype=float)
        order = np.argsort(-s, kind="stable")
        right_in = int(included[order[:b["k_plus"]]].sum())
        right_out = int((~included[order[s.size - b["k_minus"]:]]).sum()) if b["k_minus"] else 0
        upper, lower = guess_thresholds(s, b["k_plus"], b["k_minus"])
        rows.append([attack, f"{b['k_plus']} (score ≥ {num(upper, 4)})", right_in,
                     f"{b['k_minus']} (score ≤ {num(lower, 4)})" if b["k_minus"] else "0", right_out,
                     f"{b['correct']} / {b['guesses']}", f"{b['epsilon']:.3f}", num(b.get("epsilon_fdp"), 3)])
    return table(["attack", "IN guesses", "right", "OUT guesses", "right", "correct / guesses", "ε ≥ (Steinke)", "f-DP est."],
                 rows, left=1)


@section
def audit_dp(results, records):
    if results.get("kind") != "audit-dp":
        return None
    cfg, refs = results["config"], results.get("references", {})
    eps = cfg.get("dp_epsilon")
    dp = ("without DP" if eps is None or math.isinf(eps)
          else f"with DP-SGD at ε={eps:g}, δ={cfg['dp_delta']:g}, clipping norm {cfg['dp_clip']:g}")
    confidence = cfg["confidence"]
    intro = (f'<p>{cfg["canaries"]} canaries per source, each in the target\'s training set with probability 1/2 '
             f'beside N={cfg["n_train"]} other pool records; one target per source, trained once {esc(dp)}. The canaries '
             f'are scored against k={refs.get("k", cfg.get("k"))} reference models that hold none of them. Each bound '
             f'holds with {100 * confidence:g}% confidence at δ={cfg["dp_delta"]:g}, Bonferroni-corrected over the '
             f'(k+, k−) guess counts tried: the auditor guesses IN for the k+ highest scores and OUT for the k− lowest. '
             f'The coins add or remove each canary, so these are add/remove bounds, the accountant\'s relation: a '
             f'Steinke bound above the accountant\'s ε means the training is not as private as claimed. The f-DP figure '
             f'holds only if the trade-off curve is Gaussian: an estimate, never flagged.</p>')
    rows = []
    for s in results["sources"]:
        for attack, b in s["bounds"].items():
            acc = _accountant(s)
            flag = " (above the accountant's)" if exceeds_accountant(b, acc) else ""
            rows.append([s["source"], attack, f"{b['epsilon']:.3f}{flag}", num(b.get("epsilon_fdp"), 3),
                         f"{b['correct']} / {b['guesses']}", f"{b['k_plus']} / {b['k_minus']}",
                         fmt_epsilon(acc) if s.get("dp") else "-", f"{num(s['train_accuracy'], 3)} / {num(s['test_accuracy'], 3)}",
                         f"{s['seconds']:.1f}"])
    out = ("<h2>One-run privacy audit with canaries</h2>" + intro
           + table(["source", "attack", "ε ≥ (Steinke, add/remove)", "f-DP estimate (Gaussian curve)", "correct / guesses",
                    "k+ / k−", "accountant ε (add/remove)", "target train / test accuracy", "seconds"], rows, left=2)
           + f'<p class="muted">Reference models: {refs.get("seconds", 0.0):.1f}s, shared by every source; '
             f'RMIA\'s population: {cfg.get("n_population", "-")} calibration records.</p>')
    for s in results["sources"]:
        n_in = int(np.sum(s["included"]))
        out += (f'<div class="card"><h3>{esc(s["source"])} canaries: {n_in} in, {len(s["included"]) - n_in} out, '
                f'target trained on {s["n_train"]} records</h3>'
                + figure(score_distributions(s), "Canary scores in vs out of the training set; dashed lines: where the "
                                                 "guesses that made the bound start")
                + _guesses(s) + "</div>")
    return out + "".join(f'<p class="muted">warning: {esc(w)}</p>' for w in results.get("warnings", []))
