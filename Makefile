# Two entry points: `make book` (the main job) and `make test` (every test).
# Both create .venv and install what is missing, so a fresh clone needs nothing by hand.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROFILE ?= cpu
PRUNEKIT_DATA ?= $(CURDIR)/data
export PRUNEKIT_DATA

.PHONY: venv test test-unit test-fast gpu-check book book-build book-smoke browser-check browser-test bench run clean

# The smoke book: every notebook executed with the smoke profile into a copy of book/, built apart from
# the committed pages, then opened in headless Chromium (CI installs Debian's chromium in .ci/run).
SMOKE := _build/smoke

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest tests -q
	PRUNEKIT_PROFILE=smoke $(BIN)/python -m pytest --nbval-lax notebooks -q -p no:cacheprovider
	$(MAKE) browser-test

test-unit: $(STAMP)
	$(BIN)/python -m pytest tests -q

# The inner loop: every test but the slow ones (real training for tens of seconds).
test-fast: $(STAMP)
	$(BIN)/python -m pytest tests -q -m "not slow"

# The CUDA paths on a real card (bench table, AMP, peak memory, a Table 3 row, the gpu-marked tests), a few
# minutes; without a GPU it says so and succeeds.
gpu-check: $(STAMP)
	$(BIN)/python scripts/gpu_check.py

book: $(STAMP)
	$(BIN)/python -m prunekit.book execute --profile $(PROFILE)
	$(BIN)/jupyter-book build book/ --warningiserror --keep-going

book-build: $(STAMP)
	$(BIN)/jupyter-book build book/

browser-check: $(STAMP)
	$(BIN)/python tests/browser_check.py _build/html

book-smoke: $(STAMP)
	rm -rf $(SMOKE) && mkdir -p $(SMOKE) && cp -r book $(SMOKE)/book
	PRUNEKIT_PROFILE=smoke $(BIN)/python -m prunekit.book execute --profile smoke --book-dir $(SMOKE)/book
	$(BIN)/jupyter-book build $(SMOKE)/book --config _config.yml --path-output $(SMOKE) --warningiserror --keep-going

browser-test: book-smoke
	@command -v chromium >/dev/null || { echo "browser-test needs Chromium: apt-get install chromium"; exit 1; }
	$(BIN)/python tests/browser_check.py $(SMOKE)/_build/html --shots $(SMOKE)/shots

bench: $(STAMP)
	$(BIN)/prunekit bench

run: $(STAMP)
	$(BIN)/prunekit run --model mlp5 --dataset mnist --criterion snip-it --sparsity 0.98 --epochs 10 --seed 0

clean:
	rm -rf _build .pytest_cache
