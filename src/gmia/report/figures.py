"""Figures for the report, as inline SVG text (no files, no network when the page opens).

Each figure is a `matplotlib.figure.Figure` drawn under ``matplotlib.rc_context(STYLE)`` (the
`styled` decorator): no pyplot state, no backend chosen and no rcParams changed, so writing a
report from a notebook leaves the notebook's own backend and style as they were.
"""

from __future__ import annotations

import functools
import io

import matplotlib
import numpy as np
from matplotlib import ticker
from matplotlib.figure import Figure

STYLE = {"svg.fonttype": "none", "font.size": 9, "axes.spines.top": False, "axes.spines.right": False,
         "figure.subplot.left": 0.16, "figure.subplot.bottom": 0.2, "figure.subplot.right": 0.97,
         "figure.subplot.top": 0.88}
MEMBER, NON_MEMBER, REFERENCE, POSITIVE = "#c0392b", "#2471a3", "#95a5a6", "#e67e22"


def styled(draw):
    """Run a figure function under the report's STYLE, restoring the caller's rcParams after."""

    @functools.wraps(draw)
    def run(*args, **kwargs):
        with matplotlib.rc_context(STYLE):
            return draw(*args, **kwargs)

    return run


def readable_counts(ax, x: str = "linear") -> None:
    """A histogram's axes as a reader wants them: whole-number counts, and few enough x ticks
    that their labels do not run into each other (``x``: "linear", "log", or "keep" for an axis
    whose scale sets its own ticks, such as symlog)."""
    ax.yaxis.set_major_locator(ticker.MaxNLocator(nbins=5, integer=True, min_n_ticks=1))
    if x == "log":
        ax.xaxis.set_major_locator(ticker.LogLocator(numticks=6))
    elif x == "linear":
        ax.xaxis.set_major_locator(ticker.MaxNLocator(nbins=5))


def subplots(nrows: int = 1, ncols: int = 1, *, figsize, squeeze: bool = True, layout: str | None = None):
    """A standalone Figure and its axes (pyplot's subplots without pyplot's global figure list)."""
    fig = Figure(figsize=figsize, layout=layout)
    return fig, fig.subplots(nrows, ncols, squeeze=squeeze)


def to_svg(fig) -> str:
    buf = io.StringIO()
    # A fixed layout instead of bbox_inches="tight": tight bounds cost a second draw, which
    # doubled the build time of a report with dozens of record cards.
    fig.savefig(buf, format="svg")
    text = buf.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog and doctype: inline in HTML


@styled
def neighbour_histogram(neighbours: np.ndarray, threshold: float | None, title: str) -> str:
    """Distribution of N'_n over the candidate records; the selection keeps those left of the line."""
    fig, ax = subplots(figsize=(6, 2.6))
    values = np.asarray(neighbours)
    bins = np.unique(np.r_[0, np.geomspace(1, max(values.max(), 1) + 1, 40).astype(int)])
    ax.hist(values, bins=bins, color=REFERENCE, edgecolor="white")
    ax.set_xscale("symlog", linthresh=1)
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(ticker.LogLocator(numticks=5))
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))  # counts, not 10^k
    ax.yaxis.set_minor_formatter(ticker.NullFormatter())
    if threshold is not None:
        ax.axvline(threshold, color=MEMBER, linestyle="--", label=f"selected: N'_n < {threshold:.3g}")
        ax.legend(frameon=False)
    ax.set_xlabel("neighbours N'_n among the adversary's records")
    ax.set_ylabel("records")
    ax.set_title(title)
    return to_svg(fig)


@styled
def roc_loglog(curves: dict[str, dict]) -> str:
    """Log-log ROC per attack: the low-FPR corner is where membership inference matters."""
    fig, ax = subplots(figsize=(4.6, 4.2))
    for name, c in curves.items():
        fpr, tpr = np.asarray(c["fpr"]), np.asarray(c["tpr"])
        keep = (fpr > 0) & (tpr > 0)
        if keep.any():
            ax.plot(fpr[keep], tpr[keep], label=name, linewidth=1.2)
    grid = np.geomspace(1e-4, 1, 50)
    ax.plot(grid, grid, color="black", linewidth=0.6, linestyle=":", label="chance")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(1e-4, 1)
    ax.set_ylim(1e-4, 1)
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("true-positive rate")
    ax.legend(frameon=False, fontsize=7)
    return to_svg(fig)


