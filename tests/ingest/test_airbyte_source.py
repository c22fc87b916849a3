"""The CRM API's declarative Airbyte source (include/airbyte/crm/manifest.yaml), run by PyAirbyte in
its own venv (.venv-airbyte) against the real API process and its real Postgres.

The manifest is generated from the contracts (a drift fails here) and validated by the airbyte-cdk
itself; a business day is extracted by its half-open Brasília window with a create, an update and a
soft delete, rerun (same files, same state, nothing twice in raw) and followed by the next day
(state advanced); and each way it fails (API down, a bad or a non-admin key, the CRM's schema
changing under the connector) gives one line naming the stream and lands nothing.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
import pytest
import yaml

from liftoff.apps.crm_api.app import MAX_PAGE
from liftoff.contracts import CONTRACTS
from liftoff.ingest import airbyte_extract, airbyte_manifest, landing
from liftoff.ingest.airbyte_extract import (
    AirbyteConfigurationError,
    AirbyteExtractError,
    day_window,
    extract_crm_day_airbyte,
)
from liftoff.ingest.daily import load_landed_day
from liftoff.ingest.landing import EXTRACT_PART
from liftoff.orchestration import ENTITIES
from tests import crm_samples as sample
from tests.crm_api_server import ServedApi, served_crm_api
from tests.crm_samples import created, stamp

DAY = date(2026, 10, 14)
NEXT_DAY = DAY + timedelta(days=1)


# --- the manifest: generated from the contracts, accepted by the airbyte-cdk ----------------------


def test_the_manifest_is_the_one_generated_from_the_contracts():
    """Edit a contract without `python -m liftoff.ingest.airbyte_manifest` and this fails."""
    on_disk = airbyte_manifest.MANIFEST_PATH.read_text(encoding="utf-8")
    assert on_disk == airbyte_manifest.render(), (
        "include/airbyte/crm/manifest.yaml is out of date: run `python -m liftoff.ingest.airbyte_manifest`"
    )
    manifest = yaml.safe_load(on_disk)
    assert [stream["name"] for stream in manifest["streams"]] == list(ENTITIES)
    for stream in manifest["streams"]:
        contract = CONTRACTS[stream["name"]]
        schema = stream["schema_loader"]["schema"]
        # The contract's fields, then what every listed record carries (sales have no updated_at).
        assert list(schema["properties"]) == list(
            dict.fromkeys([*contract.model_fields, "updated_at", "deleted_at"])
        )
        assert stream["primary_key"] == [contract.natural_key]
    assert airbyte_manifest.PAGE_SIZE == MAX_PAGE
    assert airbyte_manifest.main(["--check"]) == 0


def test_each_stream_schema_follows_its_contract_field_by_field():
    """The schema follows the contract field by field: a new field, a type, a nullable one."""
    customers = airbyte_manifest.stream_schema("customers")
    assert customers["properties"]["telegram_chat_id"] == {"type": ["null", "integer"]}
    assert customers["properties"]["created_at"]["format"] == "date-time"
    assert "telegram_chat_id" not in customers["required"]
    assert {"customer_id", "email", "updated_at"} <= set(customers["required"])
    employees = airbyte_manifest.stream_schema("employees")
    assert employees["properties"]["birth_date"] == {"type": "string", "format": "date"}
    assert employees["properties"]["salary"] == {"type": "number"}


CDK_CHECK = """
import json, sys, yaml
from airbyte_cdk.sources.declarative.concurrent_declarative_source import ConcurrentDeclarativeSource
manifest = yaml.safe_load(open(sys.argv[1]))
config = json.loads(sys.argv[2])
source = ConcurrentDeclarativeSource(source_config=manifest, config=config)
print(json.dumps({"streams": [s.name for s in source.streams(config)],
                  "spec": sorted(source.spec(None).connectionSpecification["properties"]),
                  "required": sorted(source.spec(None).connectionSpecification["required"])}))
