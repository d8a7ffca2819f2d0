"""Shadow-model attack (Shokri, Stronati, Song, Shmatikov, S&P 2017), as in the GMIA paper's Table 7.

Shadow models are trained like the target on data whose membership the adversary knows. For
each class c, an attack network (one hidden layer of 64 ReLU units) learns to tell the shadow
models' prediction vectors on their training records of class c ("in") from those on other
records of class c ("out"). The score of (target, record) is the network's P(in) on the
target's prediction vector; the attack calls "member" iff P(in) > the confidence threshold
(the GMIA paper uses 0.8 on Cancer, 0.6 on Adult and MNIST).

``features="raw"`` feeds the probability vector as Shokri et al. do: with one network per
class, the position of the true label is fixed, so the network can see whether the prediction
is right. ``"sorted"`` sorts it in descending order (Salem et al.'s ML-Leaks variant), which
hides that on two-class data.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy.special import softmax
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from gmia.attacks.base import Attack, AttackSettings, check_confidence
from gmia.attacks.inputs import AttackInputs
from gmia.base.errors import GmiaError, check_choice

FEATURES = ("raw", "sorted")


@dataclass
class Shokri(Attack):
    """One attack network per class; ``score`` returns P(in) ``[T, n]``.

    ``fit(inputs)`` / ``score(inputs)`` take the softmax of the in/out shadow models' and the
    targets' logits; ``fit_probs(shadow_probs, y, shadow_membership)`` / ``score_probs(target_probs, y)``
    are the same on probability arrays. The common settings give ``confidence`` and ``seed``.

    Parameters
    ----------
    confidence : threshold on P(in) for the member call, in (0, 1).
    hidden : units of the single ReLU hidden layer (64 in the paper).
    features : ``"raw"`` or ``"sorted"`` probability vectors.
    max_pairs_per_class : (shadow model, record) pairs drawn per class to train its network;
        the shadow stack gives K·n pairs, far more than one network needs.
    max_iter : epochs of scikit-learn's Adam.
    seed : seeds the pair sample and each network's initialisation.
    """

    confidence: float = 0.5
    hidden: int = 64
    features: str = "raw"
    max_pairs_per_class: int = 20000
    max_iter: int = 200
    seed: int = 0
    name: str = field(default="shokri", init=False)
    networks_: dict | None = field(default=None, init=False, repr=False)

    def __post_init__(self):
        check_confidence(self.confidence)
        if self.hidden < 1 or self.max_pairs_per_class < 2 or self.max_iter < 1:
            raise GmiaError(f"Shokri settings hidden={self.hidden}, max_pairs_per_class={self.max_pairs_per_class}, "
                            f"max_iter={self.max_iter} are invalid; expected hidden >= 1, pairs >= 2, max_iter >= 1")
        check_choice("Shokri features", self.features, FEATURES)

    def _features(self, probs: np.ndarray) -> np.ndarray:
        return -np.sort(-probs, axis=-1) if self.features == "sorted" else probs

    @classmethod
    def from_settings(cls, settings: AttackSettings, **fixed) -> "Shokri":
        return cls(confidence=settings.confidence, seed=settings.seed, **fixed)

    def fit_probs(self, shadow_probs: np.ndarray, y: np.ndarray, shadow_membership: np.ndarray) -> "Shokri":
        """``shadow_probs [K, n, C]`` prediction vectors, ``y [n]`` labels, ``shadow_membership [K, n]``."""
        probs = np.asarray(shadow_probs, dtype=np.float64)
        y = np.asarray(y)
        member = np.asarray(shadow_membership, dtype=bool)
        if probs.ndim != 3 or member.shape != probs.shape[:2] or y.shape != (probs.shape[1],):
            raise GmiaError(f"shadow outputs of shape {probs.shape}, labels {y.shape} and membership {member.shape} "
                            "do not match; expected [K, n, C], [n] and [K, n]")
        rng = np.random.default_rng(self.seed)
        self.networks_ = {}
        for c in np.unique(y):  # one network per class: a loop over classes, not records
            cols = np.flatnonzero(y == c)
            n_pairs = probs.shape[0] * cols.size
            pick = rng.choice(n_pairs, size=min(n_pairs, self.max_pairs_per_class), replace=False)
            k, j = np.divmod(pick, cols.size)
            labels = member[k, cols[j]]
            if labels.all() or not labels.any():
                raise GmiaError(f"class {c} has only {'in' if labels.all() else 'out'} shadow pairs; expected "
                                "shadow models both trained and not trained on records of every class")
            net = MLPClassifier(hidden_layer_sizes=(self.hidden,), activation="relu", max_iter=self.max_iter,
                                random_state=int(rng.integers(2**31 - 1)))
            with warnings.catch_warnings():
                # Hitting max_iter on well-generalised shadows is expected; the net is still usable.
                warnings.simplefilter("ignore", ConvergenceWarning)
                net.fit(self._features(probs[k, cols[j]]), labels)
            self.networks_[c.item()] = net
        return self

    def score_probs(self, target_probs: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``target_probs [T, n, C]``, ``y [n]`` → P(in) ``[T, n]``."""
        if self.networks_ is None:
            raise RuntimeError("call fit() before score()")
        probs = np.asarray(target_probs, dtype=np.float64)
        y = np.asarray(y)
        out = np.empty(probs.shape[:2], dtype=np.float64)
        for c in np.unique(y):
            if c.item() not in self.networks_:
                raise GmiaError(f"class {c} has no attack network; expected shadow records of every class that is scored")
            net = self.networks_[c.item()]
            cols = np.flatnonzero(y == c)
            block = self._features(probs[:, cols]).reshape(-1, probs.shape[2])
            p_in = net.predict_proba(block)[:, list(net.classes_).index(True)]
            out[:, cols] = p_in.reshape(probs.shape[0], cols.size)
        return out

    def fit(self, inputs: AttackInputs) -> "Shokri":
        return self.fit_probs(softmax(inputs.shadow_logits.astype(np.float64), axis=-1), inputs.y_pool,
                              inputs.shadow_membership)

    def score(self, inputs: AttackInputs) -> np.ndarray:
        return self.score_probs(softmax(inputs.target_logits.astype(np.float64), axis=-1), inputs.y_pool)

    def threshold(self) -> float:
        """Member iff P(in) > confidence."""
        return self.confidence
