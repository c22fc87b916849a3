"""The dbt project on real data: every model and test builds, the unit tests pass, and a violated
invariant fails the build with the failing rows kept where an analyst can read them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest

from liftoff import settings
from liftoff.ingest.daily import land_simulated_day, load_landed_day
from liftoff.ingest.simulator import SimulatorConfig
from liftoff.transform.dbt_runner import profile_env
from tests.warehouses import DBT_TARGET_PATH

DAY = date(2026, 6, 3)
ENTITIES = ("suppliers", "products", "employees", "customers", "sales")


def dbt(warehouse: str, *args: str, target: str | None = settings.DBT_TARGET) -> subprocess.CompletedProcess:
    env = {**os.environ, **profile_env(warehouse)}
    # Cosmos runs dbt in-process with the DAG's env (DBT_EXCLUDE_RESOURCE_TYPES=unit_test) and
    # leaves it in os.environ after a dag.test; these commands say what they exclude themselves.
    env.pop("DBT_EXCLUDE_RESOURCE_TYPES", None)
    project = str(settings.DBT_PROJECT_DIR)
    chosen = ("--target", target) if target else ()  # None: the profile's default target
    command = [
        str(Path(sys.executable).parent / "dbt"), *args,
        "--project-dir", project, "--profiles-dir", project, *chosen, "--target-path", DBT_TARGET_PATH,
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
    assert "PASS=6" in unit.stdout


def relations_by_schema(dsn: str) -> dict[str, dict[str, int]]:
    """{schema: {relation: oid}} of the dbt layers, real and prefixed (an oid changes when dbt
    re-creates a table, so equal oids mean untouched)."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "select n.nspname, c.relname, c.oid::bigint from pg_class as c"
            " join pg_namespace as n on n.oid = c.relnamespace"
            " where c.relkind in ('r', 'v') and n.nspname ~ '(^|_)(bronze|silver|gold|audit)$'"
        ).fetchall()
    found: dict[str, dict[str, int]] = {}
    for schema, name, oid in rows:
        found.setdefault(schema, {})[name] = oid
    return found


def test_a_developer_build_writes_prefixed_schemas_and_leaves_production_untouched(loaded, monkeypatch):
    """`dbt build` with the profile's default target (dev, as run by hand in `make shell`) writes
    dev_bronze/dev_silver/dev_gold/dev_audit; gold, silver and bronze keep their tables and rows.
    Before, every target wrote the real layer schemas: a hand-run build replaced gold."""
    variables = f'{{"logical_date": "{DAY}"}}'
    production = dbt(loaded, "build", "--exclude-resource-type", "unit_test", "--vars", variables)
    assert production.returncode == 0, production.stdout[-3000:]
    before = relations_by_schema(loaded)
    assert {"bronze", "silver", "gold"} <= set(before)
    with psycopg.connect(loaded) as conn:
        gold_sales = conn.execute("select * from gold.daily_sales order by sale_date").fetchall()

    developer = dbt(loaded, "build", "--exclude-resource-type", "unit_test", "--vars", variables, target=None)
    assert developer.returncode == 0, developer.stdout[-3000:]
    after = relations_by_schema(loaded)
    for schema in ("bronze", "silver", "gold"):
        assert after[schema] == before[schema], f"{schema} was rebuilt by a dev build"
        assert set(after[f"dev_{schema}"]) == set(before[schema]), f"dev_{schema} lacks relations"
    with psycopg.connect(loaded) as conn:
        assert conn.execute("select * from gold.daily_sales order by sale_date").fetchall() == gold_sales
        assert conn.execute("select * from dev_gold.daily_sales order by sale_date").fetchall() == gold_sales
    # A developer's own schema prefix (LIFTOFF_DBT_SCHEMA), and production's names, as dbt resolves them.
    monkeypatch.setenv("LIFTOFF_DBT_SCHEMA", "dev_ana")
    assert model_schemas(loaded, target="dev") == {"dev_ana_bronze", "dev_ana_silver", "dev_ana_gold"}
    assert model_schemas(loaded, target=settings.DBT_TARGET) == {"bronze", "silver", "gold"}


def model_schemas(dsn: str, target: str) -> set[str]:
    listed = dbt(dsn, "ls", "--quiet", "--resource-type", "model", "--output", "json",
                 "--output-keys", "name", "schema", target=target)  # fmt: skip
    assert listed.returncode == 0, listed.stdout[-3000:]
    return {json.loads(line)["schema"] for line in listed.stdout.splitlines() if line.startswith("{")}


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


def test_a_sale_re_dated_by_its_source_fails_the_build_naming_the_key(loaded):
    day_after = DAY + timedelta(days=1)
    first = dbt(
        loaded, "build", "--exclude-resource-type", "unit_test", "--vars", f'{{"logical_date": "{DAY}"}}'
    )
    assert first.returncode == 0, first.stdout[-3000:]
    # The source sends sale 1 again, now dated the next day (straight into raw, past the contracts).
    with psycopg.connect(loaded) as conn:
        conn.execute(
            "create temp table resent as"
            " select * from raw.sales where sale_id = (select min(sale_id) from raw.sales)"
        )
        conn.execute(
            "update resent set date = date + interval '1 day',"
            " _airbyte_extracted_at = _airbyte_extracted_at + interval '1 day'"
        )
        [sale_id] = conn.execute("insert into raw.sales select * from resent returning sale_id").fetchone()
    second = dbt(
        loaded,
        "build",
        "--exclude-resource-type",
        "unit_test",
        "--vars",
        f'{{"logical_date": "{day_after}"}}',
    )
    assert second.returncode != 0
    assert f"Key (sale_id)=({sale_id}) already exists" in second.stdout
