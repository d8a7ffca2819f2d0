"""`gmia reproduce ...`, `gmia compare` and `gmia defend`: resolve the config, call gmia.api, print."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from gmia.cli.common import app, console, finished, out_folder, register, reproduce_app, say_scale, setup
from gmia.cli.options import (
    AccountantOpt, AlgorithmOpt, AlgorithmParamsOpt, WorkersOpt, BatchOpt, BetaOpt, CacheOpt, ChunkOpt, CutoffOpt, DatasetOpt, DeltaOpt, DeviceOpt, DpClipOpt,
    CalibrationOpt, DpDeltaOpt, DropoutOpt, ExecutorOpt, FeaturesOpt, HiddenOpt, KOpt, L2Opt, LrOpt, OptimizerOpt, OutOpt,
    NullRecordsOpt, PoolOpt, PValuesOpt,
    RayAddressOpt, SamplingOpt, ScaleOpt, ScalingOpt, SchemaOpt, SeedOpt, StepsOpt, TailOpt, TargetsOpt, spec_options,
)
from gmia.base.formatting import fmt_delta


def _table_command(table: str):
    def command(
        dataset: DatasetOpt, schema: SchemaOpt = None, k: KOpt = None, targets: TargetsOpt = None,
        steps: StepsOpt = None, delta: DeltaOpt = None, beta: BetaOpt = None, cutoff: CutoffOpt = None,
        scaling: ScalingOpt = None, tail: TailOpt = None, seed: SeedOpt = None,
        seeds: Annotated[Optional[int], typer.Option(help="repeat the whole protocol with this many seeds (default 1)")] = None,
        pool_size: PoolOpt = None, chunk_size: ChunkOpt = None, cache_dir: CacheOpt = None, executor: ExecutorOpt = "local",
        ray_address: RayAddressOpt = None, device: DeviceOpt = "cpu", scale: ScaleOpt = None, out: OutOpt = None,
        hidden: HiddenOpt = None, optimizer: OptimizerOpt = None, lr: LrOpt = None, batch_size: BatchOpt = None,
        l2: L2Opt = None, dropout: DropoutOpt = None, reference_sampling: SamplingOpt = None,
        selection_features: FeaturesOpt = None, pvalues: PValuesOpt = None, calibration_size: CalibrationOpt = None,
        algorithm: AlgorithmOpt = None, algorithm_params: AlgorithmParamsOpt = None, workers: WorkersOpt = None,
    ):
        from gmia.api import reproduce
        from gmia.console.reproduce import render
        from gmia.experiments.reproduce import ReproduceConfig

        con = console()
        out = out_folder(out, table, dataset)
        store, data = setup(dataset, schema, cache_dir, out, executor, ray_address, device, workers)
        cfg = ReproduceConfig.resolve(
            data.name, table=table, scale=scale, device=device, k=k, n_targets=targets, delta=delta, beta=beta,
            cutoffs=tuple(cutoff) if cutoff else None, scaling=scaling, tail=tail, seed=seed, seeds=seeds,
            pool_size=pool_size, chunk_size=chunk_size, reference_sampling=reference_sampling, features=selection_features,
            pvalues=pvalues, calibration_size=calibration_size, algorithm=algorithm, algorithm_params=algorithm_params,
            **spec_options(steps, hidden, optimizer, lr, batch_size, l2, dropout))
        say_scale(con, cfg, device)
        result = reproduce(table, data, config=cfg, store=store, out=out)
        render(result, con)
        finished(con, out, records=True, store=store)

    return command


register(reproduce_app, _table_command, "table1", "Direct inference at the paper's δ, β and cutoffs (its Table 1).")
register(reproduce_app, _table_command, "table2",
         "Direct inference at the paper's other selection thresholds (its Table 2), at cutoff 0.01.")


@reproduce_app.command("table3")
def table3(
    dataset: Annotated[str, typer.Option(help="adult, cancer, mnist, fashion-mnist or cifar10")],
    record: Annotated[Optional[int], typer.Option(help="record index to attack (default: the most isolated pool record)")] = None,
    theta: Annotated[Optional[float], typer.Option(help="influence threshold θ (default: the paper's)")] = None,
    candidates: Annotated[Optional[int], typer.Option(help="random queries generated (default 5000)")] = None,
    clusters: Annotated[Optional[int], typer.Option(help="medoids kept after clustering (default 50)")] = None,
    sigma: Annotated[Optional[float], typer.Option(help="Gaussian noise around the record instead of uniform queries")] = None,
    positive_steps: Annotated[Optional[int], typer.Option(help="further-training steps of the positive reference models (default 1000)")] = None,
    record_rate: Annotated[Optional[float], typer.Option(help="expected copies of the record per batch while training them (default 1)")] = None,
    correlation: Annotated[Optional[str], typer.Option(help="ρ for Kost's method: losses (default) or features")] = None,
    null_records: NullRecordsOpt = None,
    k: KOpt = None, targets: TargetsOpt = None, seed: SeedOpt = None, cutoff: CutoffOpt = None,
    cache_dir: CacheOpt = None, executor: ExecutorOpt = "local", ray_address: RayAddressOpt = None, device: DeviceOpt = "cpu",
    scale: ScaleOpt = None, out: OutOpt = None,
):
    """Indirect inference on one record, never querying it, against direct inference (the paper's Table 3)."""
    from gmia.api import reproduce
    from gmia.console.table3 import render_table3
    from gmia.experiments.table3 import Table3Config

    con = console()
    out = out_folder(out, "table3", dataset)
    store, data = setup(dataset, None, cache_dir, out, executor, ray_address, device)
    cfg = Table3Config.resolve(data.name, scale=scale, device=device, record=record, theta=theta, n_candidates=candidates,
                               n_clusters=clusters, sigma=sigma, positive_steps=positive_steps, record_rate=record_rate,
                               correlation=correlation, null_records=null_records, k=k, n_targets=targets, seed=seed,
                               cutoffs=tuple(cutoff) if cutoff else None)
    say_scale(con, cfg, device)
    result = reproduce("table3", data, config=cfg, store=store, out=out)
    render_table3(result, con)
    finished(con, out, store=store)


def _compare_command(view: str):
    def command(
        dataset: DatasetOpt, schema: SchemaOpt = None, k: KOpt = None, targets: TargetsOpt = None,
        inout: Annotated[Optional[int], typer.Option(help="in/out shadow models for LiRA, RMIA and Shokri (even; each pool record in half; default 64)")] = None,
        steps: StepsOpt = None, delta: DeltaOpt = None, beta: BetaOpt = None,
        cutoff: Annotated[Optional[list[float]], typer.Option(help="GMIA p-value cutoff, also the FPR other attacks are set to; repeat for several")] = None,
        scaling: ScalingOpt = None, tail: TailOpt = None, seed: SeedOpt = None, pool_size: PoolOpt = None,
        chunk_size: ChunkOpt = None, cache_dir: CacheOpt = None, executor: ExecutorOpt = "local", ray_address: RayAddressOpt = None,
        device: DeviceOpt = "cpu", scale: ScaleOpt = None, out: OutOpt = None, hidden: HiddenOpt = None,
        optimizer: OptimizerOpt = None, lr: LrOpt = None, batch_size: BatchOpt = None, l2: L2Opt = None,
        dropout: DropoutOpt = None, reference_sampling: SamplingOpt = None, selection_features: FeaturesOpt = None,
        bootstrap: Annotated[Optional[int], typer.Option(help="bootstrap resamples (targets and records) for the 95% intervals; 0 = none (default 200)")] = None,
        population: Annotated[Optional[int], typer.Option(help="RMIA population records drawn from the adversary's records (default 5000)")] = None,
        confidence: Annotated[Optional[float], typer.Option(help="Shokri threshold on P(in) (default: the paper's Table 7)")] = None,
        attack: Annotated[Optional[list[str]], typer.Option(help="attack to run; repeat for several (default: all; gmia-direct is always needed)")] = None,
        calibration_size: CalibrationOpt = None,
        algorithm: AlgorithmOpt = None, algorithm_params: AlgorithmParamsOpt = None, workers: WorkersOpt = None,
    ):
        from gmia.api import compare
        from gmia.comparison.config import CompareConfig
        from gmia.console.compare import render_compare, render_table7
        from gmia.settings.paper import TABLE7

        con = console()
        out = out_folder(out, view, dataset)
        store, data = setup(dataset, schema, cache_dir, out, executor, ray_address, device, workers)
        cfg = CompareConfig.resolve(
            data.name, command=view, scale=scale, device=device, k=k, n_targets=targets, n_inout=inout, seed=seed,
            delta=delta, beta=beta, cutoffs=tuple(cutoff) if cutoff else None, scaling=scaling, tail=tail,
            features=selection_features, n_bootstrap=bootstrap, n_population=population, shokri_confidence=confidence,
            attacks=tuple(attack) if attack else None, pool_size=pool_size, chunk_size=chunk_size,
            reference_sampling=reference_sampling, calibration_size=calibration_size, algorithm=algorithm,
            algorithm_params=algorithm_params, **spec_options(steps, hidden, optimizer, lr, batch_size, l2, dropout))
        say_scale(con, cfg, device)
        result = compare(data, command=view, config=cfg, store=store, out=out)
        if view == "table7":
            render_table7(result, TABLE7.get(data.name), con)
        else:
            render_compare(result, con)
        finished(con, out, store=store)

    return command


register(app, _compare_command, "compare",
         "GMIA beside Shokri, loss, LiRA and RMIA on the same models: AUC, TPR at low FPR, precision on GMIA's records.")
register(reproduce_app, _compare_command, "table7", "Shokri et al.'s attack on GMIA's selected records, beside the paper's Table 7.")


def _defend(command: str, data, store, out, con, cfg, device: str, header: str | None = None) -> None:
    from gmia.api import defend
    from gmia.console.defend import render_defend
    from gmia.defenses.config import paper_rows

    say_scale(con, cfg, device)
    if header:
        con.print(header)
    result = defend(data, command=command, config=cfg, store=store, out=out)
    render_defend(result, con, paper_rows(command, cfg))
    con.print(f"Figure: {out / 'tradeoff.png'} and {out / 'tradeoff.svg'}")
    finished(con, out, store=store)


@app.command("defend")
def defend(
    dataset: DatasetOpt,
    sweep: Annotated[list[str], typer.Option(help="NAME=V1,V2,...; repeat for a grid. Names: l2, dropout, steps, dp-epsilon, dp-noise, dp-clip, dp-delta, top-k, round, label-only, drop-vulnerable")],
    schema: SchemaOpt = None, k: KOpt = None, targets: TargetsOpt = None, delta: DeltaOpt = None, beta: BetaOpt = None,
    cutoff: Annotated[Optional[float], typer.Option(help="p-value cutoff of a member call (default 0.01)")] = None,
    selection_features: FeaturesOpt = None, dp_clip: DpClipOpt = None, dp_delta: DpDeltaOpt = None,
    accountant: AccountantOpt = None, scaling: ScalingOpt = None, tail: TailOpt = None, seed: SeedOpt = None,
    pool_size: PoolOpt = None, chunk_size: ChunkOpt = None, cache_dir: CacheOpt = None, executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None, device: DeviceOpt = "cpu", scale: ScaleOpt = None, out: OutOpt = None,
    steps: StepsOpt = None, hidden: HiddenOpt = None, optimizer: OptimizerOpt = None, lr: LrOpt = None,
    batch_size: BatchOpt = None, l2: L2Opt = None, dropout: DropoutOpt = None, pvalues: PValuesOpt = None,
    calibration_size: CalibrationOpt = None,
):
    """Defences swept over the paper's protocol: test accuracy against GMIA's success, a table and a figure."""
    from gmia.defenses import grid
    from gmia.defenses.config import DefendConfig

    con = console()
    grid(sweep)  # bad sweeps fail before any folder or model is touched
    out = out_folder(out, "defend", dataset)
    store, data = setup(dataset, schema, cache_dir, out, executor, ray_address, device)
    cfg = DefendConfig.resolve(
        data.name, scale=scale, device=device, sweep=tuple(sweep), k=k, n_targets=targets, delta=delta, beta=beta,
        cutoff=cutoff, features=selection_features, dp_clip=dp_clip, dp_delta=dp_delta, accountant=accountant,
        scaling=scaling, tail=tail, seed=seed, pool_size=pool_size, chunk_size=chunk_size, pvalues=pvalues,
        calibration_size=calibration_size, **spec_options(steps, hidden, optimizer, lr, batch_size, l2, dropout))
    _defend("defend", data, store, out, con, cfg, device)


def _paper_defence_command(table: str):
    def command(
        dataset: Annotated[str, typer.Option(help="adult, cancer, mnist (the paper's), fashion-mnist or cifar10")] = "adult",
        k: KOpt = None, targets: TargetsOpt = None, seed: SeedOpt = None, cache_dir: CacheOpt = None,
        executor: ExecutorOpt = "local", ray_address: RayAddressOpt = None, device: DeviceOpt = "cpu", scale: ScaleOpt = None,
        out: OutOpt = None, selection_features: FeaturesOpt = None,
    ):
        from gmia.defenses.config import DefendConfig

        con = console()
        out = out_folder(out, table, dataset)
        store, data = setup(dataset, None, cache_dir, out, executor, ray_address, device)
        cfg = DefendConfig.resolve(data.name, command=table, scale=scale, device=device, k=k, n_targets=targets, seed=seed,
                                   features=selection_features)
        other = "" if data.name == "mnist" else f"{data.name} instead of MNIST; "
        if table == "table4":
            values = cfg.sweep[0].partition("=")[2].replace(",", " and ")
            scaled = f"{other}steps {values} (the preset's, and a tenth of it) for the paper's 1,000 and 10,000"
        else:
            scaled = (f"{data.name} instead of MNIST, with {data.name}'s model; " if other else "") + "λ as in the paper"
        header = (f"{'Scaled down' if other else 'Setup'}: {scaled}; selection at the paper's delta={fmt_delta(cfg.delta)}, "
                  f"beta={cfg.beta:g}.")
        _defend(table, data, store, out, con, cfg, device, header)

    return command


register(reproduce_app, _paper_defence_command, "table4",
         "Training length as a defence (the paper's Table 4, MNIST), on MNIST or scaled down to Adult or Cancer.")
register(reproduce_app, _paper_defence_command, "table5",
         "L2 regularisation as a defence (the paper's Table 5, MNIST), on MNIST or scaled down to Adult or Cancer.")
