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

## The whole suite: lint; then, side by side (two cores), dbt build (unit + data tests) of a
## tiny company on DuckDB and on the Snowflake adapter against a local fakesnow server (parity
## between them), and the Airflow checks in their own venvs (Airflow 3.3 and 2.11); then pytest.
## `make test-dbt` alone is the DuckDB half of test-snowflake.
test: install lint
	$(MAKE) --no-print-directory -j2 --output-sync=target test-snowflake test-airflow
	$(MAKE) --no-print-directory test-python

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test-dbt: install
	$(BIN)/python -m tests.python.dbt_suite

## dbt-snowflake against fakesnow: full + incremental build, parity with DuckDB, sqlglot parse.
test-snowflake: install
	timeout 1200 $(BIN)/python -m tests.python.fakesnow_suite

test-python: install
	$(BIN)/pytest -q -n 2 --dist worksteal --durations=25

# make bench SCALE=small|medium|large; BENCH_ARGS for the rest (e.g. --salesforce-scale none,
# --topics admin.membership.v1). large takes ~15 minutes to generate and more disk than 78 GB.
SCALE ?= medium
BENCH_ARGS ?=
bench: install
	$(BIN)/python -u -m bench.run --scale $(SCALE) $(BENCH_ARGS)

docs: install
	cd $(CURDIR) && $(BIN)/dbt docs generate --static --project-dir . --profiles-dir profiles

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf warehouse target logs .pytest_cache .hypothesis

## Airflow (issue 10): its own venvs, since Airflow's pins and dbt-core 1.11's differ
## (dags/README.md). The DAG tasks call .venv/bin/revops and Cosmos calls .venv/bin/dbt.
AIRFLOW_VENV   := .venv-airflow
AIRFLOW_BIN    := $(AIRFLOW_VENV)/bin
AIRFLOW_STAMP  := $(AIRFLOW_VENV)/.installed-stamp
AIRFLOW2_VENV  := .venv-airflow2
AIRFLOW2_STAMP := $(AIRFLOW2_VENV)/.installed-stamp
AIRFLOW_REQ    := dags/requirements
AIRFLOW_LOCAL_HOME ?= $(CURDIR)/target/airflow
AIRFLOW_PORT   ?= 8080
# OpenLineage events of every task run, one JSON per line (dags/README.md: point it at Marquez
# with {"type": "http", "url": "http://localhost:5000"}).
OPENLINEAGE_TRANSPORT ?= {"type": "file", "log_file_path": "$(CURDIR)/target/openlineage/events.jsonl", "append": true}

# The manifest Cosmos renders the dbt task groups from (so DAG parsing never runs dbt).
AIRFLOW_MANIFEST := $(BIN)/dbt parse --quiet --project-dir . --profiles-dir profiles \
	--target-path target/cosmos --log-path target/cosmos/logs

.PHONY: airflow-install test-airflow airflow chromium bench-airflow

$(AIRFLOW_STAMP): $(AIRFLOW_REQ)/airflow.txt $(AIRFLOW_REQ)/airflow-constraints.txt
	$(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_BIN)/python -m pip install --quiet --upgrade pip
	$(AIRFLOW_BIN)/python -m pip install --quiet -r $(AIRFLOW_REQ)/airflow.txt \
		-c $(AIRFLOW_REQ)/airflow-constraints.txt
	@touch $@

$(AIRFLOW2_STAMP): $(AIRFLOW_REQ)/airflow2.txt $(AIRFLOW_REQ)/airflow2-constraints.txt
	$(PYTHON) -m venv $(AIRFLOW2_VENV)
	$(AIRFLOW2_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(AIRFLOW2_VENV)/bin/python -m pip install --quiet -r $(AIRFLOW_REQ)/airflow2.txt \
		-c $(AIRFLOW_REQ)/airflow2-constraints.txt
	@touch $@

airflow-install: $(AIRFLOW_STAMP)

## Debian's chromium and chromedriver for the Airflow UI check (tests/airflow/test_local_airflow.py).
chromium:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
		echo "installing Debian's chromium and chromium-driver"; \
		$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq && \
		$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi

## DagBag integrity, alerts, backfill params on Airflow 3.x, then the DagBag test on 2.11.
test-airflow: install $(AIRFLOW_STAMP) $(AIRFLOW2_STAMP) chromium
	$(AIRFLOW_MANIFEST)
	$(AIRFLOW_BIN)/python -m pytest -q -p no:cacheprovider --durations=15 tests/airflow
	$(AIRFLOW2_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/airflow/test_dagbag.py

## Freshness of the micro-batch loop on a running scheduler (1-minute cadence, 24 events, ~15 min):
## event produced to Kafka -> visible in the bridge, p50/p95, and the scheduler's task start latency.
bench-airflow: install $(AIRFLOW_STAMP)
	$(AIRFLOW_MANIFEST)
	$(BIN)/python -m bench.airflow_freshness --events 24 --interval 31 --minutes 1

## A local Airflow (standalone: api-server, scheduler, dag-processor, triggerer) on SQLite with
## the project's DAGs; prints the URL and the login. AIRFLOW_LOCAL_HOME/AIRFLOW_PORT override.
airflow: install $(AIRFLOW_STAMP)
	$(AIRFLOW_MANIFEST)
	@mkdir -p $(AIRFLOW_LOCAL_HOME) target/openlineage
	@export AIRFLOW_HOME=$(AIRFLOW_LOCAL_HOME) AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/dags \
		AIRFLOW__OPENLINEAGE__NAMESPACE=revops AIRFLOW__OPENLINEAGE__TRANSPORT='$(OPENLINEAGE_TRANSPORT)' \
		AIRFLOW__CORE__LOAD_EXAMPLES=false AIRFLOW__API__PORT=$(AIRFLOW_PORT) \
		AIRFLOW__CORE__EXECUTION_API_SERVER_URL=http://localhost:$(AIRFLOW_PORT)/execution/ \
		AIRFLOW__COSMOS__ENABLE_TELEMETRY=False AIRFLOW__USAGE_DATA_COLLECTION__ENABLED=False \
		DO_NOT_TRACK=1 SCARF_NO_ANALYTICS=true \
		REVOPS_WAREHOUSE=$(abspath $(REVOPS_WAREHOUSE)) REVOPS_STAGE=$(abspath $(REVOPS_STAGE)) \
		PATH="$(CURDIR)/$(AIRFLOW_BIN):$$PATH"; \
	$(AIRFLOW_BIN)/airflow db migrate >/dev/null && \
	$(AIRFLOW_BIN)/airflow pools set revops_warehouse 1 "one DuckDB writer" >/dev/null && \
	$(AIRFLOW_BIN)/airflow pools set salesforce_api 2 "concurrent Salesforce API use" >/dev/null && \
	echo "Airflow UI: http://localhost:$(AIRFLOW_PORT)  (AIRFLOW_HOME=$(AIRFLOW_LOCAL_HOME))" && \
	echo "Login: user 'admin', password in $(AIRFLOW_LOCAL_HOME)/simple_auth_manager_passwords.json.generated (written at first start)" && \
	exec $(AIRFLOW_BIN)/airflow standalone
