"""Which algorithm trains an audit's reference models, and whether it matches the target's.

GMIA's p-value compares the target's loss on r with the losses of reference models trained
*by the same algorithm* on the same population (docs/algorithm.md, "Threat model"). References
of another algorithm give a wrong null: a scikit-learn ``MLPClassifier(64, 64)`` audited with
softmax-regression references got 4 false "member" calls in 10 (docs/algorithms.md). So the
reference algorithm is chosen to match the target whenever the target says what it is:

- a fitted scikit-learn estimator or Pipeline in this process: its own parameters, cloned;
- a gmia model file trained by gmia: the training spec the file records (architecture,
  optimizer, learning rate, steps, batch, regularisation, DP-SGD), exactly;
- a gmia model file converted from scikit-learn or torch: gmia's stacked trainer with the file's
  architecture and activation, the training settings (optimizer, learning rate, steps, batch)
  from the stated spec, since such a file does not record them;
- an ONNX file written by `gmia.save_onnx`: the estimator it records, rebuilt (`gmia.models.estimators`);
- anything else (a prediction API, another ONNX file, a torch module): the algorithm the user gives,
  else the preset's stack, and the audit says in one line that the match cannot be known.

`choose_references` returns the algorithm (None: gmia's stack with the returned spec) and a
`Matching` that the audit prints and the report shows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from gmia.base.errors import option
from gmia.algorithms import Algorithm, SklearnAlgorithm
from gmia.algorithms.base import describe_text
from gmia.models.estimators import describe_estimator, rebuild, same_recipe
from gmia.zoo import TrainSpec


@dataclass(frozen=True)
class Matching:
    """The target's algorithm and the references', as far as each is known, and the verdict.

    ``match``: True (same recipe), False (known to differ), None (cannot be known).
    """

    target: dict
    references: dict
    match: bool | None
    note: str

    def to_dict(self) -> dict:
        return asdict(self)

    def line(self) -> str:
        return (f"target: {describe_text(self.target)}; references: {describe_text(self.references)}; "
                f"{self.note}")


def stack_description(spec: TrainSpec, source: str | None = None) -> dict:
    kind = "CNN" if spec.conv else ("MLP" if spec.hidden else "softmax regression")
    text = (f"gmia stacked {kind} hidden={tuple(spec.hidden)}" + (f" conv={tuple(spec.conv)}" if spec.conv else "")
            + f" {spec.activation}, {spec.optimizer} lr={spec.lr:g} steps={spec.steps} batch={spec.batch_size}"
            + (f" l2={spec.l2:g}" if spec.l2 else "") + (f" dropout={spec.dropout:g}" if spec.dropout else ""))
    out = {"kind": "gmia", "text": text, "hidden": list(spec.hidden), "conv": list(spec.conv), "activation": spec.activation}
    return {**out, "source": source} if source else out


def model_description(model) -> dict | None:
    """What a model file says of its own training: a gmia model file's architecture (and the
    spec it records), or the estimator an ONNX file records (`gmia.save_onnx`); None when the
    file says nothing. `gmia serve` publishes it, so an audit over HTTP matches as one of the file."""
    if model is not None and hasattr(model, "params") and hasattr(model, "activation"):
        hidden, conv = file_architecture(model)
        source = str((model.info or {}).get("source") or "")
        source = source if source.startswith(("sklearn.", "torch.")) else None  # else trained by gmia itself
        text = f"gmia model file: hidden={hidden}" + (f" conv={conv}" if conv else "") + f" {model.activation}"
        return {"kind": "gmia-file", "text": text + (f" (converted from {source})" if source else ""),
                "hidden": list(hidden), "conv": list(conv), "activation": model.activation, "converted_from": source,
                "spec": (model.info or {}).get("spec")}
    if model is not None and getattr(model, "info", None):
        recorded = model.info.get("estimator")
        if isinstance(recorded, dict) and recorded.get("kind") == "sklearn":
            return {**recorded, "source": "its ONNX file"}
        return {"kind": "unknown", "text": f"an ONNX file ({model.info.get('producer') or 'origin not recorded'})"}
    return None


def target_description(target) -> dict:
    """What the target says of its own training algorithm (kind "unknown" when nothing): a fitted
    estimator's, a model file's (`model_description`), or what a gmia service publishes of the
    file it serves."""
    estimator = getattr(target, "estimator", None)
    if estimator is not None and hasattr(estimator, "get_params"):
        return describe_estimator(estimator)
    described = model_description(getattr(target, "model", None))
    if described is not None:
        return described
    url = getattr(target, "url", None)
    published = getattr(target, "training", None)
    if url and isinstance(published, dict) and published.get("kind") in ("sklearn", "gmia-file"):
        return {**published, "source": f"the file the service at {url} serves"}
    if url:
        return {"kind": "unknown", "text": f"a prediction API at {url}"}
    return {"kind": "unknown", "text": f"a {type(target).__name__}"}


def _recorded_spec(description: dict) -> TrainSpec | None:
    """The training spec a gmia model file records (`gmia.models.file_format.Model.from_zoo` writes it), if
    it is one this version reads and it fits the file's layers; else None."""
    try:
        spec = TrainSpec(**description["spec"]) if isinstance(description.get("spec"), dict) else None
    except Exception:  # a spec of another version, or not a spec at all: fall back to the architecture
        return None
    if spec is None or list(spec.hidden) != description["hidden"] or spec.activation != description["activation"]:
        return None
    return spec


