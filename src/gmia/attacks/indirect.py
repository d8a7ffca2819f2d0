"""GMIA indirect inference (docs/algorithm.md step 4): infer r's membership without ever querying r.

An *enhancing* query q is a record whose output the presence of r pushes one way: adding r to
a reference model's training set raises the probability of r's class y_r at q in most of the k
reference models. Membership of r in the target then shows as an unusually small loss of y_r
at the enhancing queries, tested against the reference models and combined with Kost's method.

Symbols: M_i the k reference models, M^r_i the positive reference models (M_i further trained
with r added), I(r, q) the influence score (Eq. 1), θ its threshold (Algorithm 1), γ the hinge
margin of the optimisation.

`run_indirect` is the whole pipeline for one record (M^r_i → enhancing queries → the
target queried through a `gmia.data.queries.QueryLog` → the guard that r was never sent →
Kost-combined p-values); ``gmia audit`` and ``gmia reproduce table3`` both call it, and
both check the test's own null with it (`gmia.attacks.indirect_null`).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import pdist, squareform
from scipy.special import softmax

from gmia.attacks.registry import direct_test
from gmia.data import Dataset
from gmia.data.queries import QueryLog, gaussian_queries, project, same_record, uniform_queries
from gmia.stats.ecdf import kost_combine
from gmia.attacks.indirect_config import CORRELATIONS, IMAGE_SIGMA, IndirectConfig  # noqa: F401  (re-exported)
from gmia.zoo import Zoo, ZooStore, stacked


def positive_references(
    store: ZooStore, dataset: Dataset, references: Zoo, record: int, cfg: IndirectConfig, seed: int, progress=None
) -> Zoo:
    """M^r_i: each reference model trained further on its own data with r added, all k at once.

    r is appended to every model's index set ``m`` times, m = record_rate × n / batch, so each
    epoch shows r about ``record_rate`` times per batch. Cached like every other stack.
    """
    n = references.index_sets.shape[1]
    copies = max(1, int(round(cfg.record_rate * n / references.spec.batch_size)))
    sets = np.concatenate([references.index_sets, np.full((references.n_models, copies), record)], axis=1)
    spec = references.spec.model_copy(update={"steps": cfg.positive_steps})
    return store.get(dataset.x, dataset.y, dataset.fingerprint(), sets, spec, seed, dataset.n_classes,
                     chunk_size=references.n_models, name=f"positive references of record {record}",
                     progress=progress, init=references)


def class_probability(zoo: Zoo, queries: np.ndarray, label: int) -> np.ndarray:
    """``[k, Q]`` probability of class ``label`` at each query under each model."""
    return softmax(zoo.logits(queries).astype(np.float64), axis=-1)[..., label]


def influence(positives: Zoo, references: Zoo, queries: np.ndarray, label: int) -> np.ndarray:
    """I(r, q) = (1/k) Σ_i 1[M^r_i(q, y_r) − M_i(q, y_r) > 0] for each query (Eq. 1)."""
    diff = class_probability(positives, queries, label) - class_probability(references, queries, label)
    return (diff > 0).mean(axis=0)


def probability_features(references: Zoo, queries: np.ndarray) -> np.ndarray:
    """``[Q, k·C]``: the k reference models' probability vectors at q, concatenated."""
    p = softmax(references.logits(queries).astype(np.float64), axis=-1)
    return np.transpose(p, (1, 0, 2)).reshape(len(queries), -1)


def cluster_medoids(features: np.ndarray, n_clusters: int) -> np.ndarray:
    """Indices of one medoid per cluster: average-linkage hierarchical clustering by cosine
    distance into ``n_clusters``; the medoid has the least mean distance to its cluster."""
    if len(features) <= n_clusters:
        return np.arange(len(features))
    dist = pdist(features, metric="cosine")
    dist = np.nan_to_num(dist, nan=0.0)
    labels = fcluster(linkage(dist, method="average"), t=n_clusters, criterion="maxclust")
    square = squareform(dist)
    medoids = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        medoids.append(members[np.argmin(square[np.ix_(members, members)].mean(axis=1))])
    return np.asarray(medoids)


