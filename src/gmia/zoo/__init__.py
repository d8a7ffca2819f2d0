"""Stacked training of K models at once, and their content-addressed store.

The names load lazily, as in `gmia`: a configuration that needs only `TrainSpec` (a pydantic
model) does not import torch, so the command line refuses bad input before torch loads.
"""

from gmia.base.extras import lazy_exports

_EXPORTS = {"TrainSpec": "gmia.zoo.spec", "ZooStore": "gmia.zoo.store", "iter_batches": "gmia.zoo.trainer",
            "train_stack": "gmia.zoo.trainer", "Zoo": "gmia.zoo.zoo"}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
