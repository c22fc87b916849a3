"""Hostile input through the real ingestion path: every record loaded or quarantined with a reason.

The corpus (`tests/hostile_records.py`) is landed as Parquet beside a day the warehouse already
holds, then loaded by `load_landed_day` (and, in the last test, by the `ingest_crm` DAG run by
Airflow). Each case is checked on its own (one test per case id): loaded records hold their values
verbatim, quarantined ones name the expected field with a reason and keep their payload; records
in = loaded + quarantined; the injection strings stayed data; nothing else in the warehouse moved.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg import sql

from liftoff.contracts import CONTRACTS, ENTITIES
from liftoff.ingest.daily import LoadSummary, land_simulated_day, load_landed_day
from liftoff.ingest.simulator import SimulatorConfig, activity, snapshot
from liftoff.ingest.sources import SIMULATOR_ENV, simulator_variable
from tests import hostile_records
from tests.hostile_records import CASES, LOADED, HostileCase, HostileRecord

# One load of a whole hostile corpus into a scratch warehouse: needs the embedded Postgres.
pytestmark = pytest.mark.services

FIRST, HOSTILE = date(2026, 4, 14), date(2026, 4, 15)
CONFIG = SimulatorConfig(sales_per_day=30, dirty_rate=0.0, seed=11)


def base_records(day: date, config: SimulatorConfig) -> dict[str, dict[str, Any]]:
    """A valid record per entity from the day the warehouse already holds: what each case alters."""
    tables = {entity: snapshot(entity, day, config) for entity in ENTITIES if entity != "sales"}
    tables["sales"] = activity("sales", day, config)
    return {entity: table.slice(0, 1).to_pylist()[0] for entity, table in tables.items()}


def warehouse_state(dsn: str, day: date) -> dict[str, tuple[int, str]]:
    """Row count and checksum of every table in the warehouse, leaving out `day`'s raw partitions,
    quarantine entries and load-ledger rows: the only rows a load of `day` may change."""
    with psycopg.connect(dsn) as conn:
        tables = conn.execute(
            "select table_schema, table_name from information_schema.tables"
            " where table_schema not in ('pg_catalog', 'information_schema') order by 1, 2"
        ).fetchall()
        state = {}
        for schema, name in tables:
            where, params = sql.SQL("true"), ()
            if schema == "raw" and name in CONTRACTS:
                where, params = sql.SQL("_liftoff_logical_date is distinct from %s"), (day,)
            elif (schema, name) in (("raw", "quarantine"), ("raw", "loads")):
                where, params = sql.SQL("logical_date is distinct from %s"), (day,)
            query = sql.SQL("select count(*), md5(coalesce(string_agg(t::text, '|' order by t::text), ''))"
                            " from {} as t where {}").format(sql.Identifier(schema, name), where)  # fmt: skip
            count, digest = conn.execute(query, params).fetchone()
            state[f"{schema}.{name}"] = (count, digest)
    return state


def problems_with(
    dsn: str, day: date, case: HostileCase, record: HostileRecord, base: dict[str, dict[str, Any]]
) -> list[str]:
    """What is wrong with one record's outcome in the warehouse (empty when it is as expected)."""
    entity = case.entity
    contract = CONTRACTS[entity]
    key = hostile_records.natural_key(record, entity, base)
    quarantine_key = hostile_records.quarantine_key(record, entity, base)
    with psycopg.connect(dsn) as conn:
        entries = conn.execute(
            "select field, reason, violations, payload from raw.quarantine"
            " where entity = %s and logical_date = %s and natural_key is not distinct from %s"
            " order by quarantine_id",
            (entity, day, quarantine_key),
        ).fetchall()
        rows = []
        if isinstance(key, int):
            cursor = conn.cursor(row_factory=psycopg.rows.dict_row)
            rows = cursor.execute(
                sql.SQL("select * from {} where {} = %s and _liftoff_logical_date = %s").format(
                    sql.Identifier("raw", entity), sql.Identifier(contract.natural_key)
                ),
                (key, day),
            ).fetchall()
    found: list[str] = []
    if record.outcome == LOADED:
        if len(rows) != 1:
            found.append(f"expected 1 loaded row with {contract.natural_key}={key!r}, found {len(rows)}")
        for name, expected in record.stored.items():
            if rows and _plain(rows[0][name]) != expected:
                found.append(f"{name} stored {rows[0][name]!r}, expected verbatim {expected!r}")
        # Only a duplicate's later twin may share the key in the quarantine.
        others = [(field, reason[:120]) for field, reason, *_ in entries if "repeats" not in reason]
        if others:
            found.append(f"also quarantined: {others}")
        return found
    # Quarantined: the entry naming the expected field (a duplicated key has a loaded twin).
    mine = [e for e in entries if e[0] == record.outcome and record.reason in e[1]]
    if len(mine) != 1:
        shown = [(field, reason[:120]) for field, reason, *_ in entries]
        found.append(
            f"expected 1 quarantine entry naming {record.outcome!r} with a reason containing"
            f" {record.reason!r}; found {shown}"
        )
        return found
    field, reason, violations, payload = mine[0]
    if not reason.strip():
        found.append("empty reason")
    if violations[0] != {"field": field, "reason": reason}:
        found.append(f"violations {violations} do not start with the headline")
    if len(reason) > 300:
        found.append(f"reason of {len(reason)} characters: a hostile value must be cut short in it")
    if payload is None:
        found.append("no payload")
    else:
        if set(payload) != set(contract.model_fields):
            found.append(f"payload fields {sorted(payload)} are not the record's")
        for name, expected in record.payload.items():
            if payload.get(name) != expected:
                found.append(f"payload {name} is {payload.get(name)!r}, expected {expected!r}")
    if record.outcome != contract.natural_key and len(rows) > 0 and "repeats" not in reason:
        found.append(f"also loaded: {len(rows)} rows")
    return found


