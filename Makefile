# The two commands of the README: `make run` (the app on SQLite with demo data) and
# `make test` (the suite). Each creates the virtual environment from nothing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export FLASK_APP := tracker
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test test-postgres lint format bench clean translations

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	$(BIN)/pybabel compile --use-fuzzy -d tracker/translations  # the app also compiles a stale catalogue at startup
	touch $@

run: export TWO_FACTOR_REQUIRED ?= 0
run: $(VENV)/.installed
	$(BIN)/flask db upgrade
	$(BIN)/flask seed-demo
	$(BIN)/flask run --host $(HOST) --port $(PORT)

test: $(VENV)/.installed
	$(BIN)/pytest $(PYTEST_ARGS)

test-postgres: $(VENV)/.installed
	TEST_DATABASE_URL=$${TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/postgres} \
		$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check tracker tests bench migrations config.py
	$(BIN)/ruff format --check tracker tests bench migrations config.py

format: $(VENV)/.installed
	$(BIN)/ruff format tracker tests bench migrations config.py

# After changing marked strings: extract them, merge them into every catalogue, then
# translate the new entries (README, "Languages") and run `make test` (it fails on any left).
translations: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
		--project "Clemency Tracker" -o tracker/translations/messages.pot .
	$(BIN)/pybabel update --omit-header -i tracker/translations/messages.pot \
		-d tracker/translations
	$(BIN)/pybabel compile --use-fuzzy -d tracker/translations  # no header (--omit-header), so babel calls the catalogue fuzzy; no entry is (tests/test_i18n.py)

bench: $(VENV)/.installed
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) instance/tracker.sqlite3* .pytest_cache tests/artifacts
	rm -f tracker/translations/*/LC_MESSAGES/*.mo
