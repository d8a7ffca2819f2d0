"""The indirect attack's parameters (`gmia.attacks.indirect`), apart from its engine so that a
configuration is checked before torch loads."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gmia.base.errors import GmiaError, check_choice

CORRELATIONS = ("features", "losses")
# CHOICE: noise scale of random queries around an image record, in pixel intensity (0..1) units.
# docs/algorithm.md leaves σ open; 0.3 keeps the digit visible under the noise.
IMAGE_SIGMA = 0.3


@dataclass(frozen=True)
class IndirectConfig:
    """Parameters of the indirect attack (CHOICE where docs/algorithm.md says the paper is silent).

    theta : θ, accept q iff I(r, q) > θ (paper: 0.95 Cancer, 0.9 Adult, 0.8 MNIST).
    n_candidates, n_clusters : random queries generated, and medoids kept after clustering
        (paper: 5,000 → 50).
    min_accepted : run the optimisation when fewer enhancing queries than this pass (paper: 10).
    sigma : σ > 0 for Gaussian noise around r; None for the data's default: uniform queries over
        the feature space for tabular data, Gaussian noise of σ = IMAGE_SIGMA for images, whose
        space is too large for uniform noise to land near anything a model has seen.
    positive_steps : further-training steps of the positive reference models M^r_i.
    record_rate : expected copies of r per batch while training M^r_i.
    gamma, opt_steps, opt_lr, max_optimised : the hinge optimisation of rejected candidates.
    null_records : population records run through the same pipeline in place of r to check the
        test's own null (`gmia.attacks.indirect_null`); 0 turns the check off; None (the default)
        takes enough to support the smallest cutoff (`gmia.attacks.indirect_null.null_records_for`:
        299 (record, target) pairs at 0.01, so 3 records against 100 targets, 299 against one).
    correlation : ρ for Kost's method: between the queries' reference-loss vectors (default:
        Brown's method needs the correlation of the test statistics under H_out, and the k
        reference losses are a sample of exactly that), or between their feature vectors (the
        reference models' probability vectors, docs/algorithm.md's wording; with two classes these
        alternate p, 1 − p and give strongly negative ρ between queries of opposite classes,
        which shrinks Var and makes the combination anti-conservative).
    """

    theta: float = 0.9
    n_candidates: int = 5000
    n_clusters: int = 50
    min_accepted: int = 10
    sigma: float | None = None
    positive_steps: int = 1000
    record_rate: float = 1.0
    gamma: float = 0.01
    opt_steps: int = 300
    opt_lr: float = 0.05
    max_optimised: int = 50
    correlation: str = "losses"
    tail: str = "gaussian"
    null_records: int | None = None

    def __post_init__(self):
        if not 0.0 < self.theta < 1.0:
            raise GmiaError(f"influence threshold theta={self.theta} is out of range; expected a value in (0, 1)")
        if self.n_clusters < 1 or self.n_candidates < self.n_clusters:
            raise GmiaError(f"{self.n_candidates} candidates cannot make {self.n_clusters} clusters; expected 1 <= clusters <= candidates")
        if self.positive_steps < 1 or self.record_rate <= 0:
            raise GmiaError(f"positive reference training needs steps >= 1 and record_rate > 0, got {self.positive_steps} and {self.record_rate}")
        check_choice("correlation", self.correlation, CORRELATIONS)
        if self.null_records is not None and (isinstance(self.null_records, bool)
                                              or not isinstance(self.null_records, int | np.integer) or self.null_records < 0):
            raise GmiaError(f"number of null records {self.null_records!r} is invalid; expected a whole number >= 0 (0 turns the null check off, none sizes it to the cutoff)")