"""


def _cdk_check(manifest: Path) -> subprocess.CompletedProcess:
    config = airbyte_extract.connector_config("http://127.0.0.1:1", "lok_x", DAY)
    return subprocess.run(  # the CDK lives in PyAirbyte's venv only
        [str(airbyte_extract.airbyte_python()), "-c", CDK_CHECK, str(manifest), json.dumps(config)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_airbyte_cdk_accepts_the_manifest_and_refuses_a_broken_one(tmp_path):
    done = _cdk_check(airbyte_manifest.MANIFEST_PATH)
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout.splitlines()[-1])
    assert answer == {
        "streams": list(ENTITIES),
        "spec": ["api_key", "api_url", "end_datetime", "start_datetime"],
        "required": ["api_key", "api_url", "start_datetime"],  # no end: a deployed sync reads up to now
    }
    # The same check on a manifest the CDK's schema does not allow: the validation is real.
    broken = yaml.safe_load(airbyte_manifest.render())
    broken["streams"][0]["retriever"]["paginator"]["pagination_strategy"]["type"] = "PageByKey"
    (tmp_path / "broken.yaml").write_text(yaml.safe_dump(broken))
    refused = _cdk_check(tmp_path / "broken.yaml")
    assert refused.returncode != 0
    assert "PageByKey" in refused.stderr


# --- the connection: URL and key from Airflow, never from code -------------------------------------


@pytest.mark.parametrize(
    ("connection", "endpoint"),
    [
        ({"conn_type": "http", "host": "127.0.0.1", "port": 8090, "password": "lok_a"},
         ("http://127.0.0.1:8090", "lok_a")),
        ({"conn_type": "https", "host": "crm.example.com", "password": "lok_b"},
         ("https://crm.example.com", "lok_b")),
        ({"conn_type": "http", "host": "https://crm.example.com/", "port": 8443, "password": "lok_c"},
         ("https://crm.example.com:8443", "lok_c")),
    ],
)  # fmt: skip
def test_the_api_url_and_key_come_from_the_crm_api_connection(monkeypatch, connection, endpoint):
    from liftoff.connections import crm_api_endpoint

    monkeypatch.setenv("AIRFLOW_CONN_CRM_API", json.dumps(connection))
    assert crm_api_endpoint() == endpoint


def test_a_crm_api_connection_without_a_key_is_refused_naming_it(monkeypatch):
    from liftoff.connections import crm_api_endpoint

    monkeypatch.delenv("AIRFLOW_CONN_CRM_API", raising=False)
    assert crm_api_endpoint() is None  # no connection: the caller decides (nothing to extract)
    monkeypatch.setenv("AIRFLOW_CONN_CRM_API", json.dumps({"conn_type": "http", "host": "127.0.0.1"}))
    from liftoff.connections import ConnectionMisconfigured

    with pytest.raises(
        ConnectionMisconfigured, match="`crm_api` connection has no password: set it to an admin API key"
    ):
        crm_api_endpoint()


def test_without_pyairbytes_venv_the_error_says_how_to_build_it(monkeypatch, tmp_path):
    monkeypatch.setenv("LIFTOFF_AIRBYTE_PYTHON", str(tmp_path / "no-venv" / "bin" / "python"))
    missing = r"PyAirbyte's venv is missing .*: run `make install`"
    with pytest.raises(AirbyteConfigurationError, match=missing):
        airbyte_extract.run_connector(airbyte_extract.connector_config("http://x", "k", DAY), [], tmp_path)


# --- a real API, a real CRM database -------------------------------------------------------------


@pytest.fixture
def crm_api(crm_database: str) -> Iterator[ServedApi]:
    with served_crm_api(crm_database) as served:
        yield served


def landed(lake: str, entity: str, day: date) -> list[dict]:
    path = landing.partition_dir(landing.lake_root(lake), entity, day) / EXTRACT_PART
    return pq.read_table(path.path).to_pylist()


def as_json(value):
    """A landed value as the API's JSON writes it."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


def raw_rows(warehouse: str, entity: str) -> list[tuple]:
    key = CONTRACTS[entity].natural_key
    with psycopg.connect(warehouse) as conn:
        return conn.execute(
            psycopg.sql.SQL("select {}, city from raw.{} order by 1").format(
                psycopg.sql.Identifier(key), psycopg.sql.Identifier(entity)
            )
        ).fetchall()


