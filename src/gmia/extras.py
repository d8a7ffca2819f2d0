"""Optional packages: the server (fastapi, uvicorn), DP accounting (opacus) and Ray come with extras.

``pip install gmia`` installs what every audit needs; ``gmia[serve]``, ``gmia[dp]``, ``gmia[ray]``
and ``gmia[all]`` add the rest. A feature that needs a missing extra says so in one sentence,
with the command that installs it, instead of a ModuleNotFoundError traceback.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from gmia.errors import GmiaError


def require(module: str, extra: str, feature: str) -> ModuleType:
    """Import and return ``module`` (e.g. ``"fastapi"`` or ``"opacus.accountants"``), or raise a
    `GmiaError` naming ``feature`` and the command that installs ``gmia[extra]``."""
    try:
        importlib.import_module(module.split(".")[0])  # first: a cached submodule must not hide a missing package
        return importlib.import_module(module)
    except ImportError as exc:
        # Usually the package itself; else one of its own dependencies, which the extra installs too.
        package = (exc.name or module).split(".")[0]
        raise GmiaError(f"{feature} needs the optional package {package}; install it with: pip install 'gmia[{extra}]'") from None


__all__ = ["require"]
