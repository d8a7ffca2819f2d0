"""gmia: membership-inference audits of trained models with GMIA (Long et al., arXiv:1802.04889).

The public API (`gmia.api`)::

    gmia.load_dataset(name)              a bundled, fetched or CSV data set
    gmia.train_target(data)              a target trained as the paper's protocol does
    gmia.audit(target, data, ...)        per-record verdicts for any model with predict_proba
    gmia.reproduce(table, dataset, ...)  the paper's tables
    gmia.compare(dataset, ...)           GMIA beside Shokri, loss, LiRA and RMIA
    gmia.defend(dataset, sweep, ...)     defences and the privacy-utility trade-off
    gmia.audit_dp(dataset, ...)          a one-run DP audit with canaries: epsilon lower bounds
    gmia.Target                          what a target must provide (predict_proba)

Names load on first use, so ``import gmia`` stays fast and pulls in neither torch nor any
optional package (FastAPI, Ray, Opacus).
"""

from __future__ import annotations

from gmia.base.extras import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "audit": "gmia.api.verbs", "reproduce": "gmia.api.verbs", "compare": "gmia.api.verbs", "defend": "gmia.api.verbs",
    "audit_dp": "gmia.api.verbs", "load_dataset": "gmia.api.resources", "train_target": "gmia.api.verbs",
    "make_store": "gmia.api.resources",
    "Target": "gmia.targets", "HttpTarget": "gmia.targets", "LocalTarget": "gmia.targets",
    "QueryBudgetExhausted": "gmia.targets", "Model": "gmia.models.file_format", "Dataset": "gmia.data", "TrainSpec": "gmia.zoo",
    "AuditConfig": "gmia.auditing.config", "AuditResult": "gmia.auditing.result", "ReproduceConfig": "gmia.experiments.config",
    "CompareConfig": "gmia.comparison.config", "DefendConfig": "gmia.defenses.config",
    "Table3Config": "gmia.experiments.config", "GmiaError": "gmia.base.errors",
    "AuditDpConfig": "gmia.canaries.config",
    "save_onnx": "gmia.models.onnx_file", "OnnxModel": "gmia.models.onnx_file", "SklearnTarget": "gmia.targets",
    "TorchTarget": "gmia.targets",
}
__all__ = sorted(_EXPORTS) + ["__version__"]


__getattr__, _ = lazy_exports(__name__, _EXPORTS)


def __dir__() -> list[str]:
    return __all__
