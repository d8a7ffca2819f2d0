"""One-run privacy audits with canaries (`gmia audit-dp`): Steinke et al. (2023), one target trained once.

`gmia.canaries.config`: `AuditDpConfig`; `gmia.canaries.choose`: the canary sources (GMIA's
most isolated records, random records, mislabelled records); `gmia.canaries.run`:
`run_audit_dp` and its `AuditDpResult`. Names load on first use, so the configuration is
checked before the engine loads.
"""

from gmia.base.extras import lazy_exports

_EXPORTS = {
    "Canaries": "gmia.canaries.choose",
    "ATTACKS": "gmia.canaries.config",
    "SOURCES": "gmia.canaries.config",
    "AuditDpConfig": "gmia.canaries.config",
    "AuditDpResult": "gmia.canaries.run",
    "SourceResult": "gmia.canaries.run",
    "run_audit_dp": "gmia.canaries.run",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
