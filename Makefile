# Each target bootstraps .venv itself: on a fresh clone `make run` and `make test` are enough.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app app
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test setup clean bench-search

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall when pyproject.toml changes; the stamp files record the last install.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

setup: $(VENV)/.installed
	$(FLASK) db upgrade
	$(FLASK) content load
	$(FLASK) demo accounts

run: setup
	$(FLASK) run --host $(HOST) --port $(PORT)

test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Search benchmark against SQLite FTS5 in the same run: make bench-search DOCUMENTS=50000
DOCUMENTS ?= 10000
bench-search: $(VENV)/.installed
	$(BIN)/python -m bench.search --documents $(DOCUMENTS)

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
