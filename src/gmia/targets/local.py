"""A model file queried in this process: the same answers as `gmia serve` gives for it."""

from __future__ import annotations

from gmia.base.errors import GmiaError
from gmia.targets.policy import OutputPolicy, model_id
from gmia.targets.base import CountingTarget


class LocalTarget(CountingTarget):
    """``predict_proba`` of a model file's model (a `gmia.models.file_format.Model`, a
    `gmia.models.onnx_file.OnnxModel`, or anything with ``predict_proba``, ``schema`` and
    ``fingerprint``) through an output policy, counting queries against an optional ``budget``
    (see `gmia.targets.base.CountingTarget`). Its model id is the one `gmia serve` publishes for
    the same file and policy, so local and HTTP results name the model alike."""

    def __init__(self, model, policy: OutputPolicy = OutputPolicy(), budget: int | None = None):
        missing = [a for a in ("predict_proba", "schema", "fingerprint") if not hasattr(model, a)]
        if missing:
            raise GmiaError(f"model of type {type(model).__name__} has no {', '.join(missing)}; expected a gmia Model, an "
                            "OnnxModel, or an object with predict_proba, schema and fingerprint")
        self.model = model
        super().__init__(lambda x: policy.apply(model.predict_proba(x)), model.schema, policy=policy,
                         model_id=model_id(model, policy), budget=budget)
