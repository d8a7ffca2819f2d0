"""docs/example-adult.md runs as written, at a small size: its K and ITERATIONS are lowered, nothing else.

The page trains a HistGradientBoosting target on Adult, audits it in process (references
matched to the estimator by default), serves its ONNX file with `gmia serve` and audits it
again over HTTP. At the page's sizes that takes minutes; CI runs it with 8 references of 10
boosting iterations, which exercises every line the same way.
"""

from __future__ import annotations

import re

import pytest

from test_docs import DOCS, explain, python_blocks, run_python

SMALL = {"K": 8, "ITERATIONS": 10}


@pytest.mark.slow
def test_the_worked_example_runs_at_a_small_size(tmp_path):
    code = "\n".join(python_blocks((DOCS / "example-adult.md").read_text(encoding="utf-8")))
    for name, value in SMALL.items():
        code, n = re.subn(rf"^{name} = \d+", f"{name} = {value}", code, flags=re.M)
        assert n == 1, f"the page no longer sets {name} on a line of its own"
    proc = run_python(code, tmp_path)
    assert proc.returncode == 0, explain(proc, code)
    out = proc.stdout
    assert "HistGradientBoostingClassifier trained on 10000 records" in out, explain(proc, code)
    assert "matched: the references are clones of the target's own estimator" in out, explain(proc, code)
    assert "matched: the references are the estimator recorded in the file the service at" in out, explain(proc, code)
    assert "same verdicts: True" in out, explain(proc, code)
