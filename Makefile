# Every target bootstraps its own environment: .venv with the project and its test extra.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: figures check test test-slow bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

figures: $(STAMP)
	$(BIN)/multispin figures --out build/figures

check: $(STAMP)
	$(BIN)/multispin check

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_homogeneous.py
	$(BIN)/python benchmarks/bench_heterogeneous.py
	$(BIN)/python benchmarks/bench_sweep.py

clean:
	rm -rf $(VENV) build .pytest_cache .hypothesis
