"""`gmia audit-dp`: resolve the config, call gmia.api.audit_dp, print."""

from __future__ import annotations

from gmia.cli.build import add
from gmia.cli.common import app, run_command


def _audit_dp(v: dict) -> None:
    from gmia.canaries.config import AuditDpConfig

    def execute(data, cfg, store, out):
        from gmia.api import audit_dp

        return audit_dp(data, config=cfg, store=store, out=out)

    def render(result, con, cfg, out):
        from gmia.console.canaries import render_audit_dp

        render_audit_dp(result, con)

    run_command(v, "audit-dp", AuditDpConfig.resolve, execute, render)


add(app, "audit-dp", "One-run DP audit: one target trained once with canaries, epsilon lower bounds beside the accountant's.",
    _audit_dp)
