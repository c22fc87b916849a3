# LiftOff Data — the no-Docker path. Two commands matter:
#   make demo   run the whole pipeline through Airflow on embedded services
#   make test   lint and run every test
#   make test-fast   the inner loop: lint and the tests that need no service (under 3 minutes)
# Everything else (up, down, warehouse-url, dbt-manifest, lock) is for day-to-day development.

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
# Every Python process we start reads compiled bytecode: the venv's is compiled at install, and
# our own modules' caches are written on first import. Some machines set PYTHONDONTWRITEBYTECODE,
# and then each process (each Airflow task, dbt, the tests) recompiled every module it imported:
# 10 s of a loaded machine's time to import Airflow, Cosmos and dbt, against 5 s from bytecode.
unexport PYTHONDONTWRITEBYTECODE
STACK := $(PY) -m liftoff.devstack
LOCK := requirements.lock
INSTALLED := $(VENV)/.installed
# PyAirbyte's own venv: it pins sqlalchemy, structlog and airbyte-api versions Airflow cannot share
# (include/airbyte/run_source.py runs in it, as a subprocess of the ingest tasks).
AIRBYTE_VENV := .venv-airbyte
AIRBYTE_LOCK := requirements-airbyte.lock
AIRBYTE_INSTALLED := $(AIRBYTE_VENV)/.installed
DBT_DIR := include/dbt
MANIFEST := $(DBT_DIR)/target/manifest.json
DBT_SOURCES := $(shell find $(DBT_DIR)/models $(DBT_DIR)/macros $(DBT_DIR)/tests -type f 2>/dev/null) $(DBT_DIR)/dbt_project.yml

# The first Python 3.11+ on PATH, unless PYTHON is given.
PYTHON ?= $(shell for candidate in python3.13 python3.12 python3.11 python3; do \
	command -v $$candidate >/dev/null 2>&1 && \
	$$candidate -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && \
	{ echo $$candidate; break; }; done)

.PHONY: help install demo test test-tools test-fast lint pytest bench bench-dashboard bench-crm-api up down warehouse-url dbt-manifest lock shell clean \
	docs crm-api-key

help:
	@echo "make demo           run the whole pipeline on embedded services (first run installs)"
	@echo "make test           lint + every test (as CI runs it)"
	@echo "make test-fast      lint + the tests that need no service: Postgres, Airflow, dbt, browser (< 3 min)"
	@echo "make up / down      start / stop Airflow (http://127.0.0.1:8080), Streamlit (:8501), CRM API (:8090),"
	@echo "                    the unsubscribe endpoint (:8765) and the mail outbox (SMTP :8025, .liftoff/outbox)"
	@echo "make shell          a shell in the stack's environment (venv on PATH: airflow, python, dbt)"
	@echo "make crm-api-key NAME=who [SCOPE=admin]  mint a CRM API key (printed once, stored hashed)"
	@echo "make docs           build the documentation site into site/ (mkdocs build --strict)"
	@echo "make warehouse-url  print a libpq URL of the embedded warehouse"
	@echo "make dbt-manifest   rebuild the dbt manifest Cosmos renders from"
	@echo "make bench          every benchmark (BENCH_SIZES=\"100000 1000000\"); results in bench-results/"
	@echo "make bench-dashboard  dashboard render time with BENCH_SALES sales"
	@echo "make bench-crm-api    CRM API writes and reads per second against a minimal reference app"
	@echo "make lock           re-resolve requirements.lock (and requirements-airbyte.lock) after changing a pin"

# --- environment -------------------------------------------------------------------------------
# The venv is ours: a half-made one (no working python) is rebuilt; the lock is applied exactly
# (uv pip sync), and the stamp makes a second run skip all of it.
$(INSTALLED): $(LOCK) pyproject.toml
	@if [ -z "$(PYTHON)" ]; then \
		echo "liftoff: Python 3.11 or newer is required and none was found on PATH;" \
		     "install it, or run with PYTHON=/path/to/python3.11" >&2; exit 2; fi
	@if [ -d $(VENV) ] && ! $(PY) -c 'import sys' >/dev/null 2>&1; then \
		echo "liftoff: $(VENV) is incomplete (no working python); recreating it"; rm -rf $(VENV); fi
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	@$(PY) -m uv --version >/dev/null 2>&1 || $(PY) -m pip install --quiet --disable-pip-version-check "uv==0.13.9"
	$(PY) -m uv pip sync --quiet --compile-bytecode --python $(PY) $(LOCK)
	$(PY) -m uv pip install --quiet --python $(PY) --no-deps --editable .
	@touch $@

