"""Frozen, validated configurations: every option is checked before any model trains.

Each command has one config class (``ReproduceConfig``, ``AuditConfig``, ``CompareConfig``,
``DefendConfig``, ``Table3Config``), built on `ProtocolConfig`, the options all of them
share. ``Config.resolve(dataset_name, **options)`` fills every option left as ``None`` from the
command's preset (`gmia.settings.presets`); the command line and the Python API both go through it,
so they cannot disagree on a default. A bad value raises one `gmia.base.errors.GmiaError`
sentence naming it and what was expected, at construction.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, is_dataclass
from typing import ClassVar

from gmia.algorithms import Algorithm, as_algorithm
from gmia.base.choices import Features, PValues, Sampling, Scaling, Tail, choice
from gmia.base.errors import GmiaError
from gmia.settings.presets import DEFAULT_K, DEFAULT_TARGETS, Preset, preset_for
from gmia.zoo import TrainSpec

# Options that change the training spec of every model (targets and references alike).
SPEC_OPTIONS = ("steps", "hidden", "activation", "optimizer", "lr", "batch_size", "l2", "dropout")


def check_targets(n_targets: int) -> None:
    if not _is_int(n_targets) or n_targets < 2 or n_targets % 2:
        raise GmiaError(f"number of targets {n_targets!r} is not a positive even number; expected 2, 4, ... (each split of the pool trains two targets)")


def check_k(k: int) -> None:
    if not _is_int(k):
        raise GmiaError(f"number of reference models k={k!r} is not a whole number; expected a whole number >= 2")
    if k < 2:
        raise GmiaError(f"number of reference models k={k!r} is too small; expected k >= 2")


def check_k_fits(k: int, n_records: int) -> None:
    """More reference models than the records they are sampled from repeat the same few samples
    for minutes (k = 100,000 on 142 records): refused before any model trains."""
    check_k(k)
    if k > n_records:
        raise GmiaError(f"k={k} reference models is more than the {n_records} reference records they are sampled from; "
                        f"expected k <= {n_records}")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def check_count(what: str, value, minimum: int = 1, optional: bool = False) -> None:
    """``value`` must be a whole number >= ``minimum`` (or None when ``optional``)."""
    if optional and value is None:
        return
    if not _is_int(value) or value < minimum:
        raise GmiaError(f"{what} {value!r} is invalid; expected a whole number >= {minimum}")


def parse_hidden(value) -> tuple[int, ...] | None:
    """Hidden layer sizes from ``"10,5"``, ``[10, 5]`` or ``"none"`` (softmax regression); None stays None."""
    if value is None or isinstance(value, tuple | list):
        return None if value is None else tuple(value)
    text = str(value).strip().lower()
    if text in ("", "none"):
        return ()
    try:
        sizes = tuple(int(v) for v in text.split(","))
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise GmiaError(f"hidden sizes {str(value)!r} are invalid; expected positive layer sizes such as 10,5 (or none for softmax regression)")
    return sizes


def build_spec(base: TrainSpec, **overrides) -> TrainSpec:
    """``base`` with the non-None ``overrides`` (see SPEC_OPTIONS) applied, validated."""
    given = {k: v for k, v in overrides.items() if v is not None}
    if "hidden" in given:
        given["hidden"] = parse_hidden(given["hidden"])
    return TrainSpec.build(**{**base.model_dump(), **given}) if given else base


@dataclass(frozen=True)
class ProtocolConfig:
    """Options shared by every command that trains models.

    Parameters
    ----------
    dataset : the data set's name (for the output; the data itself is passed separately).
    spec : how every model trains (targets and references alike: GMIA's threat model).
    k : reference models; n_targets : target models (even: each pool split trains two).
    seed : the protocol's seed (split, index sets, training).
    pool_size : records in the target pool (default: the paper's, or half the data).
    chunk_size : models trained and stored per chunk (a rerun resumes chunk by chunk).
    scaling, tail, features, reference_sampling : see `gmia.base.choices`.
    pvalues : the p-value verdicts use: ``calibrated`` (default) or the paper's ``raw`` one
        (both are always computed and shown; `gmia.stats.calibration`).
    calibration_size : the adversary's records held out of the references to calibrate
        p-values (default: `gmia.stats.calibration.calibration_size`; 0 for raw p-values only).
    scale_note : what a reduced setup stands for, printed with every result.
    algorithm : how targets and references train when not with gmia's stacked trainer and
        ``spec``: a scikit-learn estimator or Pipeline, a ``train(X, y, seed)`` function, a
        name from `gmia.algorithms.ESTIMATORS` or ``"FILE.py:factory"`` (`gmia.algorithms`);
        ``resolve`` also takes ``algorithm_params`` (a JSON object or dict) for a name or factory.
    """

    COMMAND: ClassVar[str] = ""
    # Why a command trains gmia's stacked models only, or None if any algorithm will do (gmia.algorithms).
    STACKS_ONLY: ClassVar[str | None] = None
    EXTRA_OPTIONS: ClassVar[tuple[str, ...]] = ()  # options that are not fields, turned into fields by _from_preset
    CALIBRATED_VERDICTS: ClassVar[bool] = True  # the command's verdicts use ``pvalues`` (compare and table3 rank on raw p)

    dataset: str = ""
    spec: TrainSpec = field(default_factory=TrainSpec)
    k: int = DEFAULT_K
    n_targets: int = DEFAULT_TARGETS
    seed: int = 0
    pool_size: int | None = None
    chunk_size: int = 100
    scaling: Scaling = Scaling.N_OVER_NPRIME
    tail: Tail = Tail.GAUSSIAN  # docs/algorithm.md, "The tail rule"
    features: Features = Features.CENTRED_LOGITS
    reference_sampling: Sampling = Sampling.BOOTSTRAP
    pvalues: PValues = PValues.CALIBRATED
    calibration_size: int | None = None
    scale_note: str | None = None
    algorithm: Algorithm | None = None  # None: gmia's stacked trainer with ``spec``

    def __post_init__(self):
        self._set(algorithm=as_algorithm(self.algorithm))
        if self.algorithm is not None and self.STACKS_ONLY:
            raise GmiaError(f"{self.COMMAND or 'this command'} {self.STACKS_ONLY}, but algorithm {self.algorithm!r} was "
                            "given; expected no algorithm (gmia's stacked trainer)")
        self._set(scaling=choice(Scaling, self.scaling, "scaling"), tail=choice(Tail, self.tail, "tail rule"),
                  features=choice(Features, self.features, "selection features"),
                  reference_sampling=choice(Sampling, self.reference_sampling, "reference sampling"),
                  pvalues=choice(PValues, self.pvalues, "p-values"))
        if not isinstance(self.spec, TrainSpec):
            raise GmiaError(f"training spec {self.spec!r} is not a TrainSpec; expected gmia.zoo.TrainSpec(...)")
        check_k(self.k)
        check_targets(self.n_targets)
        check_count("seed", self.seed, 0)
        check_count("chunk size", self.chunk_size, 1)
        check_count("calibration size", self.calibration_size, 0, optional=True)
        if self.calibration_size == 0 and self.pvalues == PValues.CALIBRATED and self.CALIBRATED_VERDICTS:
            raise GmiaError("calibrated p-values need calibration records but the calibration size is 0; "
                            "expected a calibration size > 0, or raw p-values")
        if self.pool_size is not None and (not _is_int(self.pool_size) or self.pool_size < 2 or self.pool_size % 2):
            raise GmiaError(f"pool size {self.pool_size!r} is invalid; expected an even whole number >= 2")

    def _set(self, **values) -> None:
        """Normalise fields of a frozen instance during validation (enums, tuples)."""
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @classmethod
    def _from_preset(cls, preset: Preset, options: dict) -> dict:
        """Defaults of this command's fields from its preset; pops the options it consumes."""
        return {"k": preset.k, "n_targets": preset.n_targets, "features": preset.features}

    @classmethod
    def resolve(cls, dataset: str, *, command: str | None = None, scale: str | None = None, device: str = "cpu",
                spec: TrainSpec | None = None, **options):
        """The config of ``command`` on ``dataset``: each option given (not None) wins, the rest is the preset's.

        ``scale`` picks an image set's setup (see `gmia.settings.presets.preset_for`); ``spec``
        replaces the preset's training spec, and the options in ``SPEC_OPTIONS`` change it.
        """
        preset = preset_for(command or cls.COMMAND, dataset, scale, device)
        overrides = {name: options.pop(name) for name in SPEC_OPTIONS if name in options}
        params = options.pop("algorithm_params", None)
        if options.get("algorithm") is not None or params is not None:
            options["algorithm"] = as_algorithm(options.get("algorithm"), params)
        allowed = ({f.name for f in fields(cls) if f.init} - {"dataset", "spec", "scale_note"}) | set(cls.EXTRA_OPTIONS)
        unknown = sorted(set(options) - allowed)
        if unknown:
            raise GmiaError(f"unknown option {unknown[0]!r} for {command or cls.COMMAND}; expected one of: "
                            f"{', '.join(sorted(allowed | set(SPEC_OPTIONS)))}")
        values = cls._from_preset(preset, options)  # consumes EXTRA_OPTIONS
        values.update({name: value for name, value in options.items() if value is not None})
        return cls(dataset=dataset, spec=build_spec(spec or preset.spec, **overrides), scale_note=preset.scale_note,
                   **values)

    def check_data(self, dataset) -> None:
        """The checks that need the data set but no model: k against the reference records the
        paper's split leaves (the adversary's records less the calibration ones), so that
        ``k=100000`` on 285 records is refused before torch loads. The engines check again on
        the records they actually use (an audit's own roles can differ)."""
        from gmia.data.splits import default_pool_size
        from gmia.stats.calibration import held_out_size

        pool = self.pool_size if self.pool_size is not None else default_pool_size(dataset)
        adversary = len(dataset) - pool
        if adversary < 1:
            return  # the split says what is wrong, with its own sentence
        check_k_fits(self.k, adversary - held_out_size(adversary, self.calibration_size))

    def to_dict(self) -> dict:
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, TrainSpec):
                value = value.model_dump(mode="json")
            elif f.name == "algorithm":
                value = None if value is None else value.describe()
            elif is_dataclass(value):
                value = asdict(value)
            out[f.name] = value
        return out
