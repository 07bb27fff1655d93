# Every target bootstraps its own environment: .venv with the project and the extras it needs
# (test for everything; docs for `make docs`; dev for `make lint`).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: figures check test test-slow bench docs lint wheel mutate clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

$(VENV)/.docs: $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,docs]'
	touch $@

$(VENV)/.mutate: $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,mutate]'
	touch $@

$(VENV)/.dev: $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,dev]'
	touch $@

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
	$(BIN)/python benchmarks/bench_differentiable.py

# The docs site: warnings are errors; the figure gallery and the tutorial are generated at
# build time into docs/generated/ (not committed). Output: build/docs/index.html.
docs: $(VENV)/.docs
	$(BIN)/sphinx-build -W --keep-going -q -b html docs build/docs

# ruff (rules in pyproject.toml) and mypy on theory and numerics, both reported; the first step of .ci/run.
lint: $(VENV)/.dev
	status=0; $(BIN)/ruff check . || status=1; $(BIN)/mypy || status=1; exit $$status

# Mutation testing of the core numerics modules (cosmic-ray, in a copy of the committed tree; slow,
# not part of CI): a seeded sample of mutants per module, before/after issue 11's tests -> build/mutate/report.md
mutate: $(VENV)/.mutate
	nice -n 10 $(BIN)/python mutation/run.py $(MUTATE_ARGS)

# The wheel users install (dist/multispin-VERSION-py3-none-any.whl), built from a clean build
# folder: setuptools copies the packages into build/lib and does not delete what an earlier
# build left there, so a module deleted since would still ship (.ci/check_wheel.py also refuses
# any packaged file that git does not track).
wheel: $(STAMP)
	rm -rf build/lib build/bdist.* dist
	$(BIN)/pip wheel --quiet --no-deps --wheel-dir dist .

clean:
	rm -rf $(VENV) build dist docs/generated .pytest_cache .hypothesis