@pytest.mark.timeout(900)
def test_a_day_is_extracted_once_reruns_land_the_same_and_the_next_day_advances_the_state(
    crm_api, crm_database, lake, warehouse
):
    start, end = day_window(DAY)
    client = crm_api.client()
    shop = sample.small_shop(
        client, "kept@example.com", "moved@example.com", "gone@example.com", "late@example.com"
    )
    supplier, product, seller = shop.supplier, shop.product, shop.seller
    kept, moved, gone, late = shop.customers.values()
    sale = created(client, "/sales", sample.sale(kept, product, seller, quantity=2))
    for entity, record, moment in (
        ("suppliers", supplier, start),  # the window's first instant is in it
        ("products", product, start + timedelta(hours=1)),
        ("employees", seller, start + timedelta(hours=1)),
        ("customers", kept, start + timedelta(hours=2)),
        ("customers", moved, start + timedelta(hours=3)),
        ("sales", sale, start + timedelta(hours=4)),
        ("customers", late, end),  # the next window's first instant is not in this one
    ):
        stamp(crm_database, entity, record[CONTRACTS[entity].natural_key], moment)
    # An update and a soft delete on the day.
    assert client.patch(f"/customers/{moved['customer_id']}", json={"city": "Niterói"}).status_code == 200
    stamp(crm_database, "customers", moved["customer_id"], start + timedelta(hours=5))
    assert client.delete(f"/customers/{gone['customer_id']}").status_code == 200
    stamp(crm_database, "customers", gone["customer_id"], end - timedelta(microseconds=1))

    first = {s.entity: s for s in extract_crm_day_airbyte(crm_api.url, crm_api.admin_key, lake, DAY)}
    assert list(first) == list(ENTITIES)
    customers = landed(lake, "customers", DAY)
    assert [(c["customer_id"], c["city"]) for c in customers] == [
        (kept["customer_id"], kept["city"]),
        (moved["customer_id"], "Niterói"),  # its latest version
    ]
    assert (first["customers"].records_extracted, first["customers"].records_deleted) == (2, 1)
    assert first["customers"].deleted_keys == (gone["customer_id"],)
    # The landed file is the contract's shape (sales have no updated_at there), moments exact.
    [landed_sale] = landed(lake, "sales", DAY)
    assert list(landed_sale) == list(CONTRACTS["sales"].model_fields)
    [landed_supplier] = landed(lake, "suppliers", DAY)
    assert landed_supplier["updated_at"] == start
    # Every value as the API gives it, typed as the contract says (moments, dates, money).
    for entity, record in (("sales", sale), ("employees", seller), ("products", product)):
        api_record = client.get(f"/{entity}/{record[CONTRACTS[entity].natural_key]}").json()
        [row] = landed(lake, entity, DAY)
        assert {name: as_json(value) for name, value in row.items()} == {
            name: api_record[name] for name in row
        }
    # Airbyte's state: per stream, the latest updated_at read in the window (the deleted record's).
    assert first["customers"].state == {"updated_at": "2026-10-15T02:59:59.999999+0000"}
    assert first["suppliers"].state == {"updated_at": "2026-10-14T03:00:00.000000+0000"}
    saved = json.loads(airbyte_extract.state_path(lake, "crm_api", DAY).read_text())
    assert saved["started_from"] is None
    assert saved["deleted_keys"] == {"customers": [gone["customer_id"]]}

    for entity in ENTITIES:
        load_landed_day(warehouse, lake, entity, DAY, run_id="airbyte-1")
    # A rerun of the day: the same files and state (it starts from the state before the day, not
    # from its own), and raw holds each record once.
    again = {s.entity: s for s in extract_crm_day_airbyte(crm_api.url, crm_api.admin_key, lake, DAY)}
    assert landed(lake, "customers", DAY) == customers
    assert {e: s.state for e, s in again.items()} == {e: s.state for e, s in first.items()}
    for entity in ENTITIES:
        load_landed_day(warehouse, lake, entity, DAY, run_id="airbyte-2")
    assert raw_rows(warehouse, "customers") == [
        (kept["customer_id"], kept["city"]),
        (moved["customer_id"], "Niterói"),
    ]

    # The next day: what changed at its first instant, from the state the day before left.
    after = {s.entity: s for s in extract_crm_day_airbyte(crm_api.url, crm_api.admin_key, lake, NEXT_DAY)}
    assert [c["customer_id"] for c in landed(lake, "customers", NEXT_DAY)] == [late["customer_id"]]
    assert after["customers"].state == {"updated_at": "2026-10-15T03:00:00.000000+0000"}
    assert after["customers"].state["updated_at"] > first["customers"].state["updated_at"]
    assert after["sales"].records_extracted == 0
    saved = json.loads(airbyte_extract.state_path(lake, "crm_api", NEXT_DAY).read_text())
    assert saved["started_from"] == DAY.isoformat()

    # A backfill of the first day after the next one ran: it starts from the state before it (none),
    # never from the later day's, so it reads its whole window again: the same records.
    backfill = {s.entity: s for s in extract_crm_day_airbyte(crm_api.url, crm_api.admin_key, lake, DAY)}
    assert landed(lake, "customers", DAY) == customers
    assert {e: s.state for e, s in backfill.items()} == {e: s.state for e, s in first.items()}
    assert json.loads(airbyte_extract.state_path(lake, "crm_api", DAY).read_text())["started_from"] is None


