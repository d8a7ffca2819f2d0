"""The package's shape: layers that point one way, no import circle, small modules.

Every import of a gmia module counts, at the top of a file or inside a function (a lazy
import is still a dependency). Each module belongs to a unit (its top-level module or
subpackage under gmia); a unit may import units of its own layer or below, never above, and
the units must not import each other in a circle.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "gmia"

# Lowest first: data -> training (zoo) -> signals -> selection -> attacks -> evaluation ->
# report/console -> CLI (docs/architecture.md).
LAYERS = [
    {"errors", "choices", "io", "formatting", "extras"},
    {"data"},
    {"zoo", "model", "paper", "model_io", "onnx_model", "estimators"},
    {"algorithms"},
    {"signals", "outputs", "queries", "stats", "pvalues", "roc", "calibration", "privacy"},
    {"select"},
    {"attacks"},
    {"targets", "presets"},
    {"config"},
    {"protocol", "roles"},
    {"evaluate", "run_records", "comparison", "defenses", "experiments", "auditing", "target_model", "canaries", "matching", "audit_result"},
    {"report", "console"},
    {"serve"},
    {"api", "resources"},
    {"cli", "__main__", "__init__"},
]
LAYER_OF = {unit: i for i, layer in enumerate(LAYERS) for unit in layer}


def _unit(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    """Units this file imports (``from gmia import __version__`` is the package's version, not the API)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] != "gmia":
                continue
            if len(parts) > 1:
                out.add(parts[1])
            else:
                out.update(a.name for a in node.names if a.name != "__version__")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "gmia" and len(parts) > 1:
                    out.add(parts[1])
    return out


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        unit = _unit(path)
        graph.setdefault(unit, set()).update(u for u in _imports(path) if u != unit)
    return graph


def test_every_unit_has_a_layer():
    assert set(_graph()) <= set(LAYER_OF), f"units without a layer: {sorted(set(_graph()) - set(LAYER_OF))}"


def test_layers_point_one_way():
    upward = sorted(f"{a} -> {b}" for a, deps in _graph().items() for b in deps if LAYER_OF[b] > LAYER_OF[a])
    assert not upward, f"imports that point up the layers: {upward}"


def test_no_import_circle():
    graph = _graph()
    state: dict[str, int] = {}
    cycles = []

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, f"import circles: {[' -> '.join(c) for c in cycles]}"


def test_the_checks_can_fail(tmp_path):
    """The circle and layer checks see what they should: an upward import is found."""
    bad = tmp_path / "zoo.py"
    bad.write_text("from gmia.report import build_report\n")
    assert "report" in _imports(bad)
    assert LAYER_OF["report"] > LAYER_OF["zoo"]


def test_no_module_over_400_lines():
    long = sorted(f"{p.relative_to(SRC)} ({n})" for p in SRC.rglob("*.py")
                  if (n := len(p.read_text().splitlines())) > 400)
    assert not long, f"modules over 400 lines: {long}"


@pytest.mark.parametrize("heavy", ["fastapi", "ray", "opacus", "torch", "uvicorn"])
def test_import_gmia_pulls_in_no_heavy_or_optional_package(heavy):
    code = f"import sys, gmia; assert {heavy!r} not in sys.modules, sorted(m for m in sys.modules if m.startswith({heavy!r}))"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_codes_references_to_docs_resolve_in_the_repository():
    import re

    root = SRC.parents[1]
    cited = {m for p in SRC.rglob("*.py") for m in re.findall(r"docs/[\w./-]+\.md", p.read_text())}
    assert cited, "the code cites no documentation page at all"
    missing = sorted(c for c in cited if not (root / c).is_file())
    assert not missing, f"pages cited in the code but not in the repository: {missing}"
