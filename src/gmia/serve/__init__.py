"""`gmia serve`: a model behind a prediction API with per-key budgets (the paper's MLaaS setting).

Key files, budgets and settings need only the core install; the web app (fastapi) and the server
(uvicorn) come with the ``serve`` extra and are imported when an app is built or run, so a missing
extra is one sentence naming ``pip install 'gmia[serve]'``.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from gmia.base.extras import check_installed, require
from gmia.targets.policy import model_id
from gmia.serve.config import ACCESS_LOG, EXTRA, FEATURE, ServeConfig, public_schema
from gmia.serve.keys import ApiKey, KeyRing, add_key, read_key_file
from gmia.serve.limits import Ledger, RateLimiter

__all__ = ["ApiKey", "KeyRing", "Ledger", "RateLimiter", "ServeConfig", "add_key", "create_app", "load_model",
           "model_id", "public_schema", "read_key_file", "run_server"]


def __getattr__(name: str):
    """``create_app`` is imported on first use: it needs fastapi, which the rest of this package does not."""
    if name == "create_app":
        require("fastapi", EXTRA, FEATURE)
        from gmia.serve.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _access_logger(path: Path | None) -> None:
    log = logging.getLogger(ACCESS_LOG)
    log.setLevel(logging.INFO)
    log.propagate = False
    for h in list(log.handlers):
        log.removeHandler(h)
    handler = logging.FileHandler(path) if path is not None else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log.addHandler(handler)


def _check_port(host: str, port: int) -> None:
    import socket

    from gmia.base.errors import GmiaError

    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        raise GmiaError(f"cannot listen on {host}:{port} ({exc.strerror}); expected a free port on an address of this machine") from None


def load_model(path: Path):
    """A model file by its suffix: ``.onnx`` is an `gmia.models.onnx_file.OnnxModel` (with its schema
    embedded, as `gmia.save_onnx` writes it), anything else a gmia model file (safetensors)."""
    if Path(path).suffix.lower() == ".onnx":
        from gmia.models.onnx_file import OnnxModel

        return OnnxModel.load(path)
    from gmia.models.file_format import Model

    return Model.load(path)


def run_server(model_path: Path, keys_path: Path, host: str = "127.0.0.1", port: int = 8000,
               usage_db: Path | None = None, config: ServeConfig = ServeConfig(), access_log: Path | None = None,
               announce=print) -> None:
    """Load everything (so bad input fails before the port opens), then serve until interrupted."""
    from gmia.base.errors import GmiaError

    if not 0 <= port <= 65535:
        raise GmiaError(f"port {port} is out of range; expected 0 to 65535")
    _check_port(host, port)
    for package in ("fastapi", "uvicorn"):
        check_installed(package, EXTRA, FEATURE)
    keyring = KeyRing.load(keys_path)  # a bad keys file fails before the server's packages load
    require("fastapi", EXTRA, FEATURE)
    uvicorn = require("uvicorn", EXTRA, FEATURE)
    from gmia.serve.app import create_app

    model = load_model(model_path)
    usage_db = usage_db or keys_path.with_name(keys_path.stem + ".usage.sqlite")
    try:
        ledger = Ledger(usage_db)
    except Exception as exc:  # sqlite3 raises several kinds for an unusable path
        raise GmiaError(f"usage database {str(usage_db)!r} cannot be opened ({exc}); expected a writable file path") from None
    _access_logger(access_log)
    app = create_app(model, keyring, ledger, config)
    announce(f"serving {model_path} (model {model_id(model, config.policy)}, {model.schema.n_features} encoded features, "
             f"{model.n_classes} classes; output: {config.policy.describe()}) on http://{host}:{port} for "
             f"{len(keyring.keys)} API key(s); usage in {usage_db}")
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    finally:
        ledger.close()