@pytest.mark.timeout(900)
def test_a_deployed_sync_without_an_end_reads_up_to_its_start_and_resumes_from_its_state(
    crm_api, crm_database, tmp_path
):
    """A deployed Airbyte's source has no end_datetime (docs/ingest.md): each sync reads every change
    up to the moment it starts, and the next one starts from the state the last one left."""
    client = crm_api.client()
    older = created(client, "/customers", sample.customer(email="older@example.com"))
    stamp(crm_database, "customers", older["customer_id"], datetime.now(UTC) - timedelta(hours=1))
    latest = created(client, "/customers", sample.customer(email="latest@example.com"))
    config = airbyte_extract.connector_config(crm_api.url, crm_api.admin_key, DAY)
    del config["end_datetime"]

    def sync(state: list, name: str) -> tuple[list[int], list]:
        (tmp_path / name).mkdir()
        records, new_state = airbyte_extract.run_connector(config, state, tmp_path / name)
        return sorted(r["customer_id"] for r in records["customers"]), new_state

    first, state = sync([], "first")
    assert first == sorted([older["customer_id"], latest["customer_id"]])
    newer = created(client, "/customers", sample.customer(email="newer@example.com"))
    second, _ = sync(state, "second")
    # From the state on: the older change is not read again, the new one is (the state's own
    # instant is read again, inclusively: Append keeps both copies and the precedence one).
    assert older["customer_id"] not in second
    assert newer["customer_id"] in second
    assert set(second) <= {latest["customer_id"], newer["customer_id"]}


# --- failures: one line naming the stream, nothing landed ------------------------------------------


def nothing_landed(lake: str) -> bool:
    root = landing.lake_root(lake)
    return not (root / "raw").exists() and not airbyte_extract.state_path(lake, "crm_api", DAY).exists()


def failure(crm_api: ServedApi, lake: str, *, url: str | None = None, key: str | None = None,
            manifest: Path | None = None, retryable: bool = False) -> str:  # fmt: skip
    """The one line a failed extraction gives; `retryable`: whether a retry may pass (the task is
    then retried), else it is an AirbyteConfigurationError (the task fails at once)."""
    with pytest.raises(AirbyteExtractError) as raised:
        extract_crm_day_airbyte(
            url or crm_api.url, key or crm_api.admin_key, lake, DAY,
            manifest=manifest or airbyte_manifest.MANIFEST_PATH,
        )  # fmt: skip
    message = str(raised.value)
    assert "\n" not in message
    assert isinstance(raised.value, AirbyteConfigurationError) is not retryable, message
    assert nothing_landed(lake)
    return message


@pytest.mark.timeout(900)
def test_the_api_down_or_a_wrong_key_fail_in_one_line_naming_the_stream(crm_api, lake):
    down = failure(crm_api, lake, url="http://127.0.0.1:9", retryable=True)
    assert down.startswith("stream suppliers: the CRM API at http://127.0.0.1:9 is unreachable"), down
    bad = failure(crm_api, lake, key="lok_not-a-key")
    assert bad.startswith("stream suppliers: the CRM API refused the API key (401)"), bad
    assert "crm_api connection" in bad
    standard = failure(crm_api, lake, key=crm_api.standard_key)
    assert standard.startswith("stream suppliers: the API key is not an admin key (403"), standard


def _manifest_with(tmp_path: Path, change) -> Path:
    """The manifest as the connector would be if the CRM's schema changed under it."""
    manifest = yaml.safe_load(airbyte_manifest.render())
    [customers] = [s for s in manifest["streams"] if s["name"] == "customers"]
    change(customers["schema_loader"]["schema"])
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump(manifest, allow_unicode=True))
    return path


@pytest.mark.timeout(900)
def test_a_schema_change_in_the_crm_fails_in_one_line_naming_the_stream(
    crm_api, crm_database, lake, tmp_path
):
    customer = created(crm_api.client(), "/customers", sample.customer())
    stamp(crm_database, "customers", customer["customer_id"], day_window(DAY)[0] + timedelta(hours=1))

    def new_column(schema):  # the API now sends `city`, which the connector does not declare
        del schema["properties"]["city"]
        schema["required"].remove("city")

    added = failure(crm_api, lake, manifest=_manifest_with(tmp_path, new_column))
    assert added.startswith(
        "stream customers: the CRM API sends field(s) the connector does not declare: city"
    ), added

    def removed_column(schema):  # the connector expects `loyalty_tier`, which the API no longer sends
        schema["properties"]["loyalty_tier"] = {"type": "string"}
        schema["required"].append("loyalty_tier")

    removed = failure(crm_api, lake, manifest=_manifest_with(tmp_path, removed_column))
    assert removed.startswith("stream customers: 1 of 1 record(s) lack the required field loyalty_tier"), (
        removed
    )
