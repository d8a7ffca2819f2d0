"""`gmia audit-dp`: resolve the config, call gmia.api.audit_dp, print."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from gmia.cli.common import app, console, finished, out_folder, say_scale, setup
from gmia.cli.options import (
    AccountantOpt, BatchOpt, BetaOpt, CacheOpt, CalibrationOpt, ChunkOpt, DatasetOpt, DeltaOpt, DeviceOpt,
    DropoutOpt, ExecutorOpt, FeaturesOpt, HiddenOpt, KOpt, L2Opt, LrOpt, OptimizerOpt, OutOpt, PoolOpt,
    RayAddressOpt, SamplingOpt, ScaleOpt, ScalingOpt, SchemaOpt, SeedOpt, StepsOpt, TailOpt, spec_options,
)


@app.command("audit-dp")
def audit_dp(
    dataset: DatasetOpt,
    canaries: Annotated[Optional[int], typer.Option(help="canaries per source, each in the target's training set with probability 1/2 (default 1000, or as many as the pool holds beside the target's other records)")] = None,
    source: Annotated[Optional[list[str]], typer.Option(help="canary source: gmia (GMIA's most isolated records), random, mislabelled; repeat for several (default: all three)")] = None,
    dp_epsilon: Annotated[float, typer.Option(help="the target's DP-SGD budget epsilon; inf trains without DP")] = float("inf"),
    dp_clip: Annotated[Optional[float], typer.Option(help="DP-SGD clipping norm C (default 1)")] = None,
    dp_delta: Annotated[Optional[float], typer.Option(help="DP delta, also the delta of the bounds; below 1/N (default 1e-5)")] = None,
    accountant: AccountantOpt = None,
    confidence: Annotated[Optional[float], typer.Option(help="confidence of the epsilon lower bounds (default 0.95)")] = None,
    population: Annotated[Optional[int], typer.Option(help="RMIA population records drawn from the calibration records (default 5000)")] = None,
    schema: SchemaOpt = None, k: KOpt = None, delta: DeltaOpt = None, beta: BetaOpt = None,
    selection_features: FeaturesOpt = None, scaling: ScalingOpt = None, tail: TailOpt = None, seed: SeedOpt = None,
    pool_size: PoolOpt = None, chunk_size: ChunkOpt = None, calibration_size: CalibrationOpt = None,
    cache_dir: CacheOpt = None, executor: ExecutorOpt = "local", ray_address: RayAddressOpt = None,
    device: DeviceOpt = "cpu", scale: ScaleOpt = None, out: OutOpt = None, steps: StepsOpt = None,
    hidden: HiddenOpt = None, optimizer: OptimizerOpt = None, lr: LrOpt = None, batch_size: BatchOpt = None,
    l2: L2Opt = None, dropout: DropoutOpt = None, reference_sampling: SamplingOpt = None,
):
    """One-run DP audit: one target trained once with canaries, epsilon lower bounds beside the accountant's."""
    from gmia.api import audit_dp as run
    from gmia.canaries import AuditDpConfig
    from gmia.console.canaries import render_audit_dp

    con = console()
    options = dict(canaries=canaries, sources=tuple(source) if source else None, dp_epsilon=dp_epsilon, dp_clip=dp_clip,
                   dp_delta=dp_delta, accountant=accountant, confidence=confidence, n_population=population, k=k,
                   delta=delta, beta=beta, features=selection_features, scaling=scaling, tail=tail, seed=seed,
                   pool_size=pool_size, chunk_size=chunk_size, calibration_size=calibration_size,
                   reference_sampling=reference_sampling)
    AuditDpConfig(**{name: v for name, v in options.items() if v is not None})  # bad options fail before any work
    out = out_folder(out, "audit-dp", dataset)
    store, data = setup(dataset, schema, cache_dir, out, executor, ray_address, device)
    cfg = AuditDpConfig.resolve(data.name, scale=scale, device=device, **options,
                                **spec_options(steps, hidden, optimizer, lr, batch_size, l2, dropout))
    say_scale(con, cfg, device)
    result = run(data, config=cfg, store=store, out=out)
    render_audit_dp(result, con)
    finished(con, out, store=store)