def _plain(value: Any) -> Any:
    from decimal import Decimal

    return float(value) if isinstance(value, Decimal) else value


@dataclass
class HostileLoad:
    dsn: str
    lake: str
    base: dict[str, dict[str, Any]]
    landed: dict[str, int]
    summaries: dict[str, LoadSummary]
    before: dict[str, tuple[int, str]]
    after: dict[str, tuple[int, str]]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileLoad]:
    """One load of the whole corpus (it takes a while), which every test of the module reads."""
    from tests.warehouses import scratch_database

    lake = (tmp_path_factory.mktemp("hostile") / "lake").as_uri()
    with scratch_database("wh_hostile") as (_, dsn):
        for entity in ENTITIES:
            land_simulated_day(lake, entity, FIRST, CONFIG, full_refresh=True)
            load_landed_day(dsn, lake, entity, FIRST, run_id="first-day")
        base = base_records(FIRST, CONFIG)
        landed = hostile_records.land(lake, HOSTILE, base)
        before = warehouse_state(dsn, HOSTILE)
        summaries = {entity: load_landed_day(dsn, lake, entity, HOSTILE, "hostile") for entity in ENTITIES}
        yield HostileLoad(dsn, lake, base, landed, summaries, before, warehouse_state(dsn, HOSTILE))


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_each_hostile_record_is_loaded_or_quarantined_as_its_case_says(hostile, case):
    problems = {
        f"record {number} ({record.outcome})": found
        for number, record in enumerate(case.records)
        if (found := problems_with(hostile.dsn, HOSTILE, case, record, hostile.base))
    }
    assert not problems, f"{case.id}: {problems}"


@pytest.mark.parametrize("entity", ENTITIES)
def test_records_in_equal_loaded_plus_quarantined(hostile, entity):
    summary = hostile.summaries[entity]
    expected = [record for case in CASES if case.entity == entity for record in case.records]
    assert summary.records_in == hostile.landed[entity] == len(expected)
    assert summary.records_in == summary.records_loaded + summary.records_quarantined
    assert summary.records_quarantined == sum(record.outcome != LOADED for record in expected)
    with psycopg.connect(hostile.dsn) as conn:
        loaded = conn.execute(
            sql.SQL("select count(*) from {} where _liftoff_logical_date = %s").format(
                sql.Identifier("raw", entity)
            ),
            (HOSTILE,),
        ).fetchone()[0]
        quarantined = conn.execute(
            "select count(*), count(*) filter (where reason <> '' and field <> '')"
            " from raw.quarantine where entity = %s and logical_date = %s",
            (entity, HOSTILE),
        ).fetchone()
    assert loaded == summary.records_loaded
    assert quarantined == (summary.records_quarantined, summary.records_quarantined)


