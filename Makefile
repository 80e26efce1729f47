# The two commands: `make demo` (set up and run on SQLite with bundled samples, mail to
# files) and `make test` (set up and pass the whole suite). Both create .venv themselves.
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin

.PHONY: setup demo run test test-fast bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,fast]'
	touch $@

setup: $(BIN)/.installed

demo: setup
	$(BIN)/budbringer demo

run: setup
	$(BIN)/budbringer db upgrade && $(BIN)/budbringer run

test: setup
	bash scripts/test-prereqs.sh
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

# Everything but the browser and PostgreSQL: a quick loop while working.
test-fast: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -m "not browser and not postgres"

bench: setup
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) var .pytest_cache
