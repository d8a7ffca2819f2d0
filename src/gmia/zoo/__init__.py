"""Stacked training of K models at once, and their content-addressed store.

The names load lazily, as in `gmia`: a configuration that needs only `TrainSpec` (a pydantic
model) does not import torch, so the command line refuses bad input before torch loads.
"""

import importlib

_EXPORTS = {"TrainSpec": "gmia.zoo.spec", "ZooStore": "gmia.zoo.store", "iter_batches": "gmia.zoo.trainer",
            "train_stack": "gmia.zoo.trainer", "Zoo": "gmia.zoo.zoo"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gmia.zoo' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
