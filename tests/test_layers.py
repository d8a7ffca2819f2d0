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

# Lowest first: data -> training (zoo, algorithms) -> statistics -> attacks -> targets -> protocol ->
# the commands' engines -> report/console -> API -> CLI (docs/architecture.md).
LAYERS = [
    {"base"},
    {"data"},
    {"zoo", "models"},
    {"algorithms"},
    {"stats", "privacy", "settings"},
    {"attacks"},
    {"targets"},
    {"protocol"},
    {"comparison", "defenses", "experiments", "auditing", "canaries"},
    {"report", "console"},
    {"serve"},
    {"api"},
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


@pytest.mark.parametrize("heavy", ["fastapi", "numba", "ray", "opacus", "torch", "uvicorn"])
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


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _module_graph() -> dict[str, set[str]]:
    """Module -> the gmia modules it imports. ``from gmia.report import figures`` depends on the
    module ``gmia.report.figures``; the package's ``__init__`` only runs first, as for any import."""
    modules = {_module_name(p): p for p in SRC.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module in modules:
                subs = {f"{node.module}.{a.name}" for a in node.names} & modules.keys()
                deps |= subs or {node.module}
                if len(subs) < len(node.names):
                    deps.add(node.module)
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name in modules}
        graph[name] = deps - {name}
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while not comp or comp[-1] != v:
                comp.append(stack.pop())
                on.discard(comp[-1])
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_circle_between_modules():
    """Inside a package too: no two modules import each other, at the top or inside a function."""
    assert not _circles(_module_graph()), f"module import circles: {_circles(_module_graph())}"


def test_the_module_circle_check_can_fail():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_only_the_package_face_is_loose():
    """Every module lives in the folder of its stage; only the package face stays at the top."""
    loose = sorted(p.name for p in SRC.glob("*.py"))
    assert loose == ["__init__.py", "__main__.py"], f"modules directly under src/gmia: {loose}"


def test_the_architecture_page_lists_the_layers_of_this_test():
    """docs/architecture.md's layer table is this file's LAYERS, row by row."""
    import re

    page = (SRC.parents[1] / "docs" / "architecture.md").read_text()
    rows = re.findall(r"^\| (\d+) \| ([^|]+) \|", page, flags=re.M)
    documented = [set(re.findall(r"`([\w]+)`", units)) for _, units in rows]
    assert documented == LAYERS, "docs/architecture.md's layer table differs from tests/test_layers.py's LAYERS"


def test_no_folder_shadows_a_public_name():
    """Importing ``gmia.X`` sets the attribute ``gmia.X`` to the module, so a folder named like a
    public function (``gmia.audit``) would replace that function once anything imported it."""
    import gmia

    folders = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert not folders & set(gmia.__all__), f"folders named like public names: {sorted(folders & set(gmia.__all__))}"


def test_no_lazy_name_is_also_a_submodule():
    """A package that exports ``f`` lazily from its submodule ``f`` would hand out the module once
    anything imported ``pkg.f`` (the import system sets that attribute): one name, one thing."""
    import importlib
    import pkgutil

    clashes = []
    for info in pkgutil.walk_packages([str(SRC)], "gmia."):
        if info.ispkg:
            package = importlib.import_module(info.name)
            names = set(getattr(package, "_EXPORTS", {}))
            clashes += [f"{info.name}.{s.name}" for s in pkgutil.iter_modules(package.__path__) if s.name in names]
    assert not clashes, f"lazy names that are also submodules: {clashes}"


def test_every_command_result_is_a_result_with_one_schema_version():
    """One base for results (gmia.base.result): the schema version is defined once, and every
    command's result class gets to_dict, save and load from it."""
    import re

    from gmia.auditing.result import AuditResult
    from gmia.base.result import Result
    from gmia.canaries.run import AuditDpResult
    from gmia.comparison.run import CompareResult
    from gmia.defenses.run import DefendResult
    from gmia.experiments.reproduce import ReproduceResult
    from gmia.experiments.table3 import Table3Result

    for cls in (AuditResult, AuditDpResult, CompareResult, DefendResult, ReproduceResult, Table3Result):
        assert issubclass(cls, Result) and cls.__dataclass_params__.frozen, cls.__name__
        assert "to_dict" not in vars(cls), f"{cls.__name__} writes its own to_dict"
    defined = [p for p in SRC.rglob("*.py") if re.search(r"^\w*SCHEMA_VERSION\s*=", p.read_text(), flags=re.M)]
    assert [p.relative_to(SRC).as_posix() for p in defined] == ["base/result.py"]


def test_test_file_names_are_unique():
    """The test folders mirror the package without __init__ files, so pytest imports each test
    file by its base name: two files of one name in two folders would collide."""
    from collections import Counter

    names = Counter(p.name for p in (SRC.parents[1] / "tests").rglob("test_*.py"))
    assert not [n for n, c in names.items() if c > 1], [n for n, c in names.items() if c > 1]
