"""A library leaves its user's process as it found it: importing gmia and writing a report change
no matplotlib backend or style and no torch thread count (a notebook keeps its own), and results
reach the disk before they take their final name."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from gmia.base import io as gmia_io

NOTEBOOK = textwrap.dedent("""
    import json, pkgutil, importlib, types
    import matplotlib
    matplotlib.use("pdf")  # a notebook's own backend and style
    matplotlib.rcParams["font.size"] = 13.0
    matplotlib.rcParams["svg.fonttype"] = "path"
    import torch
    torch.set_num_threads(3)  # more than gmia's own two: an import that capped it would show
    before = (matplotlib.get_backend(), dict(matplotlib.rcParams), torch.get_num_threads())

    import gmia
    for m in pkgutil.walk_packages(gmia.__path__, "gmia."):
        if m.name.startswith(("gmia.serve", "gmia.cli", "gmia.__main__", "gmia.zoo.ray", "gmia.data.fetch_images")):
            continue  # optional extras and entry points; serve needs fastapi, the CLI is its own process
        importlib.import_module(m.name)

    import numpy as np
    from gmia.report import figures
    from gmia.report.tradeoff import tradeoff_figure
    svg = figures.neighbour_histogram(np.array([0, 1, 3, 40]), 1.0, "title")
    assert 'font-size' in svg or '<text' in svg  # the report's style: text kept as text (svg.fonttype none)
    figures.reference_strips([([0.1, 0.2, 0.3], 0.05, "r")])
    row = types.SimpleNamespace(label="l2=0", test_accuracy=0.9, roc={"auc": 0.6, "tpr_at_fpr_0.001": 0.01},
                                baseline_records={"precision": 0.7})
    result = types.SimpleNamespace(config={"cutoff": 0.01}, rows=[row], dataset="cancer")
    tradeoff_figure(result, OUT)

    after = (matplotlib.get_backend(), dict(matplotlib.rcParams), torch.get_num_threads())
    changed = sorted(k for k in before[1] if before[1][k] != after[1][k] and k != "backend")
    print(json.dumps({"backend": [before[0], after[0]], "changed": changed, "threads": [before[2], after[2]]}))
""")


@pytest.mark.slow
def test_importing_gmia_and_writing_a_report_change_no_global_state(tmp_path):
    code = f"OUT = {str(tmp_path)!r}\n" + NOTEBOOK
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    import json

    state = json.loads(proc.stdout.strip().splitlines()[-1])
    assert state["backend"][0] == state["backend"][1] == "pdf"
    assert state["changed"] == []
    assert state["threads"] == [3, 3]
    assert (tmp_path / "tradeoff.png").stat().st_size > 0 and (tmp_path / "tradeoff.svg").stat().st_size > 0


def test_a_result_reaches_the_disk_before_its_rename(tmp_path, monkeypatch):
    calls = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(gmia_io.os, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(gmia_io.os, "replace", lambda a, b: (calls.append("replace"), real_replace(a, b))[1])
    path = Path(tmp_path) / "results.json"
    gmia_io.atomic_write_json(path, {"x": np.float64(1.5).item()})
    # The file's bytes before the rename, the folder's entry after it.
    assert calls == ["fsync", "replace", "fsync"]
    assert path.read_text().strip().startswith("{") and not list(tmp_path.glob(".*.tmp"))
