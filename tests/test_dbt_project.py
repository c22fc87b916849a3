"""The dbt project on real data: every model and test builds, the unit tests pass, and a violated
invariant fails the build with the failing rows kept where an analyst can read them."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import psycopg
import pytest

from liftoff import settings
from liftoff.ingest import land_simulated_day, load_landed_day
from liftoff.localstack.stack import _dbt_profile_env
from liftoff.simulator import SimulatorConfig

DAY = date(2026, 6, 3)
ENTITIES = ("suppliers", "products", "employees", "customers", "sales")


def dbt(warehouse: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **_dbt_profile_env(warehouse)}
    project = str(settings.DBT_PROJECT_DIR)
    command = [
        str(Path(sys.executable).parent / "dbt"), *args,
        "--project-dir", project, "--profiles-dir", project, "--target-path", "target-tests",
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=settings.DBT_PROJECT_DIR)


@pytest.fixture
def loaded(warehouse, lake) -> str:
    config = SimulatorConfig(sales_per_day=80)
    for entity in ENTITIES:
        land_simulated_day(lake, entity, DAY, config, full_refresh=True)
        load_landed_day(warehouse, lake, entity, DAY, run_id="dbt-test")
    return warehouse


def test_the_project_builds_and_its_unit_tests_pass(loaded):
    variables = f'{{"logical_date": "{DAY}"}}'
    built = dbt(loaded, "build", "--exclude-resource-type", "unit_test", "--vars", variables)
    assert built.returncode == 0, built.stdout[-3000:]
    unit = dbt(loaded, "test", "--select", "test_type:unit", "--vars", variables)
    assert unit.returncode == 0, unit.stdout[-3000:]
    assert "PASS=3" in unit.stdout


def test_a_violated_invariant_fails_and_keeps_the_failing_rows(loaded):
    variables = f'{{"logical_date": "{DAY}"}}'
    # A product that bypassed the contracts (written straight into raw) with an unknown category.
    with psycopg.connect(loaded) as conn:
        conn.execute(
            "insert into raw.products (product_id, supplier_id, name, description, categoria, price,"
            " email_fornecedor, created_at, updated_at)"
            " values (999999, 1, 'Pião', 'Um brinquedo', 'Brinquedos', 9.9, 'x@y.com', now(), now())"
        )
    built = dbt(
        loaded, "build", "--exclude-resource-type", "unit_test", "--store-failures", "--vars", variables
    )
    assert built.returncode != 0
    assert "accepted_values_bronze_products_category" in built.stdout
    with psycopg.connect(loaded) as conn:
        [(schema, table)] = conn.execute(
            "select table_schema, table_name from information_schema.tables"
            " where table_name like 'accepted_values_bronze_produc%'"
        ).fetchall()
        failing = conn.execute(f'select * from "{schema}"."{table}"').fetchall()
    assert ("Brinquedos", 1) in [tuple(row) for row in failing]
