"""The examples in the README and the docs run as written.

The README's first ```python block under its "Python" heading, and every ```python block of
each page in PAGES_RUN (joined in order: later blocks use names the earlier ones define), run in a
fresh interpreter with a temporary working folder and model cache. A block whose first line is
``# not run`` is shown to readers only (it needs a server, a file of theirs, ...) and is skipped.

The site itself (mkdocs.yml, docs/) is built in strict mode by ``make docs``, which ``make test``
runs first; the README is not part of the site, so its links into docs/ are checked here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES_RUN = ["python-api.md", "privacy.md"]  # pages whose python blocks are run
NOT_RUN = "# not run"
TIMEOUT_S = 600


def python_blocks(markdown: str) -> list[str]:
    """The ```python blocks of a Markdown text, in order, dedented when indented in a list."""
    blocks = []
    for match in re.finditer(r"^([ \t]*)```python[ \t]*\n(.*?)^\1```[ \t]*$", markdown, re.S | re.M):
        indent, body = match.group(1), match.group(2)
        lines = [line[len(indent):] if line.startswith(indent) else line for line in body.splitlines()]
        blocks.append("\n".join(lines) + "\n")
    return blocks


def runnable(block: str) -> bool:
    first = next((line.strip() for line in block.splitlines() if line.strip()), "")
    return not first.lower().startswith(NOT_RUN)


def section(markdown: str, heading: str) -> str:
    """The text under the ``## heading`` (any level), up to the next heading of the same or a higher
    level; a ``#`` comment inside a fenced code block is not a heading."""
    lines, fenced, start, level = markdown.splitlines(keepends=True), False, None, 0
    for i, line in enumerate(lines):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        match = None if fenced else re.match(r"(#+)[ \t]+(.*?)[ \t]*$", line)
        if match is None:
            continue
        if start is None and match.group(2) == heading:
            start, level = i + 1, len(match.group(1))
        elif start is not None and len(match.group(1)) <= level:
            return "".join(lines[start:i])
    assert start is not None, f"no heading {heading!r} found"
    return "".join(lines[start:])


def run_python(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter: working folder and model cache in ``tmp_path``, two threads."""
    work, cache = tmp_path / "work", tmp_path / "cache"
    work.mkdir()
    cache.mkdir()
    env = {**os.environ, "GMIA_CACHE": str(cache), "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}
    try:
        return subprocess.run([sys.executable, "-c", code], cwd=work, env=env, capture_output=True, text=True,
                              timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the example ran past {TIMEOUT_S} s:\n{code}\n--- stderr ---\n{exc.stderr}")


def explain(proc: subprocess.CompletedProcess, code: str) -> str:
    return (f"exit code {proc.returncode}\n--- code ---\n{code}\n--- stdout (last 3000) ---\n{proc.stdout[-3000:]}"
            f"\n--- stderr (last 5000) ---\n{proc.stderr[-5000:]}")


@pytest.mark.slow
def test_readme_python_example_runs(tmp_path):
    blocks = python_blocks(section(README.read_text(encoding="utf-8"), "Python"))
    assert blocks, "the README's Python section has no ```python block"
    code = blocks[0]
    proc = run_python(code, tmp_path)
    assert proc.returncode == 0, explain(proc, code)
    assert "member" in proc.stdout, explain(proc, code)


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES_RUN)
def test_docs_python_examples_run(page, tmp_path):
    blocks = [b for b in python_blocks((DOCS / page).read_text(encoding="utf-8")) if runnable(b)]
    assert blocks, f"docs/{page} has no runnable ```python block"
    code = "\n".join(blocks)
    proc = run_python(code, tmp_path)
    assert proc.returncode == 0, explain(proc, code)


def test_python_blocks_parse():
    """Every python block in the README and the docs is valid Python, run or not."""
    pages = [README, *sorted(DOCS.glob("*.md"))]
    for page in pages:
        for i, block in enumerate(python_blocks(page.read_text(encoding="utf-8"))):
            try:
                compile(block, f"{page.name} block {i + 1}", "exec")
            except SyntaxError as exc:
                pytest.fail(f"{page.relative_to(ROOT)}, python block {i + 1}: {exc}")


def test_readme_links_resolve():
    """Relative links in the README point at files of the repository (mkdocs checks the docs' own)."""
    text = README.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    relative = [t.split("#")[0] for t in targets if not re.match(r"[a-z]+:", t) and not t.startswith("#")]
    assert relative, "the README links to no documentation page"
    missing = sorted({t for t in relative if t and not (ROOT / t).exists()})
    assert not missing, f"README links to files that do not exist: {missing}"


def test_every_docs_page_is_in_the_nav():
    """A page left out of mkdocs.yml's nav would be built but unreachable from the menu."""
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    missing = sorted(p.name for p in DOCS.glob("*.md") if not re.search(rf":\s*{re.escape(p.name)}\s*$", config, re.M))
    assert not missing, f"docs pages not in mkdocs.yml's nav: {missing}"


def test_the_cli_pages_option_tables_are_the_declared_options():
    """docs/cli.md's option tables are written from gmia.settings.options (scripts/cli_reference.py),
    so a new or changed option that is not in the docs fails here."""
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "cli_reference.py"), "--check"], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr


def test_the_site_home_page_is_the_readme():
    sys.path.insert(0, str(ROOT / "scripts"))
    from mkdocs_hooks import readme_as_page

    page = readme_as_page()
    assert "make demo" in page and "](docs/" not in page and "](python-api.md)" in page
