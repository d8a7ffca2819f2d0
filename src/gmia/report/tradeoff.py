"""The privacy-utility figure of `gmia defend`: test accuracy against attack success, per setting.

Drawn from the rows as results.json holds them, so `gmia defend` writes it beside the report
(``tradeoff.png`` and ``.svg``) and the report shows the same figure inline, also when it is
rebuilt from a run folder (`gmia report`).
"""

from __future__ import annotations

import io
import math
from pathlib import Path

from gmia.base.io import atomic_write_bytes
from gmia.stats.roc import roc_figure


def _rows(result) -> list[dict]:
    """(label, test accuracy, roc, baseline records) of each setting, from a result or its dict."""
    rows = result["rows"] if isinstance(result, dict) else result.rows
    get = (lambda r, k: r[k]) if rows and isinstance(rows[0], dict) else getattr
    return [{k: get(r, k) for k in ("label", "test_accuracy", "roc", "baseline_records")} for r in rows]


def draw_tradeoff(rows: list[dict], cutoff: float, dataset: str):
    """Three panels sharing the x axis (target test accuracy): ROC AUC, TPR at 0.1% FPR, and
    precision at the cutoff on the baseline records. A standalone Figure: no pyplot, backend or
    rcParams are touched."""
    from matplotlib.lines import Line2D

    from gmia.report.figures import subplots

    panels = [("ROC AUC (all pool records x targets)", lambda r: roc_figure(r["roc"])),
              ("TPR at FPR ≤ 0.1%", lambda r: roc_figure(r["roc"], "0.001")),
              (f"precision at p < {cutoff:g}, baseline records", lambda r: r["baseline_records"].get("precision"))]
    fig, axes = subplots(1, 3, figsize=(13, 4.6), layout="constrained")
    markers = "osD^v<>pP*X"
    for ax, (title, value) in zip(axes, panels):
        for i, r in enumerate(rows):
            v = value(r)
            if v is None or (isinstance(v, float) and math.isnan(v)):
                continue
            # Settings often coincide (e.g. equal DP noise): marker and colour both vary, a legend names them.
            ax.scatter(r["test_accuracy"], v, color=f"C{i % 10}", marker=markers[i % len(markers)], s=40, alpha=0.8,
                       label=r["label"] if ax is axes[0] else None)
        ax.set_xlabel("target test accuracy")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].axhline(0.5, color="grey", lw=0.8, ls="--")
    axes[2].axhline(0.5, color="grey", lw=0.8, ls="--")
    handles = [Line2D([], [], color=f"C{i % 10}", marker=markers[i % len(markers)], ls="", label=r["label"])
               for i, r in enumerate(rows)]
    fig.legend(handles=handles, loc="outside lower center", ncol=min(4, len(handles)), fontsize=8, frameon=False)
    fig.suptitle(f"Defences on {dataset}: utility against GMIA's success (dashed: chance)", fontsize=11)
    return fig


def tradeoff_svg(results: dict) -> str:
    """The figure of a results.json dict as inline SVG (the report's defences section)."""
    fig = draw_tradeoff(_rows(results), results["config"]["cutoff"], results.get("dataset", ""))
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    text = buf.getvalue()
    return text[text.index("<svg"):]


def tradeoff_figure(result, folder: Path) -> tuple[Path, Path]:
    """Write ``tradeoff.png`` and ``tradeoff.svg`` of a `DefendResult` into ``folder``."""
    fig = draw_tradeoff(_rows(result), result.config["cutoff"], result.dataset)
    paths = []
    for ext in ("png", "svg"):
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, dpi=120)
        path = Path(folder) / f"tradeoff.{ext}"
        atomic_write_bytes(path, buf.getvalue())
        paths.append(path)
    return paths[0], paths[1]
