# Two commands matter: `make book` (build the book) and `make test` (run every test).
# Both create or reuse the virtual environment in $(VENV) and install what they need.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU wheel of torch; pyproject.toml asks only for a range it satisfies, so pip never pulls
# a multi-GB CUDA build on a CPU-only machine. Override, e.g. TORCH='torch==2.13.0+cu126'.
TORCH ?= torch==2.13.0
EXTRAS ?= book,test,browser,sweep,device
STAMP := $(VENV)/.installed

# The data directory: $EODREC_DATA if set, else ../shared/datasets when present, else ./data.
SHARED_DATA := $(wildcard ../shared/datasets)
EODREC_DATA ?= $(abspath $(if $(SHARED_DATA),$(SHARED_DATA),data))
export EODREC_DATA
# The book's profile: $EODREC_PROFILE if set, else quick where the real data is present, else
# smoke (eodrec.config.default_profile: the CLI and the notebooks follow the same rule).
MATHJAX := book/_extra/mathjax
THEBE := book/_extra/thebe

.PHONY: help install test lint book serve check-book data clean

help:
	@echo "make book        build the book into book/_build/html (EODREC_PROFILE=smoke for toy data)"
	@echo "make test        pytest on the library, nbval on the notebooks (smoke profile)"
	@echo "make serve       serve the built book on 127.0.0.1:8000 with a local kernel for Live code"
	@echo "make check-book  check the built book in headless Chromium (offline, MathJax, tables)"
	@echo "make data        download the datasets into ./data (sha256-verified)"
	@echo "make lint        ruff"

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $(STAMP)

test: install
	$(PY) -m pytest tests
	EODREC_PROFILE=smoke $(PY) -m pytest --nbval-lax --nbval-cell-timeout=3600 notebooks

lint: install
	$(VENV)/bin/ruff check eodrec tests
	$(VENV)/bin/ruff format --check eodrec tests

$(MATHJAX)/tex-chtml.js: tools/fetch_js.sh
	bash tools/fetch_js.sh mathjax $(MATHJAX)

$(THEBE)/index.js: tools/fetch_js.sh
	bash tools/fetch_js.sh thebe $(THEBE)

book: install $(MATHJAX)/tex-chtml.js $(THEBE)/index.js
	$(PY) -m eodrec book build

serve: install
	$(PY) -m eodrec book serve

check-book: install
	$(PY) tests/browser/check_book.py book/_build/html --toc book/_toc.yml --json book/_build/book-check.json --live notebooks/02_compression.html

data: install
	$(PY) -m eodrec data download --dest data

clean:
	rm -rf book/_build book/notebooks
