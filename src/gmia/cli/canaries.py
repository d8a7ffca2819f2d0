"""`gmia audit-dp`: resolve the config, call gmia.api.audit_dp, print."""

from __future__ import annotations

from gmia.cli.build import add
from gmia.cli.common import app, console, finished, prepare, out_folder, say_scale, store
from gmia.settings.options import config_options


def _audit_dp(v: dict) -> None:
    from gmia.canaries.config import AuditDpConfig

    con = console()
    out = out_folder(v["out"], "audit-dp", v["dataset"])
    data, cfg = prepare(v, out, lambda name: AuditDpConfig.resolve(
        name, scale=v["scale"], device=v["device"], **config_options("audit-dp", v)))
    models = store(v["cache_dir"], v["executor"], v["ray_address"], v["device"], v["workers"])
    say_scale(con, cfg, v["device"])
    from gmia.api import audit_dp as run
    from gmia.console.canaries import render_audit_dp

    result = run(data, config=cfg, store=models, out=out)
    render_audit_dp(result, con)
    finished(con, out, store=models)


add(app, "audit-dp", "One-run DP audit: one target trained once with canaries, epsilon lower bounds beside the accountant's.",
    _audit_dp)
