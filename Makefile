# One entry point: `make book` builds the executed book, `make test` runs every test. Both set up .venv first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PIP_CONSTRAINT := $(CURDIR)/constraints.txt
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup book book-quick test test-fast lab bench data clean lock

setup: $(STAMP)

# torch first (the CPU wheel on disk), pinned by constraints.txt for every later install; then exactly the versions
# of requirements.lock (every package pinned and hash-checked); then the project itself, without dependencies.
$(STAMP): pyproject.toml constraints.txt requirements.lock
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	@if $(BIN)/pip list 2>/dev/null | grep -qi '^nvidia-'; then echo "CUDA packages crept in: see pip list" >&2; exit 1; fi
	$(BIN)/python -m replication data
	touch $(STAMP)

book: $(STAMP)
	$(BIN)/python -m replication book

book-quick: $(STAMP)
	$(BIN)/python -m replication book --quick

test: $(STAMP)
	$(BIN)/python -m pytest -q -ra

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

data: $(STAMP)

clean:
	rm -rf _build results

# Re-resolve pyproject.toml's dependencies to the newest allowed versions, pinned with hashes, into requirements.lock
# (pip-tools in a throw-away environment, so that it never enters the project's). Review the diff, then `make test`.
lock:
	rm -rf $(VENV)-lock && $(PYTHON) -m venv $(VENV)-lock
	$(VENV)-lock/bin/pip install --quiet pip-tools
	$(VENV)-lock/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
		--no-emit-find-links --output-file requirements.lock pyproject.toml
	rm -rf $(VENV)-lock