def test_injection_strings_stayed_data_and_every_table_is_in_place(hostile):
    assert set(hostile.after) == set(hostile.before), "no table was created or dropped"
    with psycopg.connect(hostile.dsn) as conn:
        for entity in (*ENTITIES, "quarantine"):
            assert conn.execute("select to_regclass(%s)", (f"raw.{entity}",)).fetchone()[0] is not None
        stored = {row[0] for row in conn.execute("select city from raw.customers where city is not null")}
    assert set(hostile_records.SQL_INJECTIONS) <= stored, "each injection string is stored verbatim"


def test_nothing_else_in_the_warehouse_changed(hostile):
    changed = {table for table in hostile.before if hostile.before[table] != hostile.after[table]}
    assert changed == set(), f"rows outside the hostile day's partitions changed in {sorted(changed)}"


def test_reloading_the_hostile_day_gives_the_same_result(hostile):
    """The corpus does not break idempotency: a rerun replaces the day with the same outcome.
    (Runs after the per-case tests, which read the first load's run.)"""
    first = hostile.summaries["customers"]
    again = load_landed_day(hostile.dsn, hostile.lake, "customers", HOSTILE, "hostile-again")
    assert (again.records_loaded, again.records_quarantined) == (
        first.records_loaded,
        first.records_quarantined,
    )
    assert again.records_replaced == first.records_loaded
    assert warehouse_state(hostile.dsn, HOSTILE) == hostile.after
    with psycopg.connect(hostile.dsn) as conn:
        counts = conn.execute(
            "select count(*) from raw.quarantine where entity = 'customers' and logical_date = %s", (HOSTILE,)
        ).fetchone()[0]
    assert counts == first.records_quarantined


# --- through Airflow ---------------------------------------------------------------------------

DAG_FIRST, DAG_HOSTILE = date(2026, 7, 20), date(2026, 7, 21)
DAG_SIMULATOR = {"sales_per_day": 30, "dirty_rate": 0.0, "seed": 11}  # the liftoff_simulator Variable


@pytest.fixture
def ingest_dag(airflow_db, monkeypatch):
    monkeypatch.setenv(SIMULATOR_ENV, simulator_variable(**DAG_SIMULATOR))
    from airflow.dag_processing.dagbag import DagBag

    from liftoff import settings

    bag = DagBag(dag_folder=str(settings.DAGS_FOLDER))
    assert bag.import_errors == {}
    return bag.dags["ingest_crm"]


def _run(dag, day: date, **conf):
    from liftoff.orchestration import TIMEZONE

    logical = datetime(day.year, day.month, day.day, 1, tzinfo=ZoneInfo(TIMEZONE))
    return dag.test(logical_date=logical, run_conf=conf)


def test_the_ingest_dag_stays_green_on_the_hostile_corpus(ingest_dag, warehouse, lake):
    first = _run(ingest_dag, DAG_FIRST, full_refresh=True)
    assert "success" in str(first.state)
    base = base_records(DAG_FIRST, SimulatorConfig(**DAG_SIMULATOR))
    landed = hostile_records.land(lake, DAG_HOSTILE, base)

    # Said explicitly: under dag.test() the first run's full_refresh=True carried over to the next.
    dag_run = _run(ingest_dag, DAG_HOSTILE, full_refresh=False)

    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    assert "success" in str(dag_run.state), states
    totals = next(ti for ti in dag_run.get_task_instances() if ti.task_id == "embedded.reconcile").xcom_pull(
        task_ids="embedded.reconcile"
    )
    simulated = sum(activity(e, DAG_HOSTILE, SimulatorConfig(**DAG_SIMULATOR)).num_rows for e in ENTITIES)
    expected_quarantined = sum(record.outcome != LOADED for _, record in hostile_records.records())
    assert totals["records_in"] == simulated + sum(landed.values())
    assert totals["records_in"] == totals["records_loaded"] + totals["records_quarantined"]
    assert totals["records_quarantined"] == expected_quarantined
    problems = {
        f"{case.id} record {number}": found
        for case in CASES
        for number, record in enumerate(case.records)
        if (found := problems_with(warehouse, DAG_HOSTILE, case, record, base))
    }
    assert not problems
