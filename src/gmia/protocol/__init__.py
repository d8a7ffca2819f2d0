"""The paper's evaluation protocol (docs/algorithm.md, "Evaluation protocol"): the split, the
target and reference models, their signals, the metrics, per-record rows, and the target a
provider would deploy."""