def optimise_queries(
    positives: Zoo, references: Zoo, start: np.ndarray, label: int, dataset: Dataset, cfg: IndirectConfig
) -> np.ndarray:
    """Gradient descent on Σ_i max(0, γ − (M^r_i(q, y_r) − M_i(q, y_r))) from each start row,
    through both stacks at once; clamped to the feature ranges at each step, projected onto
    valid records at the end."""
    low = torch.tensor([f.low for f in dataset.schema.features], dtype=torch.float32)
    high = torch.tensor([f.high for f in dataset.schema.features], dtype=torch.float32)
    q = torch.tensor(np.asarray(start, dtype=np.float32), requires_grad=True)
    opt = torch.optim.Adam([q], lr=cfg.opt_lr)
    for _ in range(cfg.opt_steps):
        p_pos = torch.softmax(stacked.forward(positives.params, q, positives.spec.activation, image=positives.spec.image), -1)[..., label]
        p_ref = torch.softmax(stacked.forward(references.params, q, references.spec.activation, image=references.spec.image), -1)[..., label]
        loss = torch.relu(cfg.gamma - (p_pos - p_ref)).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            q.copy_(torch.maximum(torch.minimum(q, high), low))
    return project(q.detach().numpy(), dataset.schema)


@dataclass(frozen=True)
class EnhancingSearch:
    """What the search for enhancing queries found for one record."""

    record: int
    label: int
    queries: np.ndarray  # [m, D] the enhancing queries
    influence: np.ndarray  # [m] their I(r, q)
    optimised: np.ndarray  # [m] bool: found by the optimisation
    distance: np.ndarray  # [m] Euclidean distance to r in encoded feature space
    n_candidates: int
    n_medoids: int
    medoid_influence: np.ndarray = field(repr=False)  # I(r, q) of every medoid, for the record

    @property
    def n_found(self) -> int:
        return int(len(self.queries))


def query_sigma(cfg: IndirectConfig, dataset: Dataset) -> float | None:
    """σ of the Gaussian random queries, or None for uniform ones (see IndirectConfig.sigma)."""
    if cfg.sigma is not None:
        return cfg.sigma
    return IMAGE_SIGMA if dataset.schema.image is not None else None


