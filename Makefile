# Two entry points: `make book` (the main job) and `make test` (every test).
# Both create .venv and install what is missing, so a fresh clone needs nothing by hand.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROFILE ?= cpu
PRUNEKIT_DATA ?= $(CURDIR)/data
export PRUNEKIT_DATA

.PHONY: venv test test-unit book book-build browser-check bench run clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest tests -q
	PRUNEKIT_PROFILE=smoke $(BIN)/python -m pytest --nbval-lax notebooks -q -p no:cacheprovider

test-unit: $(STAMP)
	$(BIN)/python -m pytest tests -q

book: $(STAMP)
	$(BIN)/python -m prunekit.book execute --profile $(PROFILE)
	$(BIN)/jupyter-book build book/ --warningiserror --keep-going

book-build: $(STAMP)
	$(BIN)/jupyter-book build book/

browser-check: $(STAMP)
	$(BIN)/python tests/browser_check.py _build/html

bench: $(STAMP)
	$(BIN)/prunekit bench

run: $(STAMP)
	$(BIN)/prunekit run --model mlp5 --dataset mnist --criterion snip-it --sparsity 0.98 --epochs 10 --seed 0

clean:
	rm -rf _build .pytest_cache
