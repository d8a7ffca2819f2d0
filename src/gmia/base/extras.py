"""Optional packages: the server (fastapi, uvicorn), DP accounting (opacus) and Ray come with extras;
and names that load on first use (`lazy_exports`).

``pip install gmia`` installs what every audit needs; ``gmia[serve]``, ``gmia[dp]``, ``gmia[ray]``
and ``gmia[all]`` add the rest. A feature that needs a missing extra says so in one sentence,
with the command that installs it, instead of a ModuleNotFoundError traceback.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType

from gmia.base.errors import GmiaError


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


def check_installed(module: str, extra: str, feature: str) -> None:
    """`require`'s error, without importing ``module`` when it is installed: a command checks
    that its optional packages are there first, and its cheap options next, before it pays for
    the import."""
    loaded = sys.modules.get(module, ...)
    if loaded is None or (loaded is ... and importlib.util.find_spec(module) is None):
        require(module, extra, feature)


def lazy_exports(package: str, exports: dict[str, str]):
    """A package's module-level ``__getattr__`` and ``__dir__`` (PEP 562) that import each name of
    ``exports`` (name -> module) on first use: importing the package stays cheap, so a command
    checks its options before torch or scikit-learn load. A loaded name is kept on the package."""

    def __getattr__(name: str):
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__


__all__ = ["check_installed", "lazy_exports", "require"]
