"""The privacy-utility figure of `gmia defend`: test accuracy against attack success, per setting."""

from __future__ import annotations

import io
import math
from pathlib import Path

from gmia.io import atomic_write_bytes


def tradeoff_figure(result, folder: Path) -> tuple[Path, Path]:
    """Write ``tradeoff.png`` and ``tradeoff.svg``: three panels sharing the x axis (target test
    accuracy): ROC AUC, TPR at 0.1% FPR, and precision at the cutoff on the baseline records."""
    from matplotlib.lines import Line2D

    from gmia.report.figures import subplots  # a standalone Figure: no pyplot, backend or rcParams touched

    cutoff = result.config["cutoff"]
    panels = [("ROC AUC (all pool records x targets)", lambda r: r.roc.get("auc")),
              ("TPR at 0.1% FPR", lambda r: r.roc.get("tpr_at_fpr_0.001")),
              (f"precision at p < {cutoff:g}, baseline records", lambda r: r.baseline_records.get("precision"))]
    fig, axes = subplots(1, 3, figsize=(13, 4.6), layout="constrained")
    markers = "osD^v<>pP*X"
    for ax, (title, value) in zip(axes, panels):
        for i, r in enumerate(result.rows):
            v = value(r)
            if v is None or (isinstance(v, float) and math.isnan(v)):
                continue
            # Settings often coincide (e.g. equal DP noise): marker and colour both vary, a legend names them.
            ax.scatter(r.test_accuracy, v, color=f"C{i % 10}", marker=markers[i % len(markers)], s=40, alpha=0.8,
                       label=r.label if ax is axes[0] else None)
        ax.set_xlabel("target test accuracy")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].axhline(0.5, color="grey", lw=0.8, ls="--")
    axes[2].axhline(0.5, color="grey", lw=0.8, ls="--")
    handles = [Line2D([], [], color=f"C{i % 10}", marker=markers[i % len(markers)], ls="", label=r.label)
               for i, r in enumerate(result.rows)]
    fig.legend(handles=handles, loc="outside lower center", ncol=min(4, len(handles)), fontsize=8, frameon=False)
    fig.suptitle(f"Defences on {result.dataset}: utility against GMIA's success (dashed: chance)", fontsize=11)
    paths = []
    for ext in ("png", "svg"):
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, dpi=120)
        path = Path(folder) / f"tradeoff.{ext}"
        atomic_write_bytes(path, buf.getvalue())
        paths.append(path)
    return paths[0], paths[1]
