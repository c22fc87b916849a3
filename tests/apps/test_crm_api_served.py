"""The CRM API as `serve` runs it (uvicorn over a socket), where a client sees exactly when a
response leaves: a write is committed before its answer is sent."""

from __future__ import annotations

import time

import psycopg
import pytest

from tests import crm_samples as sample
from tests.crm_api_server import served_crm_api

pytestmark = pytest.mark.services

COMMIT_DELAY_S = 1.5


def test_a_201_is_sent_only_once_the_write_is_committed(crm_database):
    """A commit made slow on purpose (a deferred trigger sleeping at commit time): the answer must
    wait for it, so the record is readable, and referable, the moment the client holds its key.
    With the transaction ended after the response (FastAPI's default for `yield` dependencies) the
    201 came first and the read right after it found nothing."""
    with psycopg.connect(crm_database, autocommit=True) as conn:
        conn.execute(
            f"""
            create function crm.slow_commit() returns trigger language plpgsql as $$
            begin perform pg_sleep({COMMIT_DELAY_S}); return null; end $$;
            create constraint trigger slow_commit after insert on crm.suppliers
            deferrable initially deferred for each row execute function crm.slow_commit();
            """
        )
    with served_crm_api(crm_database) as api, api.client() as writer, api.client() as reader:
        started = time.monotonic()
        response = writer.post("/suppliers", json=sample.supplier())
        answered_after = time.monotonic() - started
        assert response.status_code == 201, response.text
        read = reader.get(f"/suppliers/{response.json()['supplier_id']}")
    assert read.status_code == 200, read.text
    assert answered_after >= COMMIT_DELAY_S  # the answer waited for the commit
