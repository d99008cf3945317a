# Two entry points: `make book` (the main job) and `make test` (every test).
# Both create .venv and install what is missing, so a fresh clone needs nothing by hand.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROFILE ?= cpu
PRUNEKIT_DATA ?= $(CURDIR)/data
export PRUNEKIT_DATA

.PHONY: venv chromium test test-unit test-notebooks test-fast gpu-check book book-build book-smoke browser-check browser-test bench run clean store-coverage

# The smoke book: every notebook executed with the smoke profile into a copy of book/, built apart from
# the committed pages, then opened in headless Chromium (installed by scripts/ensure_chromium.sh when missing).
SMOKE := _build/smoke

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

# Debian's Chromium for the browser check: installed with apt-get (root or sudo), else a clear error naming the fix.
chromium:
	@bash scripts/ensure_chromium.sh

# The three suites (pytest, nbval, the smoke book) run side by side, one torch thread each, and -O prints each
# suite's output whole when it ends. Each is mostly interpreter and kernel start-up and small models, which a
# second thread barely speeds up, so on two cores this takes about half the serial time.
test: $(STAMP) chromium
	OMP_NUM_THREADS=1 $(MAKE) -j3 -O test-notebooks test-unit book-smoke
	$(BIN)/python tests/browser_check.py $(SMOKE)/_build/html --shots $(SMOKE)/shots

test-unit: $(STAMP)
	$(BIN)/python -m pytest tests -q

# nbval: every notebook executed with the smoke profile, its NBVAL_CHECK_OUTPUT cells compared.
test-notebooks: $(STAMP)
	PRUNEKIT_PROFILE=smoke $(BIN)/python -m pytest --nbval-lax notebooks -q -p no:cacheprovider

# The inner loop: every test but the slow ones (real training for tens of seconds).
test-fast: $(STAMP)
	$(BIN)/python -m pytest tests -q -m "not slow"

# The CUDA paths on a real card (bench table, AMP, peak memory, a Table 3 row, the gpu-marked tests), a few
# minutes; without a GPU it says so and succeeds.
gpu-check: $(STAMP)
	$(BIN)/python scripts/gpu_check.py

# `make book` builds the committed book from the committed store and trains nothing (a missing record stops it,
# naming the run); `make book TRAIN=1` trains what the store lacks.
book: $(STAMP)
	PRUNEKIT_NO_TRAIN=$(if $(TRAIN),0,1) $(BIN)/python -m prunekit.paper.book execute --profile $(PROFILE)
	$(BIN)/jupyter-book build book/ --warningiserror --keep-going
	@$(BIN)/python -m prunekit.paper.book summary

# Every chapter's grid against the committed store (a dry run, nothing trained): requested, stored, missing, stale.
store-coverage: $(STAMP)
	$(BIN)/python -m prunekit.paper.coverage --profile $(PROFILE)

book-build: $(STAMP)
	$(BIN)/jupyter-book build book/

browser-check: $(STAMP)
	$(BIN)/python tests/browser_check.py _build/html

book-smoke: $(STAMP)
	rm -rf $(SMOKE) && mkdir -p $(SMOKE) && cp -r book $(SMOKE)/book
	PRUNEKIT_PROFILE=smoke $(BIN)/python -m prunekit.paper.book execute --profile smoke --book-dir $(SMOKE)/book
	$(BIN)/jupyter-book build $(SMOKE)/book --config _config.yml --path-output $(SMOKE) --warningiserror --keep-going

browser-test: chromium book-smoke
	$(BIN)/python tests/browser_check.py $(SMOKE)/_build/html --shots $(SMOKE)/shots

bench: $(STAMP)
	$(BIN)/prunekit bench

run: $(STAMP)
	$(BIN)/prunekit run --model mlp5 --dataset mnist --criterion snip-it --sparsity 0.98 --epochs 10 --seed 0

clean:
	rm -rf _build .pytest_cache
