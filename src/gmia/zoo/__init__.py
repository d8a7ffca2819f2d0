"""Stacked training of K models at once, and their content-addressed store."""

from gmia.zoo.spec import TrainSpec
from gmia.zoo.store import ZooStore
from gmia.zoo.trainer import iter_batches, train_stack
from gmia.zoo.zoo import Zoo

__all__ = ["TrainSpec", "Zoo", "ZooStore", "iter_batches", "train_stack"]
