"""`gmia audit`: GMIA against one black-box target, local or behind a prediction API.

The adversary's side is the paper's: the data set is split as in the protocol; the pool holds
the candidate records (those that may be in the target's training set), the rest are the
adversary's reference records. k reference models train on bootstrap samples of the
reference records, each the size N of the target's training set; selection flags the pool
records with E[N_n] < β (on raw features by default, since a deployed model's structure is
hidden); each flagged record is then tested directly (its own query) and, if asked, indirectly
(enhancing queries only). Queries go out most isolated record first, so a budget is spent
where the evidence is strongest.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from gmia.attacks.direct import GmiaDirect, check_cutoff
from gmia.attacks.indirect import IndirectConfig, find_enhancing, indirect_pvalues, positive_references
from gmia.data import Dataset, decode_records, paper_split
from gmia.errors import GmiaError, ResumableError, check_choice
from gmia.evaluate import CutoffRow
from gmia.outputs import OutputPolicy
from gmia.protocol import REFERENCE_SAMPLINGS, Timer, train_references
from gmia.select import select_vulnerable, selection_features
from gmia.signals import accuracy, proba_loss
from gmia.stats import clopper_pearson
from gmia.targets import QueryLog
from gmia.zoo import TrainSpec, ZooStore

ATTACK_CHOICES = ("direct", "indirect", "both")
RESULT_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class AuditConfig:
    k: int = 100
    delta: float = 0.1
    beta: float = 0.1
    scaling: str = "n_over_nprime"
    features: str = "raw"
    cutoff: float = 0.01
    tail: str = "pchip"
    seed: int = 0
    pool_size: int | None = None
    train_size: int | None = None  # N; default: half the pool, as in the protocol
    reference_sampling: str = "bootstrap"
    max_records: int | None = None  # test at most this many selected records
    attack: str = "direct"
    indirect: IndirectConfig = field(default_factory=IndirectConfig)
    indirect_records: int = 1

    def __post_init__(self):
        check_cutoff(self.cutoff)
        check_choice("attack", self.attack, ATTACK_CHOICES)
        check_choice("reference sampling", self.reference_sampling, REFERENCE_SAMPLINGS)
        if self.max_records is not None and self.max_records < 1:
            raise GmiaError(f"max records {self.max_records} is not positive; expected at least 1 record to test")
        if self.indirect_records < 1:
            raise GmiaError(f"indirect records {self.indirect_records} is not positive; expected at least 1")


@dataclass
class AuditResult:
    dataset: str
    target: str
    model_id: str
    output: dict
    config: dict
    n_candidates: int
    n_selected: int
    n_tested: int
    counts_by_scaling: dict
    reference_accuracy: dict
    records: list[dict]
    queries: dict
    truth: dict | None
    seconds: dict
    stopped: str | None = None

    def to_dict(self) -> dict:
        return {"schema_version": RESULT_SCHEMA_VERSION, **asdict(self)}


def check_schema(target_schema, dataset: Dataset) -> None:
    """The target must read records exactly as the data set encodes them."""
    ours, theirs = dataset.schema.to_dict(), target_schema.to_dict()
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


def run_audit(dataset: Dataset, target, spec: TrainSpec, store: ZooStore, cfg: AuditConfig,
              members: np.ndarray | None = None, progress=None, on_stage=None) -> AuditResult:
    """Select, query and test; on a spent budget or an unreachable target, return what was
    answered with ``stopped`` set (the target's cache makes the rerun resume)."""
    stage = on_stage or (lambda text: None)
    timer = Timer()
    check_schema(target.schema, dataset)
    policy: OutputPolicy = target.policy
    if cfg.attack != "direct" and not policy.is_identity:
        raise GmiaError(f"the indirect attack needs full probability vectors but the target answers {policy.describe()}; expected --attack direct")
    split = paper_split(dataset, pool_size=cfg.pool_size, seed=cfg.seed)
    n_train = cfg.train_size or len(split.pool) // 2
    if not 1 <= n_train <= len(dataset):
        raise GmiaError(f"training-set size N={n_train} is out of range; expected 1 to {len(dataset)}")
    stage(f"training (or loading) {cfg.k} reference models on the adversary's {len(split.adversary)} records")
    with timer.stage("train references"):  # the protocol's references: the same models as `reproduce`
        refs = train_references(dataset, spec, store, split.adversary, cfg.k, n_train, cfg.seed, cfg.reference_sampling,
                                progress=progress)
    with timer.stage("selection"):
        ref_logits = refs.logits(dataset.x)
        f = selection_features(cfg.features, ref_logits, dataset.x)
        selection = select_vulnerable(f[split.pool], f[split.adversary], split.pool, cfg.delta, cfg.beta, n_train,
                                      cfg.scaling, cfg.features)
        selected = selection.selected
        tested = selected[: cfg.max_records] if cfg.max_records else selected
        at = np.searchsorted(selection.candidates, tested)  # candidates are the sorted pool
        neighbours, expected = selection.neighbours[at], selection.expected()[at]
    stage(f"{len(selected)} of {len(split.pool)} pool records selected (delta={cfg.delta:g}, beta={cfg.beta:g}, "
          f"{cfg.features} features); querying the target with {len(tested)}")
    rows = []
    stopped = None
    y = dataset.y[tested]
    if len(tested) and cfg.attack in ("direct", "both"):
        if progress is not None and hasattr(target, "on_batch"):
            missing = int(np.isnan(target.answered(dataset.x[tested])).any(axis=1).sum())
            target.on_batch = progress("querying the target", len(tested), len(tested) - missing, unit="records")
        with timer.stage("direct queries"):
            try:
                proba = target.predict_proba(dataset.x[tested])
            except ResumableError as exc:
                stopped, proba = str(exc), target.answered(dataset.x[tested])
        ref_loss = policy.losses(ref_logits[:, tested], y)  # [k, n]
        tgt_loss = proba_loss(proba, y)  # NaN where never answered
        answered = ~np.isnan(tgt_loss)
        p = np.full(len(tested), np.nan)
        if answered.any():
            p[answered] = GmiaDirect(cfg.tail).fit(ref_loss[:, answered]).score(tgt_loss[None, answered])[0]
    else:
        ref_loss = np.empty((cfg.k, len(tested)))
        tgt_loss = p = np.full(len(tested), np.nan)
        answered = np.zeros(len(tested), bool)
    raw = decode_records(dataset.x[tested], dataset.schema) if len(tested) else []
    for i, r in enumerate(tested):
        below = int((ref_loss[:, i] <= tgt_loss[i]).sum()) if answered[i] else None
        lo, hi = clopper_pearson(below, cfg.k) if below is not None else (np.nan, np.nan)
        rows.append({
            "record": int(r), "class": dataset.schema.classes[y[i]], "features": raw[i],
            "neighbours": int(neighbours[i]), "expected_neighbours": float(expected[i]),
            "target_loss": float(tgt_loss[i]), "reference_loss_median": float(np.median(ref_loss[:, i])) if answered[i] else np.nan,
            "p_direct": float(p[i]), "p_interval": [lo, hi],
            "verdict": _verdict(p[i], cfg.cutoff) if cfg.attack != "indirect" else "-",
        })
    if cfg.attack in ("indirect", "both") and stopped is None:
        stopped = _indirect(dataset, target, refs, store, cfg, tested, rows, timer, progress, stage)
    truth = None
    if members is not None:
        member = np.isin(tested, members)
        for row, m in zip(rows, member):
            row["member"] = bool(m)
        truth = {}
        for name, key in (("direct", "p_direct"), ("indirect", "p_indirect")):
            pv = np.array([row.get(key, np.nan) for row in rows], dtype=float)
            have = ~np.isnan(pv)
            if have.any():
                truth[name] = asdict(CutoffRow.from_calls((pv[have] < cfg.cutoff)[None], member[have][None], cfg.cutoff))
        truth["members_among_tested"] = int(member.sum())
    refs_member = refs.membership
    return AuditResult(
        dataset=dataset.name, target=getattr(target, "url", "local model"), model_id=target.model_id,
        output=policy.to_dict(),
        config={**{k: v for k, v in asdict(cfg).items() if k != "indirect"},
                "indirect": asdict(cfg.indirect) if cfg.attack != "direct" else None,
                "spec": spec.model_dump(mode="json"), "n_train": n_train, "n_records": len(dataset),
                "n_features": int(dataset.x.shape[1])},
        n_candidates=len(split.pool), n_selected=len(selected), n_tested=len(tested),
        counts_by_scaling=selection.count_by_scaling(),
        reference_accuracy={"train": float(accuracy(ref_logits, dataset.y, refs_member).mean()),
                            "test": float(accuracy(ref_logits[:, split.pool], dataset.y[split.pool]).mean())},
        records=rows,
        queries={"sent": int(target.sent), "from_cache": int(target.cache_hits), "service": dict(target.server_queries)},
        truth=truth, seconds=dict(timer.seconds), stopped=stopped,
    )


def _verdict(p: float, cutoff: float) -> str:
    if np.isnan(p):
        return "not queried"
    return "member" if p < cutoff else "no evidence"


def _indirect(dataset, target, refs, store, cfg: AuditConfig, tested, rows, timer, progress, stage) -> str | None:
    """Indirect inference on the first ``indirect_records`` tested records; never queries them."""
    for i, r in enumerate(tested[: cfg.indirect_records]):
        r = int(r)
        stage(f"indirect inference on record {r}: training positive reference models, searching enhancing queries")
        with timer.stage("indirect search"):
            positives = positive_references(store, dataset, refs, r, cfg.indirect, cfg.seed + 1, progress)
            search = find_enhancing(positives, refs, dataset, r, cfg.indirect, np.random.default_rng([cfg.seed, r]))
        rows[i]["n_enhancing"] = search.n_found
        if search.n_found == 0:
            rows[i]["p_indirect"], rows[i]["verdict_indirect"] = np.nan, "no enhancing query found"
            continue
        log = QueryLog(target.predict_proba)
        with timer.stage("indirect queries"):
            try:
                proba = log.predict_proba(search.queries)
            except ResumableError as exc:
                return str(exc)
        if log.sent(dataset.x[r]):
            raise RuntimeError(f"the indirect attack queried record {r} itself; this is a bug")
        p = float(indirect_pvalues(search, refs, proba[None], cfg.indirect)[0])
        rows[i]["p_indirect"], rows[i]["verdict_indirect"] = p, _verdict(p, cfg.cutoff)
    return None
