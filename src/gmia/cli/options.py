"""Options several commands share, declared once. ``None`` defaults mean "the preset's" (gmia.settings.presets)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

DatasetOpt = Annotated[str, typer.Option(help="adult, cancer, census, mnist, fashion-mnist, cifar10 (from the cache: gmia data fetch NAME), or a CSV file (with --schema)")]
SchemaOpt = Annotated[Optional[Path], typer.Option(help="JSON schema of a CSV data set")]
KOpt = Annotated[Optional[int], typer.Option("--k", help="GMIA reference models (default: 100, or the --scale's)")]
TargetsOpt = Annotated[Optional[int], typer.Option(help="target models, even: each pool split trains two (default: 100, or the --scale's)")]
StepsOpt = Annotated[Optional[int], typer.Option(help="training steps (default: the paper's)")]
DeltaOpt = Annotated[Optional[float], typer.Option(help="neighbour threshold δ (cosine distance)")]
BetaOpt = Annotated[Optional[float], typer.Option(help="probability threshold β on E[N_n]")]
CutoffOpt = Annotated[Optional[list[float]], typer.Option(help="p-value cutoff; repeat for several")]
ScalingOpt = Annotated[Optional[str], typer.Option(help="E[N_n] scaling: n_over_nprime (N'_n·N/N', default) or nprime_over_n (as printed)")]
TailOpt = Annotated[Optional[str], typer.Option(help="p-value rule below the smallest reference loss: gaussian (default), pchip (the paper's extrapolation made monotone), zero")]
SeedOpt = Annotated[Optional[int], typer.Option(help="seed (default 0)")]
PoolOpt = Annotated[Optional[int], typer.Option(help="target pool size (default: the paper's)")]
ChunkOpt = Annotated[Optional[int], typer.Option(help="models trained and stored per chunk (default 100)")]
CacheOpt = Annotated[Optional[Path], typer.Option(help="where trained models are stored (default ~/.cache/gmia)")]
OutOpt = Annotated[Optional[Path], typer.Option(help="run folder for results.json, records.parquet and report.html (default runs/COMMAND-DATASET)")]
HiddenOpt = Annotated[Optional[str], typer.Option(help="hidden layer sizes, e.g. 10,5; none = softmax regression")]
OptimizerOpt = Annotated[Optional[str], typer.Option(help="sgd or adam")]
LrOpt = Annotated[Optional[float], typer.Option(help="learning rate")]
BatchOpt = Annotated[Optional[int], typer.Option(help="batch size")]
L2Opt = Annotated[Optional[float], typer.Option(help="L2 penalty λ")]
DropoutOpt = Annotated[Optional[float], typer.Option(help="dropout probability")]
SamplingOpt = Annotated[Optional[str], typer.Option(help="reference training sets: bootstrap (the paper's, default) or subsample (without replacement)")]
ExecutorOpt = Annotated[str, typer.Option(help="where models train: local (this process) or ray (a Ray cluster)")]
RayAddressOpt = Annotated[Optional[str], typer.Option(help="Ray cluster: auto, HOST:PORT, or local to start one here (default: $RAY_ADDRESS or auto)")]
FeaturesOpt = Annotated[Optional[str], typer.Option(help="features for neighbour counting: centred-logits (default), logits (the paper's), or raw (target structure hidden)")]
PValuesOpt = Annotated[Optional[str], typer.Option("--pvalues", help="p-value of the verdicts: calibrated (on held-out population records; default) or raw (the paper's); both are shown")]
CalibrationOpt = Annotated[Optional[int], typer.Option(help="adversary records held out of the references to calibrate p-values (default: a quarter, 1,000 to half of them; 0: raw p-values only)")]
DeviceOpt = Annotated[str, typer.Option(help="where models train and run: cpu or cuda (cuda:N); training on cuda uses mixed precision")]
ScaleOpt = Annotated[Optional[str], typer.Option(help="image data: paper (the paper's CNN, 100 targets) or cpu (a reduced setup a CPU runs in minutes); default: cpu unless --device cuda")]
DpClipOpt = Annotated[Optional[float], typer.Option(help="DP-SGD clipping norm C, unless swept (default 1)")]
DpDeltaOpt = Annotated[Optional[float], typer.Option(help="DP delta, unless swept; must be below 1/N (default 1e-5)")]
NullRecordsOpt = Annotated[Optional[int], typer.Option(help="population records run through the indirect test in place of the record, to check its null (default: enough pairs to support the cutoff, 299 at 0.01; 0: off)")]
AlgorithmOpt = Annotated[Optional[str], typer.Option(help="how targets and references train: gmia (the stacked trainer, default), a scikit-learn name (hist-gradient-boosting, random-forest, gradient-boosting, extra-trees, logistic-regression, mlp, svc, lightgbm, xgboost) or FILE.py:FACTORY (a function returning an unfitted estimator or a train(X, y, seed) function)")]
AlgorithmParamsOpt = Annotated[Optional[str], typer.Option(help="the algorithm's parameters as a JSON object, e.g. '{\"max_iter\": 200}'")]
WorkersOpt = Annotated[Optional[int], typer.Option(help="worker processes training models that are not gmia stacks (default: one per core)")]
AccountantOpt = Annotated[Optional[str], typer.Option(help="privacy accountant: rdp (default) or prv (Opacus)")]


def spec_options(steps, hidden, optimizer, lr, batch_size, l2, dropout) -> dict:
    """The training-spec options as the config classes take them (None: the preset's)."""
    return dict(steps=steps, hidden=hidden, optimizer=optimizer, lr=lr, batch_size=batch_size, l2=l2, dropout=dropout)
