"""The quality gate on simulated history: ordinary days pass, data that passes every contract but is
wrong as a whole (no sales, prices ×10 in a category, a day loaded twice) fails it, and the DAG
then certifies nothing and alerts through a real SMTP server."""

from __future__ import annotations

import email
import json
import os
import socket
from datetime import date, datetime, timedelta
from email import policy
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from liftoff import settings
from liftoff.devstack import stack
from liftoff.ingest.simulator import SimulatorConfig
from liftoff.orchestration import TIMEZONE
from liftoff.quality.gate import DATA_DOCS_FOLDER, data_docs_url, run_gate
from tests.warehouses import dbt_build, scratch_database, simulate_days

# Needs simulated days built by dbt on the embedded Postgres: not in `make test-fast`.
pytestmark = pytest.mark.services

FIRST = date(2026, 3, 2)
ORDINARY = [FIRST + timedelta(days=offset) for offset in range(28, 58)]  # 30 days, 4 weeks of history
FAULTS = {
    date(2026, 4, 29): "no_sales",
    date(2026, 4, 30): "category_price_x10:Eletrônico",
    date(2026, 5, 1): "duplicated_day",
}
CONFIG = SimulatorConfig(sales_per_day=150, anomalies=tuple(FAULTS.items()))


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """A warehouse with 61 simulated days (the last three faulty), built by dbt once."""
    with scratch_database("wh_quality") as (name, dsn):
        simulate_days(dsn, tmp_path_factory.mktemp("lake").as_uri(), FIRST, max(FAULTS), CONFIG)
        dbt_build(dsn, FIRST, max(FAULTS))
        yield {"dsn": dsn, "name": name, "gx": tmp_path_factory.mktemp("gx")}


def test_thirty_ordinary_days_raise_no_alarm(history):
    false_alarms = [
        report.summary()
        for report in (run_gate(history["dsn"], day, "ordinary", history["gx"]) for day in ORDINARY)
        if not report.passed
    ]
    assert false_alarms == []


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (
            date(2026, 4, 29),
            {
                ("silver_sales_day", "expect_table_row_count_to_be_between"),
                ("gold_day_totals", "expect_column_values_to_be_between"),
            },
        ),
        (date(2026, 4, 30), {("gold_day_categories", "expect_column_values_to_be_between")}),
        (date(2026, 5, 1), {("silver_sales_day", "expect_compound_columns_to_be_unique")}),
    ],
    ids=["no_sales", "category_price_x10", "duplicated_day"],
)
def test_data_wrong_as_a_whole_fails_the_gate(history, day, expected):
    report = run_gate(history["dsn"], day, "fault", history["gx"])

    assert not report.passed
    assert expected <= {(failure.suite, failure.expectation) for failure in report.failures}
    # The findings are where an analyst reads them, failing samples included.
    with psycopg.connect(history["dsn"]) as conn:
        stored = conn.execute(
            "select suite, expectation, column_name, failing_samples from quality.results"
            " where logical_date = %s and not success",
            (day,),
        ).fetchall()
    assert {(suite, expectation) for suite, expectation, _, _ in stored} >= expected
    if FAULTS[day].startswith("category_price"):
        [samples] = [s for suite, _, column, s in stored if column == "unit_price_vs_usual"]
        assert samples[0]["category"] == "Eletrônico"
    assert (history["gx"] / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html").exists()


def test_the_data_docs_are_published_to_the_landing_zone_and_accumulate(history, lake):
    """The gate runs on whichever worker takes the task: the data docs the report links to are in
    the landing zone (a bucket in production), each run adding its pages to those of earlier runs,
    whichever machine made them (issue 17)."""
    from urllib.parse import unquote, urlparse

    published = Path(unquote(urlparse(lake).path)) / DATA_DOCS_FOLDER

    def pages() -> set[str]:
        return {str(p.relative_to(published)) for p in published.rglob("*.html")}

    first = run_gate(history["dsn"], ORDINARY[-2], "docs-1", history["gx"])
    assert first.data_docs == data_docs_url(lake)
    assert f"Data docs: {data_docs_url(lake)}" in first.summary()
    before = pages()
    assert "index.html" in before
    # Another machine: a GX project of its own, empty, publishing to the same landing zone.
    run_gate(history["dsn"], ORDINARY[-1], "docs-2", history["gx"].parent / "gx-elsewhere")
    after = pages()
    assert before < after  # the second run's pages added, the first run's kept


@pytest.fixture
def inbox():
    """A real SMTP server (aiosmtpd) on a free local port; the messages it received."""
    from aiosmtpd.controller import Controller

    received: list[email.message.EmailMessage] = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            received.append(email.message_from_bytes(envelope.content, policy=policy.default))
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()


def test_the_gate_dag_certifies_good_days_and_alerts_on_bad_ones(
    history, inbox, telegram_double, airflow_db, monkeypatch
):
    port, received = inbox
    conn = json.loads(os.environ[stack.WAREHOUSE_CONN_ENV]) | {"schema": history["name"]}
    monkeypatch.setenv(stack.WAREHOUSE_CONN_ENV, json.dumps(conn))
    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_DEFAULT",
        json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": port, "login": "liftoff",
                    "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "gate@liftoff.test"}}),
    )  # fmt: skip
    monkeypatch.setenv("AIRFLOW_VAR_LIFTOFF_ALERT_EMAILS", "data-team@liftoff.test")
    bot = telegram_double  # the team's chat is 4242
    monkeypatch.setenv("AIRFLOW_CONN_TELEGRAM_ALERTS", bot.connection_json(sales_chat=4242))
    monkeypatch.setenv("LIFTOFF_GX_DIR", str(history["gx"]))
    from airflow.dag_processing.dagbag import DagBag

    gate = DagBag(dag_folder=str(settings.DAGS_FOLDER / "quality_gate.py")).dags["quality_gate"]

    def run(day: date):
        return gate.test(logical_date=datetime(day.year, day.month, day.day, 1, tzinfo=ZoneInfo(TIMEZONE)))

    good = run(ORDINARY[-1])
    bad = run(date(2026, 5, 1))

    assert "success" in str(good.state)
    assert "failed" in str(bad.state)
    states = {ti.task_id: str(ti.state) for ti in bad.get_task_instances()}
    assert "failed" in states["validate_gold"]
    assert "upstream_failed" in states["certify"]
    assert certified_events(good.run_id) == [{"since_date": "2026-04-28", "logical_date": "2026-04-28"}]
    assert certified_events(bad.run_id) == []  # nothing for the campaign to run on
    [alert] = received
    assert alert["To"] == "data-team@liftoff.test"
    assert "2026-05-01" in alert["Subject"]
    assert "silver_sales_day" in alert["Subject"]
    body = alert.get_body(("html", "plain")).get_content()
    assert "expect_compound_columns_to_be_unique" in body
    assert "customer_id,product_id,sold_at" in body
    [message] = bot.messages
    assert str(message["chat_id"]) == "4242"
    assert "2026-05-01" in message["text"]
    assert "silver_sales_day" in message["text"]


@pytest.fixture
def telegram_double():
    """The Bot API double (tests/services/telegram_api.py): Telegram itself cannot be reached here."""
    from tests.services.telegram_api import telegram_api

    with telegram_api() as double:
        yield double


def certified_events(run_id: str) -> list[dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        return [
            extra
            for (extra,) in session.query(AssetEvent.extra)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .filter(AssetModel.name == "gold.certified", AssetEvent.source_run_id == run_id)
            .all()
        ]