@styled
def pr_plot(curves: dict[str, dict], title: str) -> str:
    """Precision against recall as the threshold sweeps (the paper's Figure 8)."""
    fig, ax = subplots(figsize=(4.6, 4.2))
    for name, c in curves.items():
        if c["recall"]:
            ax.plot(c["recall"], c["precision"], label=name, linewidth=1.2)
    ax.axhline(0.5, color="black", linewidth=0.6, linestyle=":", label="chance (half the targets are members)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title(title)
    ax.legend(frameon=False, fontsize=7)
    return to_svg(fig)


@styled
def loss_histogram(reference: list[float], targets: list[float], members: list[bool], positive: list[float] | None = None) -> str:
    """Reference losses against the targets' (the paper's Figure 14): members should sit left."""
    fig, ax = subplots(figsize=(4.4, 2.4))
    ref = np.asarray(reference)
    tgt, mem = np.asarray(targets), np.asarray(members, dtype=bool)
    lo = max(min(ref.min(), tgt.min()), 1e-12)
    hi = max(ref.max(), tgt.max(), lo * 10)
    bins = np.geomspace(lo, hi, 30)
    ax.hist(ref, bins=bins, color=REFERENCE, alpha=0.8, label="reference models")
    if positive is not None:
        ax.hist(np.maximum(positive, lo), bins=bins, color=POSITIVE, alpha=0.6, label="positive references")
    y = ax.get_ylim()[1]
    ax.vlines(np.maximum(tgt[~mem], lo), 0, y * 0.25, color=NON_MEMBER, linewidth=0.8, label="targets, non-member")
    ax.vlines(np.maximum(tgt[mem], lo), 0, y * 0.35, color=MEMBER, linewidth=0.8, label="targets, member")
    ax.set_xscale("log")
    readable_counts(ax, x="log")
    ax.set_xlabel("log loss of the true label")
    ax.set_ylabel("reference models")
    ax.legend(frameon=False, fontsize=6)
    return to_svg(fig)


@styled
def pvalue_strip(pvalues: list[float], members: list[bool], cutoff: float) -> str:
    """Each target's p-value for the record, members and non-members apart, with the cutoff."""
    fig, ax = subplots(figsize=(4.4, 2.4))
    p = np.maximum(np.asarray(pvalues, dtype=float), 1e-6)
    mem = np.asarray(members, dtype=bool)
    rng = np.random.default_rng(0)  # jitter only, fixed so the report is reproducible
    for flag, x0, colour, label in ((False, 0, NON_MEMBER, "non-member"), (True, 1, MEMBER, "member")):
        sel = p[mem == flag]
        ax.scatter(x0 + rng.uniform(-0.15, 0.15, sel.size), sel, s=8, color=colour, label=label)
    ax.axhline(cutoff, color="black", linestyle="--", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_ylim(8e-7, 1.5)
    ax.set_xticks([0, 1], ["non-member targets", "member targets"])
    ax.set_ylabel("p-value (1e-6 = 0)")
    return to_svg(fig)


@styled
def image_grid(images: list[dict], titles: list[str], columns: int = 8) -> str:
    """Records drawn as the images they are (the paper's Figure 12), one titled cell each.

    ``images``: ``{"shape": [C, H, W], "pixels": [...]}`` with 0..255 values in (C, H, W) order.
    """
    rows = -(-len(images) // columns)
    cols = min(columns, len(images))
    fig, axes = subplots(rows, cols, figsize=(1.25 * cols, 1.45 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, img, title in zip(axes.ravel(), images, titles):
        c, h, w = img["shape"]
        pixels = np.asarray(img["pixels"], dtype=np.uint8).reshape(c, h, w)
        if c == 1:
            ax.imshow(pixels[0], cmap="gray_r", vmin=0, vmax=255, interpolation="nearest")
        else:
            ax.imshow(np.moveaxis(pixels[:3], 0, -1), interpolation="nearest")
        ax.set_title(title, fontsize=7)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.9, wspace=0.15, hspace=0.45)
    return to_svg(fig)



STRIP_BINS = 20


@styled
def reference_strips(items: list[tuple[list[float], float, str]]) -> list[str]:
    """One small SVG per tested record of an audit: ``(reference losses, target loss, title)`` →
    a histogram of the k reference losses L(M_i, r) on a log axis, with the target's L(M, r) as a
    red line; the raw p-value is the share of reference losses at or left of the line.

    One figure is drawn once and only its bars, line, limits and title change per record: a
    new figure per record cost about 0.2 s, so a hundred records took half a minute to draw.
    """
    if not items:
        return []
    fig, ax = subplots(figsize=(3.3, 1.35))
    bars = ax.bar(np.arange(STRIP_BINS), np.ones(STRIP_BINS), width=1.0, align="edge", color=REFERENCE)
    line = ax.axvline(0.0, color=MEMBER, linewidth=1.4)
    ax.set_yticks([])
    ax.tick_params(labelsize=6)
    ax.xaxis.set_major_locator(ticker.MaxNLocator(5))
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{10.0 ** v:.2g}"))
    ax.set_xlabel("log loss of the true label (log scale)", fontsize=6, labelpad=1)
    title = ax.set_title("", fontsize=7)
    fig.subplots_adjust(left=0.04, right=0.97, bottom=0.3, top=0.84)
    out = []
    for reference, target, text in items:
        ref = np.log10(np.maximum(np.asarray(reference, dtype=float), 1e-12))
        ref = ref[np.isfinite(ref)]
        tgt = np.log10(max(float(target), 1e-12)) if target is not None and np.isfinite(target) else None
        ends = [*ref.tolist(), *([tgt] if tgt is not None else [])] or [0.0]
        lo, hi = min(ends), max(ends)
        hi = hi if hi - lo > 1e-9 else lo + 1.0
        edges = np.linspace(lo, hi, STRIP_BINS + 1)
        counts, _ = np.histogram(ref, edges)
        for bar, left, count in zip(bars, edges, counts):
            bar.set_x(left)
            bar.set_width(edges[1] - edges[0])
            bar.set_height(count)
        line.set_visible(tgt is not None)
        line.set_xdata([tgt if tgt is not None else lo] * 2)
        pad = 0.03 * (hi - lo)
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_ylim(0, max(int(counts.max()), 1) * 1.08)
        title.set_text(text)
        buf = io.StringIO()
        fig.savefig(buf, format="svg")
        svg = buf.getvalue()
        out.append(svg[svg.index("<svg"):])
    return out
