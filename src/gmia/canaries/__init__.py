"""One-run privacy audits with canaries (`gmia audit-dp`): Steinke et al. (2023), one target trained once.

`gmia.canaries.config`: `AuditDpConfig`; `gmia.canaries.choose`: the canary sources (GMIA's
most isolated records, random records, mislabelled records); `gmia.canaries.run`:
`run_audit_dp` and its `AuditDpResult`.
"""

from gmia.canaries.choose import Canaries, choose
from gmia.canaries.config import ATTACKS, SOURCES, AuditDpConfig
from gmia.canaries.run import AuditDpResult, SourceResult, run_audit_dp

__all__ = ["ATTACKS", "SOURCES", "AuditDpConfig", "AuditDpResult", "Canaries", "SourceResult", "choose", "run_audit_dp"]
