# The two commands every user needs: `make demo` and `make test`. Both bootstrap .venv themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export REVOPS_WAREHOUSE ?= warehouse/revops.duckdb
export REVOPS_STAGE     ?= warehouse/stage
export DBT_PROFILES_DIR := $(CURDIR)/profiles

.PHONY: install demo test test-python test-dbt test-snowflake lint format bench docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,snowflake]'
	@touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/revops demo --scale small

## The whole suite: lint, dbt build (unit + data tests) on a tiny company, the same on the
## Snowflake adapter against a local fakesnow server (parity with DuckDB), then pytest.
test: install lint test-dbt test-snowflake test-python

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test-dbt: install
	$(BIN)/python -m tests.python.dbt_suite

## dbt-snowflake against fakesnow: full + incremental build, parity with DuckDB, sqlglot parse.
test-snowflake: install
	timeout 600 $(BIN)/python -m tests.python.fakesnow_suite

test-python: install
	$(BIN)/pytest -q -n 2

bench: install
	$(BIN)/python -m bench.run --scale medium

docs: install
	cd $(CURDIR) && $(BIN)/dbt docs generate --static --project-dir . --profiles-dir profiles

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf warehouse target logs .pytest_cache .hypothesis
