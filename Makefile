# Each target bootstraps .venv itself: on a fresh clone `make run` and `make test` are enough.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app app
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test setup clean bench-search serve bench-load translations

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

# Production serving with gunicorn (gunicorn.conf.py: WEB_WORKERS, WEB_THREADS, WEB_WORKER_CLASS,
# WEB_TIMEOUT from the environment). Assumes a migrated database: run `flask db upgrade` first.
serve: $(VENV)/.installed
	$(FLASK) search prepare
	HOST=$(HOST) PORT=$(PORT) $(BIN)/gunicorn -c gunicorn.conf.py app:app

# Load benchmark against a hello-world ceiling: make bench-load DOCUMENTS=10000 DATABASE=postgresql
DATABASE ?= sqlite
bench-load: $(VENV)/.installed
	$(BIN)/python -m bench.load --documents $(DOCUMENTS) --database $(DATABASE) $(BENCH_ARGS)

# Interface catalogues: extract every string, merge into each language's .po, compile the .mo
# files (committed, so a fresh clone needs no compile step). Then translate new msgids.
translations: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext -k _l -k lazy_ngettext:1,2 --no-location --sort-output \
		--project "ECHRI Practice Portal" -o portal/translations/messages.pot .
	$(BIN)/pybabel update -i portal/translations/messages.pot -d portal/translations --no-fuzzy-matching
	$(BIN)/pybabel compile -d portal/translations --statistics

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