def _never(queries: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Which queries equal one of ``rows [n, D]`` (exact duplicates)."""
    hit = np.zeros(len(queries), bool)
    for row in rows:
        hit |= same_record(queries, row)
    return hit


def find_enhancing(
    positives: Zoo, references: Zoo, dataset: Dataset, record: int, cfg: IndirectConfig, rng: np.random.Generator,
    avoid: np.ndarray | None = None,
) -> EnhancingSearch:
    """Random queries → medoids → Algorithm 1 (I > θ) → optimisation when too few pass.
    Neither r nor any row of ``avoid [n, D]`` is ever among the queries."""
    r, label = dataset.x[record], int(dataset.y[record])
    never = r[None, :] if avoid is None else np.vstack([r[None, :], np.atleast_2d(avoid)])
    sigma = query_sigma(cfg, dataset)
    if sigma is None:
        cand = uniform_queries(dataset.schema, cfg.n_candidates, rng)
    else:
        cand = gaussian_queries(r, dataset.schema, cfg.n_candidates, sigma, rng)
    cand = cand[~_never(cand, never)]  # never the record itself
    medoids = cand[cluster_medoids(probability_features(references, cand), cfg.n_clusters)]
    score = influence(positives, references, medoids, label)
    accepted = score > cfg.theta
    queries, scores, optimised = [medoids[accepted]], [score[accepted]], [np.zeros(accepted.sum(), bool)]
    if accepted.sum() < cfg.min_accepted and (~accepted).any():
        rejected = medoids[~accepted][np.argsort(-score[~accepted], kind="stable")][: cfg.max_optimised]
        moved = optimise_queries(positives, references, rejected, label, dataset, cfg)
        moved = np.unique(moved[~_never(moved, never)], axis=0)
        moved_score = influence(positives, references, moved, label) if len(moved) else np.empty(0)
        ok = moved_score > cfg.theta
        queries.append(moved[ok])
        scores.append(moved_score[ok])
        optimised.append(np.ones(ok.sum(), bool))
    q = np.concatenate(queries)
    return EnhancingSearch(
        record=record, label=label, queries=q, influence=np.concatenate(scores), optimised=np.concatenate(optimised),
        distance=np.linalg.norm(q - r[None, :], axis=1), n_candidates=len(cand), n_medoids=len(medoids),
        medoid_influence=score,
    )


def indirect_pvalues(
    search: EnhancingSearch, references: Zoo, target_proba: np.ndarray, cfg: IndirectConfig
) -> np.ndarray:
    """One combined p-value per target: the direct test of the loss of y_r at each enhancing
    query (null from the k reference models), combined over queries with Kost's method.

    ``target_proba`` ``[T, m, C]``: the targets' answers at the enhancing queries.
    """
    label = search.label
    ref_loss = -np.log(np.clip(class_probability(references, search.queries, label), 1e-300, None))  # [k, m]
    tgt_loss = -np.log(np.clip(target_proba[..., label], 1e-300, None))  # [T, m]
    p = direct_test(cfg.tail).fit_losses(ref_loss).pvalues_of(tgt_loss)
    if cfg.correlation == "features":
        rho = np.corrcoef(probability_features(references, search.queries))
    else:
        rho = np.corrcoef(ref_loss.T)
    rho = np.nan_to_num(np.atleast_2d(rho), nan=0.0)
    return np.array([kost_combine(row, rho) for row in p])


@dataclass(frozen=True)
class IndirectResult:
    """The indirect attack on one record r."""

    search: EnhancingSearch
    pvalues: np.ndarray | None  # [T] Kost-combined p-value per target; None when no enhancing query was found
    n_queries: int  # rows sent to the target, all of them enhancing queries
    positives: Zoo = field(repr=False)  # M^r_i, for callers that report the losses at r


def run_indirect(
    store: ZooStore,
    dataset: Dataset,
    references: Zoo,
    record: int,
    cfg: IndirectConfig,
    predict_proba: Callable[[np.ndarray], np.ndarray],
    seed: int,
    *,
    progress=None,
    timer=None,
    on_stage=None,
    on_search: Callable[[EnhancingSearch], None] | None = None,
    avoid: np.ndarray | None = None,
) -> IndirectResult:
    """Indirect inference on ``record`` against the black box ``predict_proba`` (``[m, C]`` for one
    target or ``[T, m, C]`` for several), which is only ever asked the enhancing queries.

    M^r_i are trained from ``seed + 1`` and the random queries drawn from ``[seed, record]``, so
    a rerun finds the same queries (and reads the same cached stack). ``timer`` is anything with
    a ``stage(name)`` context manager; ``on_search`` sees the search before the target is asked,
    so a caller can record it even if the target then fails. Errors of the target, such as a
    spent query budget (``ResumableError``), propagate unchanged. ``avoid [n, D]``: more rows
    never to send (the null check passes the record under attack while it runs on a null record).

    Raises RuntimeError if the query log saw r, a row of ``avoid``, or an exact duplicate of
    either: that would break the attack's one promise, so it is a bug, never a result.
    """
    stage = on_stage or (lambda text: None)
    timed = timer.stage if timer is not None else (lambda name: nullcontext())
    stage(f"indirect inference on record {record}: training positive reference models")
    with timed("positive references"):
        positives = positive_references(store, dataset, references, record, cfg, seed + 1, progress)
    stage(f"indirect inference on record {record}: searching for enhancing queries")
    with timed("enhancing queries"):
        search = find_enhancing(positives, references, dataset, record, cfg, np.random.default_rng([seed, record]),
                                avoid=avoid)
    if on_search is not None:
        on_search(search)
    if search.n_found == 0:
        return IndirectResult(search=search, pvalues=None, n_queries=0, positives=positives)
    stage(f"indirect inference on record {record}: querying the target with {search.n_found} enhancing queries")
    log = QueryLog(predict_proba)
    with timed("indirect queries"):
        proba = np.asarray(log.predict_proba(search.queries))
        if log.sent(dataset.x[record]):
            raise RuntimeError(f"the indirect attack queried record {record} itself; this is a bug")
        if avoid is not None and any(log.sent(row) for row in np.atleast_2d(avoid)):
            raise RuntimeError(f"the indirect attack on record {record} queried a record it must never send; this is a bug")
        p = indirect_pvalues(search, references, proba[None] if proba.ndim == 2 else proba, cfg)
    return IndirectResult(search=search, pvalues=p, n_queries=log.n_queries, positives=positives)


@dataclass
class GmiaIndirect:
    """GMIA's indirect test as a registered record attack (`gmia.attacks.registry.indirect_test`):
    `run_indirect` with this ``config``."""

    config: IndirectConfig
    name: str = "gmia-indirect"

    def run(self, store: ZooStore, dataset: Dataset, references: Zoo, record: int,
            predict_proba: Callable[[np.ndarray], np.ndarray], seed: int, **options) -> IndirectResult:
        return run_indirect(store, dataset, references, record, self.config, predict_proba, seed, **options)
