"""What the prediction service is set up with and what it publishes, apart from the web framework.

Nothing here imports fastapi or uvicorn (the ``serve`` extra), so key files, budgets and the
service's settings work without them; only building or running the app needs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gmia.targets.policy import OutputPolicy, model_id

ACCESS_LOG = "gmia.serve.access"
FEATURE = "the prediction-API server (gmia serve)"  # what a missing fastapi/uvicorn is reported for
EXTRA = "serve"


@dataclass(frozen=True)
class ServeConfig:
    max_batch: int = 1000  # records per request
    max_body_bytes: int = 4 * 2**20
    policy: OutputPolicy = field(default_factory=OutputPolicy)


def public_schema(model, policy: OutputPolicy) -> dict:
    """What ``GET /v1/schema`` answers for ``model`` (a `gmia.models.file_format.Model` or a
    `gmia.models.onnx_file.OnnxModel`: both give ``schema`` and ``fingerprint``)."""
    # Here, not at the top: checking a keys file must not load the audit's side (and torch).
    from gmia.auditing.matching import model_description

    groups = model.schema.groups()
    features = []
    for group, idx in groups.items():
        f = [model.schema.features[i] for i in idx]
        if f[0].kind == "numeric":
            lo, hi = (v * f[0].scale + f[0].offset for v in (f[0].low, f[0].high))
            features.append({"name": group, "type": "integer" if f[0].integer else "number", "min": lo, "max": hi})
        else:
            features.append({"name": group, "type": "category", "categories": [x.category for x in f]})
    return {
        "model": model_id(model, policy),
        "features": features,
        "classes": list(model.schema.classes),
        "label": model.schema.label,
        "output": policy.to_dict(),
        "encoding": model.schema.to_dict(),
        # How the served file says it was trained (its architecture and spec, or the estimator an ONNX file
        # records): an audit over HTTP trains its references the same way, as it would from the file itself.
        "training": model_description(model),
    }
