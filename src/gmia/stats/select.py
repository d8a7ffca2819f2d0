"""Vulnerable-record selection (docs/algorithm.md step 2): records with few neighbours are candidates.

Features of a record r: the k reference models' logits on r, concatenated (length k·C). Two
records are neighbours iff their cosine distance is below δ (``neighbor_threshold``). N'_n counts
r's neighbours among the adversary's N' reference records; the expected number in a training
set of size N is E[N_n]; r is a candidate target iff E[N_n] < β (``probability_threshold``).

E[N_n] has two readings (docs/algorithm.md, AMBIGUOUS): the consistent ``"n_over_nprime"`` scaling
N'_n × N/N' (default: it is the only one under which the count grows with β as the paper's
Table 2 shows) and the paper's printed ``"nprime_over_n"`` form N'_n × N'/N.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gmia.base.choices import Features, Scaling, values
from gmia.base.errors import GmiaError, check_choice

SCALINGS = values(Scaling)
FEATURE_KINDS = values(Features)


def logit_features(reference_logits: np.ndarray) -> np.ndarray:
    """``[k, N, C]`` reference logits → ``[N, k·C]`` per-record feature vectors."""
    k, n, c = reference_logits.shape
    return np.ascontiguousarray(np.transpose(reference_logits, (1, 0, 2)).reshape(n, k * c))


def selection_features(kind: str, reference_logits: np.ndarray | None, x: np.ndarray,
                       y: np.ndarray | None = None) -> np.ndarray:
    """Per-record features for neighbour counting.

    ``logits``: the k reference models' logits concatenated (docs/algorithm.md, the default).
    ``centred-logits``: each model's logits minus their mean over classes. Softmax ignores that
    mean, so training never moves it away from its random initial value; it adds noise common
    to all records of a model and pulls every cosine similarity up (CHOICE, not the paper's).
    ``raw``: the records' own features, for a target whose structure is hidden (the paper's
    Google-hosted Adult model).
    ``label-logits``: each model's centred logit of the record's own class ``y`` ([k] per record).
    The other kinds ignore the label, so a record the references get confidently *wrong* (a
    far-out record whose label contradicts its neighbourhood, the kind that leaks most) looks like
    any confident record; here it is far from every record they get right (CHOICE, not the paper's).
    """
    if kind == "raw":
        return np.asarray(x, dtype=np.float32)
    if kind == "logits":
        return logit_features(reference_logits)
    if kind == "centred-logits":
        return logit_features(reference_logits - reference_logits.mean(axis=-1, keepdims=True))
    if kind == "label-logits":
        if y is None:
            raise GmiaError("label-logits selection features need the records' labels; expected y")
        z = np.asarray(reference_logits, dtype=np.float32)
        own = np.take_along_axis(z, np.asarray(y, dtype=np.int64)[None, :, None], axis=-1)[..., 0]  # [k, N]
        return np.ascontiguousarray((own - z.mean(axis=-1)).T)  # [N, k]
    check_choice("selection features", kind, FEATURE_KINDS)


def unit_rows(f: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (float32), for cosine similarities as dot products."""
    f = np.asarray(f, dtype=np.float32)
    norms = np.linalg.norm(f, axis=1, keepdims=True)
    return f / np.maximum(norms, 1e-12)


def count_neighbours(
    queries: np.ndarray, references: np.ndarray, delta: float, max_block_mb: float = 256.0
) -> np.ndarray:
    """N'_n for each query row: reference rows at cosine distance < δ.

    Works in blocks of query rows so that memory stays at ``max_block_mb`` for the similarity
    block, never an N × N' matrix.
    """
    q = unit_rows(queries)
    r = unit_rows(references)
    # Cosine distance is undefined at the origin (a raw all-minimum record encodes to zeros):
    # zero rows count as each other's neighbours (they are the same point) and nobody else's.
    q_zero, r_zero = ~q.any(axis=1), ~r.any(axis=1)
    rows = max(1, int(max_block_mb * 2**20 // (4 * max(r.shape[0], 1))))
    counts = np.empty(q.shape[0], dtype=np.int64)
    # cos distance < δ  ⇔  cos similarity > 1 − δ
    threshold = np.float32(1.0 - delta)
    for s in range(0, q.shape[0], rows):
        sims = q[s : s + rows] @ r.T
        counts[s : s + rows] = (sims > threshold).sum(axis=1)
    counts[q_zero] = int(r_zero.sum())
    return counts


def kth_nearest_distance(queries: np.ndarray, references: np.ndarray, self_index: np.ndarray, k: int = 1,
                         max_block_mb: float = 256.0) -> np.ndarray:
    """Cosine distance from each query row to its k-th nearest reference row, in blocks of query
    rows. ``self_index[i]`` is query i's own row among the references (never its own neighbour),
    or −1 if it has none there; inf where fewer than k other rows exist."""
    q, r = unit_rows(queries), unit_rows(references)
    self_index = np.asarray(self_index)
    out = np.empty(q.shape[0], dtype=np.float64)
    rows = max(1, int(max_block_mb * 2**20 // (4 * max(r.shape[0], 1))))
    for s in range(0, q.shape[0], rows):
        dist = 1.0 - q[s : s + rows] @ r.T  # [b, N'] cosine distances
        at = self_index[s : s + rows]
        mine = np.flatnonzero(at >= 0)
        dist[mine, at[mine]] = np.inf
        out[s : s + rows] = np.partition(dist, k - 1, axis=1)[:, k - 1]
    return out


def expected_neighbours(counts: np.ndarray, n_train: int, n_reference: int, scaling: str) -> np.ndarray:
    """E[N_n] from N'_n under the chosen scaling."""
    if scaling == "n_over_nprime":
        return counts * (n_train / n_reference)
    if scaling == "nprime_over_n":
        return counts * (n_reference / n_train)
    check_choice("scaling", scaling, SCALINGS)


@dataclass(frozen=True)
class Selection:
    """The outcome of selection over candidate records (indices into the data set)."""

    candidates: np.ndarray  # [n] record indices considered
    neighbours: np.ndarray  # [n] N'_n
    delta: float
    beta: float
    scaling: str
    n_train: int  # N, the target training-set size
    n_reference: int  # N', the adversary's reference-record count
    mode: str  # the selection features: "logits", "centred-logits" or "raw"
    delta_derived: bool = False  # δ came from `derived_delta` (none was given)

    def expected(self, scaling: str | None = None) -> np.ndarray:
        return expected_neighbours(self.neighbours, self.n_train, self.n_reference, scaling or self.scaling)

    def mask(self, scaling: str | None = None) -> np.ndarray:
        return self.expected(scaling) < self.beta

    @property
    def selected(self) -> np.ndarray:
        """Record indices of the selected (vulnerable) records, most isolated first."""
        m = self.mask()
        order = np.argsort(self.neighbours[m], kind="stable")
        return self.candidates[m][order]

    def count_by_scaling(self) -> dict[str, int]:
        return {s: int(self.mask(s).sum()) for s in SCALINGS}


DELTA_FRACTION = 0.01  # the share of the adversary's own records a derived δ would select
DELTA_SAMPLE = 5000  # adversary records whose neighbour distances estimate it


def delta_rule_text(fraction: float = DELTA_FRACTION) -> str:
    return (f"delta derived from the data: the largest cosine distance at which {100 * fraction:g}% of the adversary's "
            "own records would still be selected (each against the others)")


def derived_delta(features: np.ndarray, beta: float, n_train: int, scaling: str = "n_over_nprime",
                  fraction: float = DELTA_FRACTION, sample: int = DELTA_SAMPLE, seed: int = 0,
                  holdout: np.ndarray | None = None) -> float:
    """δ for a data set the paper did not run, from the adversary's own records.

    A record is selected iff E[N_n] < β, i.e. iff it has fewer than m = ⌈β / s⌉ neighbours among
    the N' adversary records (s = N/N' or N'/N, the scaling): iff its m-th nearest adversary
    record is at cosine distance ≥ δ. So the δ at which a ``fraction`` of the adversary's own
    records (each against the others) would be selected is the (1 − fraction) quantile of their
    m-th nearest-neighbour distance, computed on up to ``sample`` of them. The pool is drawn
    from the same population, so about that fraction of the pool is selected.

    ``holdout``: positions (rows of ``features``) of records no reference model trained on, such
    as the calibration set. The quantile is then taken over them alone: the pool's records are
    out-of-sample for every reference, and a record the references trained on can lie elsewhere in
    their logit space than an unseen one, so the δ is taken on records like the pool's. (On
    Cancer, seed 0, it moved δ from 0.154 to 0.147 at β = 0.1 and selected the same 5 records.)
    Without holdout records (none held out) every row is used; raw features, which no reference
    shapes, use every row too (`select_vulnerable`).

    The distances are those `count_neighbours` counts with: a zero row (raw Cancer's
    all-minimum record) is at distance 0 from the other zero rows and never a neighbour of any
    other row, so it is isolated only when it has fewer than m zero twins. A quantile over N'
    records cannot resolve a fraction below about 1/N': on a tiny adversary expect up to about
    2/(N'+1) of the pool selected (docs/algorithm.md, "A derived δ for data the paper did not run").
    """
    check_choice("scaling", scaling, SCALINGS)
    check_thresholds(None, beta)
    features = np.asarray(features, dtype=np.float32)
    n_ref = features.shape[0]
    scale = n_train / n_ref if scaling == "n_over_nprime" else n_ref / n_train
    m = max(1, int(np.ceil(beta / scale - 1e-12)))
    if m >= n_ref:  # every record is selected at any δ: the most permissive δ is as good as any
        return 2.0 - 1e-6
    source = np.arange(n_ref) if holdout is None or len(holdout) == 0 else np.asarray(holdout, dtype=np.int64)
    rows = np.sort(np.random.default_rng(seed).choice(source, size=min(sample, source.size), replace=False))
    kth = kth_nearest_distance(features[rows], features, rows, m)
    zero = ~features.any(axis=1)
    if zero.any():  # count_neighbours' rule, not the undefined cosine of a zero row
        twins = int(zero.sum()) - 1  # a sampled zero row's zero twins (it is one of the zero rows)
        kth[zero[rows]] = 0.0 if twins >= m else 2.0
    # 2 is the largest cosine distance: a row with fewer than m others is isolated at every δ
    delta = float(np.quantile(np.minimum(kth, 2.0), 1.0 - fraction))
    return float(np.clip(delta, 1e-6, 2.0 - 1e-6))


def check_thresholds(delta: float | None, beta: float) -> None:
    """δ in (0, 2) or None (derived from the data, `derived_delta`); β > 0."""
    if delta is not None and not (0.0 < delta < 2.0):
        raise GmiaError(f"neighbour threshold delta={delta} is out of range; expected a cosine distance in (0, 2)")
    if not beta > 0.0:
        raise GmiaError(f"probability threshold beta={beta} is out of range; expected beta > 0")


def select_vulnerable(
    candidate_features: np.ndarray,
    reference_features: np.ndarray,
    candidates: np.ndarray,
    delta: float | None,
    beta: float,
    n_train: int,
    scaling: str = "n_over_nprime",
    mode: str = "logits",
    max_block_mb: float = 256.0,
    holdout: np.ndarray | None = None,
) -> Selection:
    """Select candidate targets: E[N_n] < β with neighbours counted at cosine distance < δ.

    ``candidate_features`` rows belong to ``candidates``; ``reference_features`` are the
    adversary's records (logit features from `logit_features`, or raw features in
    ``mode="raw"`` when the target's structure is hidden). ``delta=None``: `derived_delta`, over
    the ``holdout`` rows of ``reference_features`` (records no reference trained on) when given.
    """
    check_thresholds(delta, beta)
    check_choice("scaling", scaling, SCALINGS)
    derived = delta is None
    if derived:
        delta = derived_delta(reference_features, beta, n_train, scaling, holdout=None if mode == "raw" else holdout)
    counts = count_neighbours(candidate_features, reference_features, delta, max_block_mb)
    return Selection(
        candidates=np.asarray(candidates),
        neighbours=counts,
        delta=delta,
        beta=beta,
        scaling=scaling,
        n_train=n_train,
        n_reference=int(reference_features.shape[0]),
        mode=mode,
        delta_derived=derived,
    )
