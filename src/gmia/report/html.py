"""The self-contained HTML report: figures and styles inline, opens from disk with no network.

A report is a list of sections; each takes the run's results (and its per-record rows) and
returns HTML, or None when it does not apply to that kind of run. A new attack or defence adds
a section with `section` without touching the others.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable

import pandas as pd

from gmia.base.formatting import num  # noqa: F401  (the report's cells import it from here)


Section = Callable[[dict, "pd.DataFrame | None"], "str | None"]
SECTIONS: list[Section] = []

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.15rem;border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.85rem}td,th{border:1px solid #ddd;padding:.2rem .45rem;text-align:right}
th{background:#f4f6f7}td.l,th.l{text-align:left}.muted{color:#777;font-size:.85rem}
.figs{display:flex;flex-wrap:wrap;gap:1rem}figure.gmia-figure{margin:0}figure svg{max-width:100%;height:auto}
.card{border:1px solid #ddd;border-radius:6px;padding:.6rem 1rem;margin:1rem 0}.card h3{margin:.2rem 0 .5rem;font-size:1rem}
.kv{columns:3;font-size:.8rem}.kv div{break-inside:avoid}
.recs{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:.6rem}
.rec{border:1px solid #ddd;border-radius:6px;padding:.3rem .6rem}.rec h3{font-size:.9rem;margin:.2rem 0}
.rec p{margin:.2rem 0}.rec .kv{columns:2;font-size:.75rem}.rec summary{font-size:.8rem;cursor:pointer}
"""

# Checked by the browser test: every figure rendered with a real size.
SCRIPT = """
(function(){var f=document.querySelectorAll('figure.gmia-figure');var ok=f.length>0;
f.forEach(function(x){var s=x.querySelector('svg');if(!s||s.getBoundingClientRect().width<10)ok=false;});
document.body.setAttribute('data-figures',String(f.length));document.body.setAttribute('data-figures-ok',String(ok));})();
"""


def section(fn: Section) -> Section:
    SECTIONS.append(fn)
    return fn


def esc(v) -> str:
    return html.escape(str(v))


def _interval(lo_hi) -> tuple[float, float] | None:
    """(lo, hi) of a results file's interval; None where it is missing or undefined (JSON null for NaN)."""
    if not lo_hi or len(lo_hi) != 2 or any(v is None or (isinstance(v, float) and math.isnan(v)) for v in lo_hi):
        return None
    return float(lo_hi[0]), float(lo_hi[1])


def pct_ci(lo_hi) -> str:
    """A 95% interval of a rate in percent, as the terminal prints it (`gmia.base.formatting.ci`)."""
    iv = _interval(lo_hi)
    return "-" if iv is None else f"[{100 * iv[0]:.1f}, {100 * iv[1]:.1f}]"


def num_ci(lo_hi, digits: int = 3) -> str:
    """A 95% interval of a plain number (an AUC), as the terminal prints it."""
    iv = _interval(lo_hi)
    return "-" if iv is None else f"[{iv[0]:.{digits}f}, {iv[1]:.{digits}f}]"


def with_ci(value: str, interval: str) -> str:
    """A figure and its interval in one cell: "not computed" where the figure is missing, the
    figure alone where only its interval is (never "- -" or a dangling dash)."""
    if value == "-":
        return "not computed"
    return value if interval == "-" else f"{value} {interval}"


def _pair(v) -> bool:
    return isinstance(v, list | tuple) and len(v) == 2 and all(x is None or isinstance(x, int | float) for x in v) \
        and v[1] is not None


def plain(value, key: str | None = None) -> str:
    """A configuration value as a reader reads it: lists joined, (δ, β) settings named, no Python reprs."""
    if key == "settings" and isinstance(value, list | tuple) and all(_pair(v) for v in value):  # (δ, β) settings
        return "; ".join(f"delta={'derived' if d is None else f'{d:g}'}, beta={b:g}" for d, b in value)
    if isinstance(value, list | tuple):
        return ", ".join(plain(v) for v in value) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k} {plain(v)}" for k, v in value.items()) or "none"
    if value is None:
        return "not set"
    if isinstance(value, float):
        return "not computed" if math.isnan(value) else f"{value:g}"
    return str(value)


def figure(svg: str, caption: str) -> str:
    return f'<figure class="gmia-figure">{svg}<figcaption class="muted">{esc(caption)}</figcaption></figure>'


def table(head: list[str], rows: list[list], left: int = 0) -> str:
    th = "".join(f'<th class="{"l" if i < left else ""}">{esc(h)}</th>' for i, h in enumerate(head))
    body = "".join(
        "<tr>" + "".join(f'<td class="{"l" if i < left else ""}">{esc(c)}</td>' for i, c in enumerate(r)) + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def build_report(results: dict, records: pd.DataFrame | None) -> str:
    parts = []
    for fn in SECTIONS:
        out = fn(results, records)
        if out:
            parts.append(out)
    title = f"gmia report: {results.get('kind', 'run')} on {results.get('dataset', '?')}"
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{esc(title)}</title>"
            f"<style>{CSS}</style></head><body><h1>{esc(title)}</h1>{''.join(parts)}"
            f"<script>{SCRIPT}</script></body></html>")

