"""Optional extras (serve, dp, ray): a missing one is one sentence naming the pip command, not a traceback.

A missing package is simulated with ``sys.modules[name] = None``, which makes ``import name`` raise
ImportError as if it were not installed.
"""

from __future__ import annotations

import importlib
import math
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from gmia.base.errors import GmiaError
from gmia.base.extras import require

ROOT = Path(__file__).resolve().parents[2]


def assert_install_sentence(exc: BaseException, package: str, extra: str) -> None:
    text = str(exc)
    assert isinstance(exc, GmiaError) and "\n" not in text and "Traceback" not in text, text
    assert f"optional package {package};" in text, text
    assert text.endswith(f"install it with: pip install 'gmia[{extra}]'"), text


def hide(monkeypatch, *names: str) -> None:
    for name in names:
        monkeypatch.setitem(sys.modules, name, None)


# ------------------------------------------------------------------------- require

def test_require_returns_the_module_when_installed():
    assert require("json", "serve", "anything") is importlib.import_module("json")
    assert require("os.path", "serve", "anything") is importlib.import_module("os.path")


def test_require_names_the_package_and_the_extra(monkeypatch):
    hide(monkeypatch, "fastapi")
    with pytest.raises(GmiaError) as exc:
        require("fastapi", "serve", "the prediction-API server")
    assert str(exc.value) == ("the prediction-API server needs the optional package fastapi; "
                              "install it with: pip install 'gmia[serve]'")


def test_require_sees_a_missing_package_behind_a_cached_submodule(monkeypatch):
    importlib.import_module("email.mime")  # cached, as opacus.accountants would be after one use
    hide(monkeypatch, "email")
    with pytest.raises(GmiaError) as exc:
        require("email.mime", "dp", "a feature")
    assert_install_sentence(exc.value, "email", "dp")


def test_require_names_a_missing_dependency_of_the_extra(tmp_path, monkeypatch):
    (tmp_path / "gmia_fake_extra").mkdir()
    (tmp_path / "gmia_fake_extra" / "__init__.py").write_text("import gmia_fake_dependency_that_is_absent\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(GmiaError) as exc:
        require("gmia_fake_extra", "ray", "a feature")
    assert_install_sentence(exc.value, "gmia_fake_dependency_that_is_absent", "ray")


# ---------------------------------------------------------------------- the server

@pytest.mark.parametrize("missing", ["fastapi", "uvicorn"])
def test_run_server_without_the_serve_extra(tmp_path, monkeypatch, missing):
    from gmia.serve import run_server

    hide(monkeypatch, missing)
    with pytest.raises(GmiaError) as exc:  # before the model, the keys or the port are looked at
        run_server(tmp_path / "model.safetensors", tmp_path / "keys.json", port=0, announce=lambda text: None)
    assert_install_sentence(exc.value, missing, "serve")
    assert "prediction-API server" in str(exc.value)


def test_create_app_without_fastapi(monkeypatch):
    import gmia.serve

    hide(monkeypatch, "fastapi")
    with pytest.raises(GmiaError) as exc:
        gmia.serve.create_app
    assert_install_sentence(exc.value, "fastapi", "serve")
    with pytest.raises(GmiaError) as exc:
        from gmia.serve import create_app  # noqa: F401
    assert_install_sentence(exc.value, "fastapi", "serve")
    monkeypatch.delitem(sys.modules, "gmia.serve.app", raising=False)  # a first import of the app module
    with pytest.raises(GmiaError) as exc:
        importlib.import_module("gmia.serve.app")
    assert_install_sentence(exc.value, "fastapi", "serve")


def test_key_files_need_no_serve_extra(tmp_path, monkeypatch):
    hide(monkeypatch, "fastapi", "uvicorn")
    from gmia.serve import KeyRing, ServeConfig, add_key

    add_key(tmp_path / "keys.json", "auditor", budget=10, rate=None, burst=None)
    assert [k.name for k in KeyRing.load(tmp_path / "keys.json").keys] == ["auditor"]
    assert ServeConfig().max_batch >= 1


# ----------------------------------------------------------------- DP accounting

def test_dp_accountant_without_opacus(monkeypatch):
    from gmia.defenses.privacy import epsilon_for, guarantee, noise_for

    hide(monkeypatch, "opacus")
    with pytest.raises(GmiaError) as exc:
        epsilon_for(1.0, 0.01, 100, 1e-5)
    assert_install_sentence(exc.value, "opacus", "dp")
    with pytest.raises(GmiaError) as exc:
        noise_for(1.0, 0.01, 100, 1e-5, accountant="prv")
    assert_install_sentence(exc.value, "opacus", "dp")
    with pytest.raises(GmiaError) as exc:
        guarantee(epsilon=2.0, noise=None, delta=1e-5, clip=1.0, n_train=1000, batch_size=10, steps=100)
    assert_install_sentence(exc.value, "opacus", "dp")
    # No DP (epsilon = inf, noise 0) is no accounting: it needs no opacus.
    off = guarantee(epsilon=math.inf, noise=None, delta=1e-5, clip=1.0, n_train=1000, batch_size=10, steps=100)
    assert math.isinf(off.epsilon) and off.noise == 0.0


# -------------------------------------------------------------------- Ray executor

def test_ray_executor_without_ray(monkeypatch):
    from gmia.zoo.executors import LocalExecutor, RayExecutor, make_executor

    hide(monkeypatch, "ray")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with pytest.raises(GmiaError) as exc:
        RayExecutor(address=None)
    assert_install_sentence(exc.value, "ray", "ray")
    assert "Ray executor" in str(exc.value)
    with pytest.raises(GmiaError) as exc:
        make_executor("ray", "local")
    assert_install_sentence(exc.value, "ray", "ray")
    assert isinstance(make_executor("local"), LocalExecutor)


# --------------------------------------------------------------- imports, packaging

@pytest.mark.slow
def test_core_imports_pull_in_no_optional_package():
    code = ("import sys, gmia, gmia.targets, gmia.zoo, gmia.defenses, gmia.serve, gmia.zoo.executors; "
            "print(sorted(m for m in ('fastapi', 'ray', 'opacus', 'uvicorn', 'starlette') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]", out


def test_pyproject_extras():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert extras["serve"] == ["fastapi>=0.110", "uvicorn>=0.29"]
    assert extras["dp"] == ["opacus>=1.5"] and extras["ray"] == ["ray>=2.40"]
    assert extras["onnx"] == ["onnxruntime>=1.17", "skl2onnx>=1.16", "onnx>=1.15"] and extras["boost"] == ["lightgbm>=4.3", "xgboost-cpu>=2.1", "onnxmltools>=1.12"]
    assert extras["all"] == ["gmia[serve,dp,ray,onnx,boost]"] and "dev" in extras
    assert "httpx>=0.27" in project["dependencies"] and "torch==2.13.0" in project["dependencies"]
    requirements = (ROOT / "requirements.txt").read_text().split()
    for package in ("torch==2.13.0", "httpx>=0.27", "fastapi>=0.110", "uvicorn>=0.29", "opacus>=1.5", "ray>=2.40",
                    "lightgbm>=4.3", "xgboost-cpu>=2.1", "onnxmltools>=1.12", "onnxruntime>=1.17", "skl2onnx>=1.16",
                    "onnx>=1.15"):
        assert package in requirements, package