def file_architecture(model) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(hidden sizes, convolution channels) of a gmia model file's layers."""
    from gmia.zoo import stacked

    layers = stacked.n_layers(model.params)
    hidden = tuple(int(model.params[f"w{i}"].shape[2]) for i in range(layers - 1))
    conv = tuple(int(model.params[f"cw{i}"].shape[1]) for i in range(stacked.n_conv(model.params)))
    return hidden, conv


def choose_references(target, spec: TrainSpec, algorithm: Algorithm | None) -> tuple[Algorithm | None, TrainSpec, Matching]:
    """The reference algorithm for ``target``: ``algorithm`` if given, else one that matches the
    target when it can be known (module docstring). Returns (algorithm or None for gmia's
    stack, the stack's spec, the matching)."""
    tdesc = target_description(target)
    if algorithm is None and tdesc["kind"] == "sklearn" and getattr(target, "estimator", None) is not None:
        algorithm = SklearnAlgorithm(target.estimator)
        return algorithm, spec, Matching(tdesc, algorithm.describe(), True,
                                         "matched: the references are clones of the target's own estimator")
    if algorithm is None and tdesc["kind"] == "sklearn":  # recorded in an ONNX file by gmia.save_onnx
        algorithm = SklearnAlgorithm(rebuild(tdesc), frame=tdesc.get("reads") == "frame")
        same = same_recipe(tdesc, algorithm.describe())
        return algorithm, spec, Matching(tdesc, algorithm.describe(), same,
                                         f"matched: the references are the estimator recorded in {tdesc.get('source', 'the ONNX file')}, rebuilt"
                                         if same else "NOT matched: the estimator recorded in the file could not be "
                                         f"rebuilt as it was; give {option('algorithm')}")
    recorded = _recorded_spec(tdesc) if tdesc["kind"] == "gmia-file" else None
    if algorithm is None and recorded is not None:
        return None, recorded, Matching(tdesc, stack_description(recorded, "the spec the model file records"), True,
                                        "matched: the model file records the gmia training spec it was trained with")
    if algorithm is None and tdesc["kind"] == "gmia-file":
        spec = spec.model_copy(update={"hidden": tuple(tdesc["hidden"]), "activation": tdesc["activation"]}) \
            if not tdesc["conv"] else spec
        rdesc = stack_description(spec, "the model file's architecture")
        converted = tdesc.get("converted_from")
        if tdesc["conv"] and (tuple(tdesc["conv"]) != tuple(spec.conv) or tuple(tdesc["hidden"]) != tuple(spec.hidden)):
            return None, spec, Matching(tdesc, stack_description(spec), False,
                                        f"NOT matched: the file's CNN differs from the preset's; give {option('conv')} and "
                                        f"{option('hidden')} as in the file")
        note = ("architecture matched from the file; its training settings are not in the file, so these are the "
                "stated spec's (steps, lr, batch_size, optimizer)")
        if converted and converted.startswith("sklearn."):
            note += f"; the file was converted from {converted}: {option('algorithm')} with that estimator trains references its way"
        return None, spec, Matching(tdesc, rdesc, None, note)
    rdesc = algorithm.describe() if algorithm is not None else stack_description(spec)
    if algorithm is not None and tdesc["kind"] == "sklearn":
        same = same_recipe(tdesc, rdesc)
        note = "matched: the given algorithm is the target's estimator" if same else \
            "NOT matched: the given algorithm differs from the target's estimator (false calls are likely)"
        return algorithm, spec, Matching(tdesc, rdesc, same, note)
    if tdesc["kind"] == "gmia-file":
        return algorithm, spec, Matching(tdesc, rdesc, False if algorithm is not None and not tdesc.get("converted_from") else None,
                                         "cannot be known to match: the given algorithm is not the model file's own")
    advice = ("the references use the algorithm given" if algorithm is not None else
              f"give {option('algorithm')} as the target's owner trained it")
    return algorithm, spec, Matching(tdesc, rdesc, None, "cannot be known to match: the target does not say how it was "
                                     f"trained; {advice}")
