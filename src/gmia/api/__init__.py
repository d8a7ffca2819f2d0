"""gmia's Python API, the verbs (`gmia.api.verbs`) and where they get data and models
(`gmia.api.resources`). Names load on first use, as in `gmia` itself."""

from gmia.base.extras import lazy_exports

_EXPORTS = {
    **{verb: "gmia.api.verbs" for verb in ("audit", "reproduce", "compare", "defend", "audit_dp", "train_target", "TABLES")},
    "load_dataset": "gmia.api.resources", "make_store": "gmia.api.resources",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
