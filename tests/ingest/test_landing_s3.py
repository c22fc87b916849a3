"""The landing zone on S3, against a real S3-compatible server (SeaweedFS), through the same
ObjectStoragePath code and an Airflow connection, as production uses MinIO or AWS."""

from __future__ import annotations

import json
from datetime import date

import psycopg
import pytest

from liftoff.ingest import landing
from liftoff.ingest.daily import land_simulated_day, load_landed_day
from liftoff.ingest.simulator import SimulatorConfig, snapshot
from tests.services.seaweedfs import seaweedfs

# Needs a SeaweedFS server (S3) of its own: not in `make test-fast`.
pytestmark = pytest.mark.services

DAY = date(2026, 4, 2)
BUCKET = "liftoff-lake"


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    with seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as server:
        server.client().create_bucket(Bucket=BUCKET)
        yield server


@pytest.fixture
def s3_lake(s3, monkeypatch) -> str:
    connection = {
        "conn_type": "aws",
        "login": s3.access_key,
        "password": s3.secret_key,
        "extra": {"endpoint_url": s3.endpoint_url, "region_name": "us-east-1"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_LAKE", json.dumps(connection))
    return f"s3://{BUCKET}/crm"


def test_a_partition_round_trips_through_s3(s3, s3_lake):
    root = landing.lake_root(s3_lake, conn_id="lake")
    table = snapshot("suppliers", DAY, SimulatorConfig())
    path = landing.write_partition(root, "suppliers", DAY, table)
    assert str(path).endswith(f"{BUCKET}/crm/raw/suppliers/dt=2026-04-02/part-0.parquet")
    listed = s3.client().list_objects_v2(Bucket=BUCKET, Prefix="crm/raw/suppliers/")
    assert [item["Key"] for item in listed["Contents"]] == ["crm/raw/suppliers/dt=2026-04-02/part-0.parquet"]
    assert landing.read_partition(root, "suppliers", DAY).equals(table)
    assert [p.name for p in landing.partition_files(root, "suppliers", DAY)] == ["part-0.parquet"]


def test_a_day_lands_on_s3_and_loads_into_raw(s3_lake, warehouse):
    config = SimulatorConfig(sales_per_day=50, dirty_rate=0.1)
    land_simulated_day(s3_lake, "suppliers", DAY, config, full_refresh=True)
    summary = load_landed_day(warehouse, s3_lake, "suppliers", DAY, run_id="s3-test")
    assert summary.records_in == summary.records_loaded + summary.records_quarantined
    with psycopg.connect(warehouse) as conn:
        assert conn.execute("select count(*) from raw.suppliers").fetchone()[0] == summary.records_loaded