# PyAirbyte's venv, from its own lock, the same way (uv from the main venv; no pip in it).
$(AIRBYTE_INSTALLED): $(AIRBYTE_LOCK) $(INSTALLED)
	@if [ -d $(AIRBYTE_VENV) ] && ! $(AIRBYTE_VENV)/bin/python -c 'import sys' >/dev/null 2>&1; then \
		echo "liftoff: $(AIRBYTE_VENV) is incomplete (no working python); recreating it"; rm -rf $(AIRBYTE_VENV); fi
	@[ -x $(AIRBYTE_VENV)/bin/python ] || $(PY) -m uv venv --quiet --python $(PY) $(AIRBYTE_VENV)
	$(PY) -m uv pip sync --quiet --compile-bytecode --python $(AIRBYTE_VENV)/bin/python $(AIRBYTE_LOCK)
	@touch $@

install: $(INSTALLED) $(AIRBYTE_INSTALLED)

$(MANIFEST): $(INSTALLED) $(DBT_SOURCES)
	@cd $(DBT_DIR) && ../../$(VENV)/bin/dbt parse --quiet --profiles-dir . --target prod --target-path target
	@touch $@

dbt-manifest: $(MANIFEST)

lock:
	$(PY) -m uv pip compile requirements-dev.txt --universal --python-version 3.11 \
		--no-header --annotation-style line -o $(LOCK)
	$(PY) -m uv pip compile requirements-airbyte.txt --universal --python-version 3.11 \
		--no-header --annotation-style line -o $(AIRBYTE_LOCK)

# --- the two commands --------------------------------------------------------------------------
# Task logs stay in Airflow's log folder; the terminal shows progress and the summary
# (`make demo VERBOSE=1` prints every task log line too).
DEMO_QUIET := $(if $(VERBOSE),,AIRFLOW__LOGGING__LOGGING_LEVEL=WARNING DBT_QUIET=true)

demo: $(MANIFEST)
	@$(STACK) prepare
	@$(DEMO_QUIET) $(STACK) run -- $(PY) -m liftoff.devstack.demo

test: lint test-tools pytest

# The two system programs the tests drive besides the venv: Debian's chromium (the dashboard's browser
# test) and redis-server (the CeleryExecutor's broker). Missing ones are named here, before the suite.
TEST_TOOLS := chromium redis-server

test-tools:
	@missing=""; for tool in $(TEST_TOOLS); do command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then \
		echo "liftoff: make test needs$$missing on PATH: apt-get install$$missing (Debian/Ubuntu)," \
		     "brew install$$missing (macOS; chromium as a cask)" >&2; exit 2; fi

# The fast tier: tests marked neither `services` nor `slow` (tests/conftest.py); no service starts.
test-fast: lint $(AIRBYTE_INSTALLED)
	LIFTOFF_TEST_TIER=fast $(PY) -m pytest $(PYTEST_ARGS)

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/sqlfluff lint --disable-progress-bar --templater placeholder include/sql
	$(VENV)/bin/sqlfluff lint --disable-progress-bar $(DBT_DIR)/models

