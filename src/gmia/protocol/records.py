"""Per-record rows and evidence cards of a protocol run, collected seed by seed.

The run folder's records.parquet has one row per (record, target) pair; each vulnerable record
gets a card with its neighbour evidence and its reference and target losses (the paper's
Figure 14). Everything here is read off the evaluation of the seed, never recomputed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gmia.data.records import image_of, readable_record
from gmia.protocol.run import ProtocolSignals

MAX_CARDS = 40  # record cards per run; a report stays small and fast to open


class RunRecorder:
    """Collects, seed by seed, the (record, target) rows and the vulnerable records' evidence."""

    def __init__(self, cutoff: float):
        self.cutoff = cutoff
        self.frames: list[pd.DataFrame] = []
        self.cards: list[dict] = []

    def __call__(self, seed: int, signals: ProtocolSignals, evaluations) -> None:
        evaluation = evaluations[0]  # the first (δ, β) setting: Table 1's
        pvalues = evaluation.pvalues
        neighbours = evaluation.selection.neighbours
        expected = evaluation.selection.expected()
        pool = signals.split.pool
        t, p = signals.target_loss.shape
        selected = np.isin(pool, evaluation.selected)
        frame = pd.DataFrame({
            "seed": np.full(t * p, seed, dtype=np.int32),
            "record": np.tile(pool, t).astype(np.int32),
            "target": np.repeat(np.arange(t), p).astype(np.int16),
            "class": np.tile(signals.dataset.y[pool], t).astype(np.int16),
            "neighbours": np.tile(neighbours, t).astype(np.int32),
            "expected_neighbours": np.tile(expected, t).astype(np.float32),
            "selected": np.tile(selected, t),
            "statistic": signals.target_loss.ravel().astype(np.float32),
            "p_value": pvalues.ravel().astype(np.float32),
            "decision": (pvalues.ravel() < self.cutoff),
            "member": signals.membership.ravel(),
        })
        if evaluation.fdr_member is not None:  # --references exchangeable: its default test and FDR calls
            frame["p_exchangeable"] = evaluation.exchangeable_pvalues.ravel().astype(np.float32)
            frame["fdr_member"] = evaluation.fdr_member.ravel()
        self.frames.append(frame)
        for record in evaluation.selected[: max(0, MAX_CARDS - len(self.cards))]:
            j = int(np.searchsorted(pool, record))
            self.cards.append({
                "seed": seed, "record": int(record), "class": int(signals.dataset.y[record]),
                "features": readable_record(signals.dataset, record), "image": image_of(signals.dataset, record),
                "neighbours": int(neighbours[j]),
                "expected_neighbours": float(expected[j]),
                "reference_losses": signals.reference_loss[:, j].tolist(),
                "target_losses": signals.target_loss[:, j].tolist(),
                "members": signals.membership[:, j].tolist(),
                "p_values": pvalues[:, j].tolist(),
            })

    def frame(self) -> pd.DataFrame | None:
        return pd.concat(self.frames, ignore_index=True) if self.frames else None
