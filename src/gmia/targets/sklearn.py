"""A fitted scikit-learn model as an audit target, however it was fitted.

A provider's model is rarely fitted on gmia's encoded rows: more often it is a Pipeline whose
ColumnTransformer reads the data as it came, with labels such as ``">50K"``. The audit still
speaks encoded rows and class indices, so this wrapper translates both ways
(`gmia.models.foreign`): rows become what the model reads, its ``classes_`` are put in the data
set's class order. LightGBM's and XGBoost's scikit-learn classes qualify as well.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import joblib
import numpy as np

from gmia.data import Schema
from gmia.base.errors import GmiaError
from gmia.models.foreign import aligned_proba, class_columns, model_inputs, reads_frame
from gmia.models.estimators import describe_estimator
from gmia.targets.policy import OutputPolicy
from gmia.targets.base import CountingTarget


def _check_fitted(estimator) -> np.ndarray:
    """The estimator's ``classes_``; a one-sentence error if it has none to give."""
    kind = type(estimator).__name__
    if not callable(getattr(estimator, "predict_proba", None)):
        raise GmiaError(f"the {kind} has no predict_proba method; expected a scikit-learn classifier that gives "
                        "probabilities (for an SVC: probability=True)")
    try:
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(estimator)
        return np.asarray(estimator.classes_)
    except Exception:  # NotFittedError, AttributeError, or a library's own kind
        raise GmiaError(f"the {kind} is not fitted (it has no classes_); expected a fitted classifier (call fit first)") from None


class SklearnTarget(CountingTarget):
    """A fitted scikit-learn estimator or Pipeline (or LightGBM/XGBoost classifier) as a target.

    Parameters
    ----------
    estimator : the fitted model, kept as ``.estimator`` so an audit can ``sklearn.base.clone``
        it and train reference models the way the target was trained.
    schema : the audited data set's encoding.
    policy : what the answers reveal (full vectors by default), applied to the model's output.
    budget, on_batch : as for `gmia.targets.CountingTarget`.
    """

    def __init__(self, estimator, schema: Schema, *, policy: OutputPolicy | None = None, budget: int | None = None,
                 on_batch: Callable[[int], None] | None = None):
        self.estimator = estimator
        self.classes = _check_fitted(estimator)
        self.reads_frame = reads_frame(estimator, schema)
        width = getattr(estimator, "n_features_in_", None)
        if not self.reads_frame and width is not None and width != schema.n_features:
            raise GmiaError(f"the {type(estimator).__name__} was fitted on {width} features but the data set's encoding "
                            f"has {schema.n_features}; expected a model fitted on this data set's encoded rows or its columns")
        class_columns(self.classes, schema)  # a class the data set lacks fails now, before any query
        description = describe_estimator(estimator, self.reads_frame)
        # A fingerprint of the fitted model (its learned state, through joblib's hash of the object), not only of
        # its class and parameters: two fits of one class on other rows are two models.
        fitted = joblib.hash(estimator)
        digest = hashlib.sha256((json.dumps(description, sort_keys=True) + fitted).encode()).hexdigest()[:12]
        super().__init__(self._answer, schema, policy=policy, model_id=f"{type(estimator).__name__}-{digest}",
                         budget=budget, on_batch=on_batch)

    def describe(self) -> dict:
        """What the model is, as JSON: kind, estimator class, its own parameters, what it reads."""
        return describe_estimator(self.estimator, self.reads_frame)

    def _answer(self, x: np.ndarray) -> np.ndarray:
        inputs = model_inputs(x, self.schema, self.reads_frame)
        try:
            proba = self.estimator.predict_proba(inputs)
        except (ValueError, TypeError, KeyError) as exc:
            text = " ".join(str(exc).split())[:200]
            raise GmiaError(f"the {type(self.estimator).__name__}'s predict_proba failed on {len(x)} records ({text}); "
                            "expected a model that accepts this data set's records") from None
        return self.policy.apply(aligned_proba(proba, self.classes, self.schema))