# Two pytest-xdist workers by default, a test file each at a time, each with its own embedded
# Postgres and Airflow (tests/conftest.py); TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2
XDIST := $(if $(filter-out 0,$(TEST_WORKERS)),LIFTOFF_TEST_WORKERS=$(TEST_WORKERS),)
XDIST_ARGS := $(if $(filter-out 0,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder,)

pytest: $(MANIFEST) $(AIRBYTE_INSTALLED)
ifeq ($(filter-out 0,$(TEST_WORKERS)),)
	$(PY) -m pytest $(PYTEST_ARGS)
else
	$(XDIST) $(PY) -m pytest $(XDIST_ARGS) -m "not serial" $(PYTEST_ARGS)
	$(PY) -m pytest -m serial $(PYTEST_ARGS)
endif

# --- benchmarks (figures as ratios against a reference measured in the same run) ----------------
# `make bench` runs them all (benchmarks/suite.py) and writes bench-results/summary.{json,md} and
# stages.png; BENCH_SIZES are the pipeline's sizes (the load and transform benchmarks use the largest
# ones): make bench BENCH_SIZES="100000 1000000 10000000" for the 10M run.
BENCH_SIZES ?= 100000 1000000
BENCH_SALES ?= 1000000
BENCH_DAYS ?= 60

# The benchmarks run on a stack of their own (state folder, Postgres, outbox port), never on the
# user's .liftoff nor on a warehouse, metadata DB or SMTP server set in the shell: their Airflow runs
# and Asset events must not reach the Airflow `make up` serves. Stopped when the benchmark ends.
BENCH_STATE ?= $(CURDIR)/.liftoff/bench
BENCH_PG_PORT ?= 55452
BENCH_OUTBOX_PORT ?= 8026
BENCH_STACK := env -u AIRFLOW__DATABASE__SQL_ALCHEMY_CONN -u AIRFLOW_CONN_WAREHOUSE -u AIRFLOW_CONN_CRM \
	-u AIRFLOW_CONN_SMTP_DEFAULT -u AIRFLOW_HOME -u LIFTOFF_LAKE_URL -u LIFTOFF_OUTBOX_DIR -u LIFTOFF_DASHBOARD_URL -u LIFTOFF_ANALYST_URL \
	LIFTOFF_STATE_DIR=$(BENCH_STATE) LIFTOFF_PG_PORT=$(BENCH_PG_PORT) LIFTOFF_OUTBOX_PORT=$(BENCH_OUTBOX_PORT) $(STACK)
# $(call bench_run,COMMAND): COMMAND in the benchmarks' stack, which is stopped afterwards either way.
bench_run = status=0; $(BENCH_STACK) run -- $(1) || status=$$?; $(BENCH_STACK) down >/dev/null; exit $$status

bench: $(MANIFEST) $(AIRBYTE_INSTALLED)
	@$(BENCH_STACK) prepare
	@$(call bench_run,$(PY) -m benchmarks.suite --sizes $(BENCH_SIZES) --transform-days $(BENCH_DAYS))

# The pipeline end to end alone (time and peak memory per stage at each size, the chart).
.PHONY: bench-pipeline
bench-pipeline: $(MANIFEST)
	@$(BENCH_STACK) prepare
	@$(call bench_run,$(PY) -m benchmarks.pipeline --sizes $(BENCH_SIZES))

# Time to the first full render of the dashboard (cold, warm) against the bare SQL of its queries.
bench-dashboard: $(MANIFEST)
	@$(call bench_run,$(PY) -m benchmarks.dashboard --sales $(BENCH_SALES))

# The CRM API's POST /sales and GET /sales/{key} per second (and p99) against a minimal FastAPI +
# psycopg app doing the same insert and lookup, both served alike, in the same run.
bench-crm-api: $(INSTALLED)
	@$(call bench_run,$(PY) -m benchmarks.crm_api)

# One CRM day of BENCH_CRM_RECORDS changes extracted by the Airbyte connector (PyAirbyte, the CRM API)
# against the hand-written SQL extraction, records per second.
.PHONY: bench-crm-extract
BENCH_CRM_RECORDS ?= 20000

bench-crm-extract: $(INSTALLED) $(AIRBYTE_INSTALLED)
	@$(call bench_run,$(PY) -m benchmarks.crm_extract --records $(BENCH_CRM_RECORDS))

# The cross-sell campaign for an audience of BENCH_AUDIENCE (LLM calls vs segments, e-mails/s vs
# a bare smtplib loop on the same local SMTP server, total time).
.PHONY: bench-campaign
BENCH_AUDIENCE ?= 10000

bench-campaign: $(INSTALLED)
	@$(call bench_run,$(PY) -m benchmarks.campaign --audience $(BENCH_AUDIENCE))

# --- development stack -------------------------------------------------------------------------
up: $(MANIFEST)
	@$(STACK) up

down:
	@if [ -x $(PY) ]; then $(STACK) down; else echo "liftoff: nothing to stop (no $(VENV))"; fi

crm-api-key: $(INSTALLED)
	@if [ -z "$(NAME)" ]; then echo "usage: make crm-api-key NAME=<who or what uses the key>" >&2; exit 2; fi
	@$(STACK) run -- $(PY) -m liftoff.apps.crm_api key create "$(NAME)" --scope "$(or $(SCOPE),standard)"

# --- documentation (the data dictionary is generated from the dbt manifest) -----------------------
docs: $(MANIFEST)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

warehouse-url: $(INSTALLED)
	@$(STACK) warehouse-url

# Your shell inside the stack's environment, the venv first on PATH (`airflow`, `python`, `dbt`).
shell: $(INSTALLED)
	@$(STACK) run -- $${SHELL:-/bin/sh}

clean: down
	rm -rf $(VENV) $(AIRBYTE_VENV) .liftoff $(DBT_DIR)/target liftoff_data.egg-info build
