"""Every default in one place: a preset per data set and command.

The config classes' own field defaults are the generic preset below (a data set the paper did
not run); ``Config.resolve(dataset)`` replaces them by the data set's.

The command line and the Python API both resolve their options here, so ``gmia defend
--dataset adult`` and ``gmia.defend("adult", ...)`` run the same configuration. An option left
as ``None`` means "the preset's". The published setups and numbers themselves live in
`gmia.settings.paper`; this module says which of them each command starts from, and what a data
set the paper did not run gets instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from gmia.base.choices import Features, Scale, choice
from gmia.base.errors import GmiaError
from gmia.settings.paper import CPU_SCALE, DEFEND_THRESHOLDS, GENERIC_THRESHOLDS, PRESETS, TABLE4, TABLE5, TABLE7, scaled_preset, table1_thresholds, training_spec
from gmia.zoo import TrainSpec

COMMANDS = ("table1", "table2", "table3", "table4", "table5", "table7", "compare", "audit", "defend", "train", "audit-dp")
PAPER_ONLY = ("table3", "table4", "table5", "table7")  # commands that need the paper's numbers for the data set

# Defaults that do not depend on the data set (CHOICEs; docs/algorithm.md).
DEFAULT_K = 100  # reference models; the paper's figures imply 100
DEFAULT_TARGETS = 100  # target models: 50 half-splits of the pool
DEFAULT_CUTOFF = 0.01
DEFAULT_DELTA, DEFAULT_BETA = GENERIC_THRESHOLDS
DEFAULT_INOUT = 64  # in/out shadow models of the comparison
DEFAULT_BOOTSTRAP = 200  # bootstrap resamples of the comparison's intervals
DEFAULT_POPULATION = 5000  # RMIA's population records
DEFAULT_DP_CLIP, DEFAULT_DP_DELTA = 1.0, 1e-5  # DP-SGD's clipping norm and delta, unless swept
DEFAULT_PRIVACY_CONFIDENCE = 0.95  # the confidence of every epsilon lower bound (gmia.privacy)
DEFAULT_CANARIES = 1000  # gmia audit-dp's canaries, each in the target's training set with probability 1/2
DEFAULT_THETA = 0.9  # indirect inference's θ for a data set the paper did not run
DEFAULT_CONFIDENCE = 0.5  # Shokri's threshold on P(in) where the paper gives none
TABLE3_CUTOFFS = (0.01, 0.1)  # the paper's Table 3 columns
DEFAULT_CALIBRATION_QUERIES = 1000  # an audit's queries for calibrated p-values: cutoffs down to 0.001


@dataclass(frozen=True)
class Preset:
    """What a command runs on a data set when the user says nothing more.

    ``settings`` are the selection thresholds (δ, β) in order; the first is the command's
    default when one pair is used (``delta``, ``beta``).
    """

    command: str
    dataset: str
    spec: TrainSpec
    k: int
    n_targets: int
    settings: tuple[tuple[float | None, float], ...]  # δ None: derived from the data
    cutoffs: tuple[float, ...]
    theta: float
    features: Features
    shokri_confidence: float
    scale: Scale | None  # None: a data set with one setup only
    scale_note: str | None  # printed with every run of a reduced setup

    @property
    def delta(self) -> float | None:
        return self.settings[0][0]

    @property
    def beta(self) -> float:
        return self.settings[0][1]

    @property
    def cutoff(self) -> float:
        return self.cutoffs[0]


def preset_for(command: str, dataset: str, scale: str | None = None, device: str = "cpu") -> Preset:
    """The preset of ``command`` on ``dataset`` (a data set's name; CSV files get the generic one).

    ``scale`` (image sets only) picks the paper's CNN or the reduced CPU setup; by default the
    reduced one unless ``device`` is a GPU.
    """
    if command not in COMMANDS:
        raise GmiaError(f"unknown command {command!r}; expected one of: {', '.join(COMMANDS)}")
    paper = PRESETS.get(dataset)
    if command in PAPER_ONLY and (paper is None or (command == "table7" and dataset not in TABLE7)):
        known = TABLE7 if command == "table7" else PRESETS
        raise GmiaError(f"data set {dataset!r} has no {command} numbers in the paper; expected one of: {', '.join(known)}")
    if scale is not None:
        scale = choice(Scale, scale, "scale")
    chosen, reduced = scaled_preset(dataset, scale, device)
    spec = training_spec(dataset, reduced)
    k = reduced.k if reduced else DEFAULT_K
    n_targets = reduced.n_targets if reduced else DEFAULT_TARGETS
    table1 = (table1_thresholds(dataset),)
    settings, cutoffs = table1, (DEFAULT_CUTOFF,)
    features = Features.CENTRED_LOGITS  # softmax ignores the logits' mean: it only adds noise (docs/algorithm.md)
    if command == "table1" and paper is not None:
        cutoffs = paper.table1_cutoffs
    elif command == "table2" and paper is not None:
        settings = ((paper.table1.delta, paper.table1.beta), *((s.delta, s.beta) for s in paper.table2))
    elif command in ("compare", "table7") and paper is not None:
        cutoffs = paper.table1_cutoffs
    elif command == "table3":
        cutoffs = TABLE3_CUTOFFS
    elif command == "table4":
        settings = ((TABLE4["delta"], TABLE4["beta"]),)
    elif command == "table5":
        settings = ((TABLE5["delta"], TABLE5["beta"]),)
    elif command in ("defend", "audit-dp"):  # audit-dp ranks its gmia canaries at the defences' δ
        settings = (DEFEND_THRESHOLDS.get(dataset, table1[0]),)
    elif command == "audit":
        features = Features.RAW  # a deployed model's structure is hidden (the paper's MLaaS setting)
    return Preset(
        command=command, dataset=dataset, spec=spec, k=k, n_targets=n_targets, settings=settings, cutoffs=cutoffs,
        theta=paper.theta if paper else DEFAULT_THETA, features=features,
        shokri_confidence=TABLE7[dataset].confidence if dataset in TABLE7 else DEFAULT_CONFIDENCE,
        scale=Scale(chosen) if reduced is not None or dataset in CPU_SCALE else None,
        scale_note=reduced.note if reduced else None,
    )
