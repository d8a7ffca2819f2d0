"""`gmia audit`: GMIA against one black-box target, local or behind a prediction API.

The adversary's side is the paper's: the data set is split as in the protocol; the pool holds
the candidate records (those that may be in the target's training set), the rest are the
adversary's reference records. k reference models train on bootstrap samples of the
reference records, each the size N of the target's training set; selection flags the pool
records with E[N_n] < β (on raw features by default, since a deployed model's structure is
hidden); each flagged record is then tested directly (its own query) and, if asked, indirectly
(enhancing queries only). Queries go out most isolated record first, so a budget is spent
where the evidence is strongest.

With ``references="exchangeable"`` (the default; `gmia.auditing.exchangeable`) the direct
verdict ranks the target against references drawn like it, each trained on a random N of the
candidates, that did not train on the record; the paper's references still select, and their
p-value is kept beside (``p_paper``). The target is then asked, in this order, about the
tested records, the calibration records (each model's shift) and every other candidate (the
member calls over all of them at FDR q).

Two things the user may decide instead: the records' roles (`gmia.auditing.roles`: candidates, the
adversary's population, the target's training rows) and the references' training algorithm,
which by default matches the target's whenever the target says what it is (`gmia.auditing.matching`;
the audit prints and reports whether it does).
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
from scipy.special import softmax

from gmia.attacks.registry import direct_test, indirect_test
from gmia.attacks.indirect_null import choose_null_records, null_check, null_records_for
from gmia.data import Dataset, Split, decode_records
from gmia.stats.calibration import calibrated_pvalues, per_class, resolution_note
from gmia.settings.config import check_k_fits
from gmia.base.errors import GmiaError, ResumableError, option
from gmia.protocol.evaluate import CutoffRow
from gmia.targets.policy import OutputPolicy
from gmia.protocol.run import Timer, split_adversary, train_references
from gmia.auditing.attacks import run_attacks
from gmia.auditing.config import check_attacks
from gmia.auditing.exchangeable import (
    RecordLogits, candidate_rows, exchangeable_summary, exchangeable_test, reference_count, train_exchangeable,
    twin_of_member,
)
from gmia.base.choices import References
from gmia.stats.select import delta_rule_text, select_vulnerable, selection_features
from gmia.stats.signals import accuracy, log_loss, proba_loss
from gmia.algorithms.base import describe_text
from gmia.auditing.matching import choose_references
from gmia.auditing.roles import Roles, resolve_roles
from gmia.zoo.spec import cap_batch
from gmia.models.foreign import proba_logits
from gmia.stats.ecdf import clopper_pearson
from gmia.targets import as_target
from gmia.zoo import ZooStore
from gmia.auditing.result import AuditResult  # noqa: F401  (re-exported: gmia.auditing.run.AuditResult)
from gmia.auditing.config import AuditConfig  # noqa: F401  (re-exported)


def check_schema(target_schema, dataset: Dataset) -> None:
    """The target must read records exactly as the data set encodes them. Display-only fields
    (a feature's ``decimals``) are not compared: model files written before them have none."""
    ours, theirs = dataset.schema.encoding_dict(), target_schema.encoding_dict()
    if ours == theirs:
        return
    if ours["classes"] != theirs["classes"]:
        raise GmiaError(f"the target's classes {theirs['classes']} differ from data set {dataset.name!r}'s {ours['classes']}; expected the same classes")
    mine = {f["name"]: f for f in ours["features"]}
    other = {f["name"]: f for f in theirs["features"]}
    for name in list(mine) + list(other):
        if mine.get(name) != other.get(name):
            where = "is missing from the target" if name not in other else ("is not in the data set" if name not in mine else "is encoded differently")
            raise GmiaError(f"feature {name!r} {where}; expected the target's schema to equal data set {dataset.name!r}'s")
    raise GmiaError(f"the target's features are in another order than data set {dataset.name!r}'s; expected the same order")


def run_audit(dataset: Dataset, target, store: ZooStore, cfg: AuditConfig,
              members: np.ndarray | None = None, progress=None, on_stage=None, roles: Roles | None = None) -> AuditResult:
    """Select, query and test; on a spent budget or an unreachable target, return what was
    answered with ``stopped`` set (a prediction API's answer cache makes the rerun resume).

    ``target`` is anything `gmia.targets.as_target` accepts (a `gmia.targets.Target`).
    """
    stage = on_stage or (lambda text: None)
    timer = Timer()
    spec = cfg.spec
    target = as_target(target, dataset.schema)
    check_schema(target.schema, dataset)
    policy: OutputPolicy = target.policy
    if cfg.attack != "direct" and not policy.is_identity:
        raise GmiaError(f"the indirect attack needs full probability vectors but the target answers {policy.describe()}; expected {option('attack', 'direct')}")
    algorithm, spec, matching = choose_references(target, spec, cfg.algorithm)
    if cfg.attack != "direct" and algorithm is not None:
        raise GmiaError(f"the indirect attack needs gmia's stacked reference models but the references are "
                        f"{describe_text(algorithm.describe())}; expected {option('attack', 'direct')} with {option('algorithm')}")
    stage(f"algorithms: {matching.line()}")
    roles = roles or resolve_roles(dataset, members=members, pool_size=cfg.pool_size, seed=cfg.seed)
    data_name, dataset, members = dataset.name, roles.dataset, roles.members
    split = Split(pool=roles.candidates, adversary=roles.population, seed=cfg.seed)
    for note in roles.notes:
        stage(f"note: {note}")
    n_train = cfg.train_size or (len(members) if members is not None and not roles.paper else len(split.pool) // 2)
    if not 1 <= n_train <= len(dataset):
        raise GmiaError(f"training-set size N={n_train} is out of range; expected 1 to {len(dataset)}")
    exchangeable = cfg.references == References.EXCHANGEABLE and cfg.attack != "indirect"
    count = reference_count(cfg.out_references, len(split.pool), n_train) if exchangeable else 0  # before any training
    if algorithm is None:
        spec, batch_note = cap_batch(spec, n_train)
        if batch_note:
            stage(f"note: {batch_note}")
    stage(f"training (or loading) {cfg.k} reference models on the adversary's {len(split.adversary)} records")
    with timer.stage("train references"):  # the protocol's references: the same models as `reproduce`
        reference_records, calibration = split_adversary(split.adversary, cfg.seed, cfg.calibration_size)
        check_k_fits(cfg.k, reference_records.size)
        refs = train_references(dataset, spec, store, reference_records, cfg.k, n_train, cfg.seed, cfg.reference_sampling,
                                progress=progress, algorithm=algorithm)
    loss_of = _target_loss(algorithm)
    ref_losses = _reference_losses(policy, loss_of, algorithm)
    with timer.stage("selection"):
        ref_logits = refs.logits(dataset.x)
        f = selection_features(cfg.features, ref_logits, dataset.x, dataset.y)
        selection = select_vulnerable(f[split.pool], f[split.adversary], split.pool, cfg.delta, cfg.beta, n_train,
                                      cfg.scaling, cfg.features, holdout=np.searchsorted(split.adversary, calibration))
        selected = selection.selected
        tested = selected[: cfg.max_records] if cfg.max_records else selected
        at = np.searchsorted(selection.candidates, tested)  # candidates are the sorted pool
        neighbours, expected = selection.neighbours[at], selection.expected()[at]
    stage(f"{len(selected)} of {len(split.pool)} pool records selected (delta={selection.delta:.4g}"
          + (f", {delta_rule_text()}" if selection.delta_derived else "") + f", beta={cfg.beta:g}, "
          f"{cfg.features} features); querying the target with {len(tested)}")
    if exchangeable:
        stage(f"training (or loading) {count} exchangeable reference models, each on a random {n_train} of the "
              f"{len(split.pool)} candidates (about {cfg.out_references} leave out each record)")
        with timer.stage("train exchangeable references"):
            xrefs = train_exchangeable(dataset, spec, store, split.pool, count, n_train, cfg.seed, progress=progress,
                                       algorithm=algorithm)
        # Every candidate is queried for the FDR calls over all of them: after the tested records and the
        # calibration records (a budget goes to the verdicts and the shift first), most isolated first.
        rest = np.setdiff1d(split.pool, tested)
        rest = rest[np.argsort(selection.neighbours[np.searchsorted(selection.candidates, rest)], kind="stable")]
    else:
        rest = tested[:0]
    rows = []
    stopped = None
    n_null, by_class = 0, False
    heldout = None
    y = dataset.y[tested]
    # The exchangeable design queries the candidates and the calibration records even when nothing was selected.
    if cfg.attack in ("direct", "both") and (len(tested) or exchangeable):
        proba = np.full((len(tested), dataset.n_classes), np.nan)
        if len(tested):
            with timer.stage("direct queries"):  # a counter of their own: later queries are not these records
                proba, stopped = _ask(target, dataset.x[tested], progress, "querying the target")
        ref_loss = ref_losses(ref_logits[:, tested], y)  # [k, n]
        tgt_loss = loss_of(proba, y)  # NaN where never answered
        answered = ~np.isnan(tgt_loss)
        p = np.full(len(tested), np.nan)
        p_cal = np.full(len(tested), np.nan)
        if answered.any() or exchangeable:
            if answered.any():
                p[answered] = direct_test(cfg.tail).fit_losses(ref_loss[:, answered]).pvalues_of(tgt_loss[None, answered])[0]
            if stopped is None and calibration.size:
                stage(f"querying the target with up to {cfg.calibration_queries} of the {calibration.size} calibration records")
                with timer.stage("calibration queries"):
                    null, y_null, stopped, heldout = _null_pvalues(dataset, target, ref_losses, ref_logits, calibration, cfg,
                                                                   loss_of, progress)
                n_null = len(null)
                note = resolution_note(n_null, cfg.cutoff)
                if note:
                    stage(f"warning: {note}")
                if n_null and answered.any():
                    by_class = per_class(y_null, dataset.n_classes, cfg.cutoff)
                    p_cal[answered] = calibrated_pvalues(p[None, answered], null[None], y[answered], y_null, by_class)[0]
    else:
        ref_loss = np.empty((cfg.k, len(tested)))
        tgt_loss = p = p_cal = np.full(len(tested), np.nan)
        answered = np.zeros(len(tested), bool)
        proba = np.full((len(tested), dataset.n_classes), np.nan)
    xtest, attacked, attack_scores = None, None, {}
    if exchangeable:
        if len(rest) and stopped is None and cfg.attack in ("direct", "both"):
            stage(f"querying the target with the other {len(rest)} candidates, for the member calls over all of them")
            with timer.stage("candidate queries"):
                proba_rest, stopped = _ask(target, dataset.x[rest], progress, "querying the other candidates")
        else:
            proba_rest = np.full((len(rest), dataset.n_classes), np.nan)
        asked, proba_asked = np.concatenate([tested, rest]).astype(np.int64), np.concatenate([proba, proba_rest])
        with timer.stage("exchangeable test"):
            xlogits = RecordLogits(xrefs, dataset, np.concatenate([asked] + ([heldout[0]] if heldout is not None else [])))
            xtest = exchangeable_test(dataset, xrefs, xlogits, asked, proba_asked, selection, heldout, cfg, ref_losses,
                                      loss_of)
        if xtest.shift is None:
            stage("note: no calibration answers, so the target's overall shift is not removed from the exchangeable test")
        with timer.stage("attacks"):
            attacked, attack_scores = run_attacks(check_attacks(cfg.attacks, True), dataset, cfg, xrefs, xlogits, asked,
                                                  proba_asked, heldout, ref_logits, ref_losses, loss_of, policy, members,
                                                  stage)
    paper_p = p_cal if cfg.pvalues == "calibrated" else p
    used = paper_p if xtest is None else xtest.p[: len(tested)]
    raw = decode_records(dataset.x[tested], dataset.schema) if len(tested) else []
    for i, r in enumerate(tested):
        if xtest is not None:  # the p-value is read from r's out-references
            lo, hi = xtest.interval(i)
            losses = xtest.out_losses[i] if answered[i] else []
        else:
            below = int((ref_loss[:, i] <= tgt_loss[i]).sum()) if answered[i] else None
            lo, hi = clopper_pearson(below, cfg.k) if below is not None else (np.nan, np.nan)
            losses = ref_loss[:, i] if answered[i] else []
        rows.append({
            "record": int(r), "class": dataset.schema.classes[y[i]], "features": raw[i],
            "neighbours": int(neighbours[i]), "expected_neighbours": float(expected[i]),
            "target_loss": float(tgt_loss[i]), "reference_loss_median": float(np.median(losses)) if len(losses) else np.nan,
            # L(M_i, r) of the references the p-value is read from (the report draws it): the k paper
            # references, or r's out-references in the exchangeable design
            "reference_losses": [float(v) for v in losses],
            "p_direct": float(used[i]), "p_raw": float(p[i]), "p_calibrated": float(p_cal[i]), "p_interval": [lo, hi],
            "verdict": _verdict(used[i], cfg.cutoff, answered[i]) if cfg.attack != "indirect" else "-",
            **({} if xtest is None else {
                "p_rank": float(xtest.p_rank[i]), "out_references": int(xtest.out_references[i]),
                "fdr_member": bool(xtest.fdr_member[i]),
                "p_paper": float(paper_p[i])}),
        })
    if cfg.attack in ("indirect", "both") and stopped is None:
        stopped = _indirect(dataset, target, refs, store, cfg, tested, rows, timer, progress, stage,
                            null_pool=(calibration, split.adversary, f, selection.delta))
    truth = twin_all = None
    if members is not None:
        member = np.isin(tested, members)
        # Once, over every queried candidate in the exchangeable design (the tested ones come first).
        twin_all = twin_of_member(dataset, tested if xtest is None else xtest.records, members)
        for row, m, tw in zip(rows, member, twin_all[: len(tested)]):
            row["member"] = bool(m)
            if tw:  # not a member, but the target trained on an identical record
                row["member_twin"] = True
        truth = {}
        for name, key in (("direct", "p_direct"), ("indirect", "p_indirect")):
            pv = np.array([row.get(key, np.nan) for row in rows], dtype=float)
            have = ~np.isnan(pv)
            if have.any():
                truth[name] = asdict(CutoffRow.from_calls((pv[have] < cfg.cutoff)[None], member[have][None], cfg.cutoff))
        truth["members_among_tested"] = int(member.sum())
        if xtest is not None:
            p_paper = np.array([row["p_paper"] for row in rows], dtype=float)
            have = ~np.isnan(p_paper)
            if have.any():
                truth["direct_paper"] = asdict(CutoffRow.from_calls((p_paper[have] < cfg.cutoff)[None], member[have][None], cfg.cutoff))
            called, truly = xtest.fdr_member, np.isin(xtest.records, members)
            truth["fdr"] = {"calls": int(called.sum()), "true": int((called & truly).sum()),
                            "false": int((called & ~truly).sum()),
                            # of the false: the target trained on an identical record (this content is in its training set)
                            "false_on_twins": int((called & twin_all).sum()),
                            "fdp": float((called & ~truly).sum() / called.sum()) if called.sum() else 0.0,
                            "members_among_queried": int(truly[~np.isnan(xtest.p)].sum())}
    refs_member = refs.membership
    return AuditResult(
        dataset=data_name, target=getattr(target, "url", "local model"), model_id=str(target.model_id),
        output=policy.to_dict(),
        # n_targets is the protocol's: an audit has one target.
        config={**{k: v for k, v in cfg.to_dict().items() if k != "n_targets"},
                "delta": selection.delta, "delta_derived": selection.delta_derived,
                "indirect": asdict(cfg.indirect) if cfg.attack != "direct" else None,
                "n_train": n_train, "n_records": len(dataset),
                "spec": spec.model_dump(mode="json"),  # the references' spec: the file's, or capped at N
                "n_features": int(dataset.x.shape[1])},
        n_candidates=len(split.pool), n_selected=len(selected), n_tested=len(tested),
        counts_by_scaling=selection.count_by_scaling(),
        reference_accuracy={"train": float(accuracy(ref_logits, dataset.y, refs_member).mean()),
                            "test": float(accuracy(ref_logits[:, split.pool], dataset.y[split.pool]).mean())},
        records=rows,
        queries={"sent": int(target.sent), "from_cache": int(target.cache_hits), "service": dict(target.server_queries)},
        truth=truth, seconds=dict(timer.seconds), stopped=stopped,
        calibration={"records": int(calibration.size), "answered": n_null, "by_class": by_class, "pvalues": cfg.pvalues},
        algorithms=matching.to_dict(),
        roles={"source": roles.source, "notes": list(roles.notes), "candidates": int(len(split.pool)),
               "population": int(len(split.adversary)), "members_known": members is not None},
        exchangeable=None if xtest is None else exchangeable_summary(xtest, xrefs, n_train, len(tested), cfg),
        candidates=None if xtest is None else candidate_rows(dataset, xtest, selection, members, twin_all, attacked,
                                                                       attack_scores),
        attacks={name: a.to_dict() for name, a in attack_scores.items()} or None,
    )


def _verdict(p: float, cutoff: float, answered: bool = True) -> str:
    if np.isnan(p):
        return "no calibration answers" if answered else "not queried"
    return "member" if p < cutoff else "no evidence"


def _target_loss(algorithm):
    """L(target, r) from the target's answers, as the references' losses are computed: for
    references known by their probabilities (`gmia.algorithms`), through the same floor
    (`gmia.models.foreign.proba_logits`), so a tree's 0 is the same finite loss on both sides."""
    if algorithm is None:
        return proba_loss
    return lambda proba, y: log_loss(proba_logits(proba), y)


def _reference_losses(policy: OutputPolicy, loss_of, algorithm):
    """L(M_i, r) of the references as the target's answers would show them (through the output
    policy), computed the same way as the target's loss (`_target_loss`)."""
    if algorithm is None:
        return policy.losses
    return lambda logits, y: loss_of(policy.apply(softmax(np.asarray(logits, dtype=np.float64), axis=-1)), y)


def _ask(target, x: np.ndarray, progress, what: str) -> tuple[np.ndarray, str | None]:
    """The target's answers on ``x`` (NaN rows where none came) and why the queries stopped early
    (a spent budget, an unreachable target; None if they did not), with a counter of their own."""
    counted = progress is not None and hasattr(target, "on_batch")
    if counted:
        target.on_batch = progress(what, *_to_ask(target, x), unit="records")
    try:
        return target.predict_proba(x), None
    except ResumableError as exc:
        return target.answered(x), str(exc)
    finally:
        if counted:
            target.on_batch = None


def _to_ask(target, x: np.ndarray) -> tuple[int, int]:
    """(total, done) of a query counter: the distinct rows of ``x`` (a target is asked each once,
    duplicates share an answer) and those already answered (cached)."""
    rows = np.unique(x, axis=0)
    return len(rows), len(rows) - int(np.isnan(target.answered(rows)).any(axis=1).sum())


def _null_pvalues(dataset: Dataset, target, ref_losses, ref_logits: np.ndarray, calibration: np.ndarray,
                  cfg: "AuditConfig", loss_of=proba_loss, progress=None):
    """The target's raw p-values on up to ``cfg.calibration_queries`` calibration records (a seeded
    random subset, so a stopped run's answers are still a random sample of the null), their
    classes, why the queries stopped early (None if they did not), and (the answered records,
    the target's losses and answers on them) for the exchangeable test's model shifts and the
    attacks' population."""
    order = np.random.default_rng([cfg.seed, 17]).permutation(calibration)[: cfg.calibration_queries]
    # a counter of its own: the tested records' counter must not run past its total
    proba, stopped = _ask(target, dataset.x[order], progress, "querying the calibration records")
    y = dataset.y[order]
    loss = loss_of(proba, y)
    ok = ~np.isnan(loss)
    if not ok.any():
        return np.empty(0), y[:0], stopped, None
    null = direct_test(cfg.tail).fit_losses(ref_losses(ref_logits[:, order[ok]], y[ok])).pvalues_of(loss[None, ok])[0]
    return null, y[ok], stopped, (order[ok], loss[ok], proba[ok])


def _indirect(dataset, target, refs, store, cfg: AuditConfig, tested, rows, timer, progress, stage,
              null_pool=None) -> str | None:
    """Indirect inference on the first ``indirect_records`` tested records; never queries them.

    Each record's test is then checked on its own null (`gmia.attacks.indirect_null`): the same
    pipeline on ``cfg.indirect.null_records`` calibration records of its class, the most isolated
    in the selection features (``null_pool``: calibration records, the adversary's records, every
    record's selection features, the δ selection used). When the null calls at the cutoff are significantly more than
    cutoff × pairs, ``verdict_indirect`` is "test not calibrated on this data"; ``p_indirect``
    and the null p-values stay. Null queries count against the budget like any other.
    Returns why it stopped early (a spent budget, an unreachable target), or None; a budget spent
    during a null check keeps the null records answered so far, and the verdict uses them."""
    memo: dict = {}
    for i, r in enumerate(tested[: cfg.indirect_records]):
        row = rows[i]

        def found(search, row=row):
            # Recorded before the target is asked, so a budget spent on these queries still reports them.
            row["n_enhancing"] = search.n_found

        try:
            result = indirect_test(cfg.indirect).run(store, dataset, refs, int(r), target.predict_proba, cfg.seed,
                                                     progress=progress, timer=timer, on_stage=stage, on_search=found)
        except ResumableError as exc:
            return str(exc)
        if result.pvalues is None:
            row["p_indirect"], row["verdict_indirect"] = np.nan, "no enhancing query found"
            continue
        p = float(result.pvalues[0])
        row["p_indirect"], row["verdict_indirect"] = p, _verdict(p, cfg.cutoff)
        n_null = null_records_for(cfg.cutoff, 1) if cfg.indirect.null_records is None else cfg.indirect.null_records
        if not n_null or null_pool is None:
            continue
        calibration, adversary, features, delta = null_pool
        chosen = choose_null_records(dataset, int(r), calibration, adversary, features, delta, n_null)
        null = null_check(store, dataset, refs, int(r), chosen, cfg.indirect, target.predict_proba, cfg.seed,
                          progress=progress, timer=timer, on_stage=stage, memo=memo)
        at = null.at([cfg.cutoff])[f"{cfg.cutoff:g}"]
        row.update({"null_records": [int(c) for c in null.records], "null_p": null.pvalues[:, 0].tolist(),
                    "null_calls": at["calls"], "null_pairs": at["pairs"], "null_fraction": at["fraction"],
                    "null_excess_p": at["excess_p"], "null_upper": at["upper_bound"], "null_large_enough": at["large_enough"],
                    "indirect_null_rejected": at["null_rejected"], "null_queries": null.n_queries,
                    "null_enhancing": [int(v) for v in null.n_enhancing],
                    "verdict_indirect": null.verdict(p, cfg.cutoff)})
        if null.stopped:
            return null.stopped
    return None
