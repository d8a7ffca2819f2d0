"""MkDocs hooks (mkdocs.yml, ``hooks:``): the site's home page is the README.

The README is the front door and the one copy of the overview and the quick-start; docs/index.md
only says so. Its links into docs/ become the site's own links; links to other files of the
repository (benchmarks/README.md) become their path in code, since the site does not hold them.
"""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
_LINK = re.compile(r"\[([^\]]+)\]\(([^)#]+)(#[^)]*)?\)")


def _site_link(match: re.Match) -> str:
    text, target, anchor = match.group(1), match.group(2), match.group(3) or ""
    if target.startswith(("http://", "https://")):
        return match.group(0)
    if target.startswith("docs/"):
        return f"[{text}]({target.removeprefix('docs/')}{anchor})"
    return f"{text} (`{target}` in the repository)"


def readme_as_page() -> str:
    return _LINK.sub(_site_link, README.read_text(encoding="utf-8"))


def on_page_markdown(markdown: str, page, config, files) -> str:
    return readme_as_page() if page.file.src_uri == "index.md" else markdown
