# `make demo` and `make test` work on a fresh machine: each creates the environment first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# At most two torch threads on these 2-core machines.
export OMP_NUM_THREADS ?= 2
export MKL_NUM_THREADS ?= 2

.PHONY: demo test test-fast install browser docs clean bench

$(BIN)/gmia: pyproject.toml requirements.txt requirements-dev.txt requirements-oracles.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	$(BIN)/pip install -q --no-deps -r requirements-oracles.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $(BIN)/gmia

install: $(BIN)/gmia

demo: install
	$(BIN)/gmia reproduce table1 --dataset cancer --out runs/demo

# The report test opens report.html in headless Chromium (Debian's package; root on these machines).
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
		|| echo "chromium could not be installed: the report's browser test will be skipped"

# The documentation site (mkdocs.yml, docs/), built strictly: a broken link or anchor, or a bad API
# reference, fails. No --quiet: in mkdocs 1.6 it hides the warnings from --strict too, and the build passes.
docs: install
	$(BIN)/mkdocs build --strict --site-dir site

test: install browser docs
	$(BIN)/python -m pytest -q

# The loop while you work: every test that trains no models and runs no whole command (well
# under a minute). `make test` runs them all, with the docs build and the browser check.
test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

bench: install
	$(BIN)/python benchmarks/protocol.py --baseline
	$(BIN)/python benchmarks/train_throughput.py
	$(BIN)/python benchmarks/pvalues.py
	$(BIN)/python benchmarks/http_serving.py
	$(BIN)/python benchmarks/dp_throughput.py
	$(BIN)/python benchmarks/reference_curve.py

clean:
	rm -rf $(VENV) runs .gmia-cache test-artifacts site
