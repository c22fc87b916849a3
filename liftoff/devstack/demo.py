"""`make demo`: run every DAG through Airflow for the last days of simulated CRM activity.

Runs inside the stack's environment (see liftoff.devstack). Each DAG runs with `dag.test()`:
real Airflow task instances, in dependency order (ingest each day, then transform), without a
scheduler. After the quality gate certifies the newest day, the cross-sell campaign runs for it
(e-mail to the stack's local SMTP outbox; Telegram, without a bot, recorded in the send log). Ends
with a summary of what each layer holds and of what the campaign did.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from unittest import mock
from zoneinfo import ZoneInfo

from liftoff import settings
from liftoff.orchestration import TIMEZONE, logical_date_of
from liftoff.private_files import PRIVATE_UMASK

# Tables counted in the summary, by layer.
LAYER_TABLES = (
    ("raw", "raw.suppliers"),
    ("raw", "raw.products"),
    ("raw", "raw.employees"),
    ("raw", "raw.customers"),
    ("raw", "raw.sales"),
    ("bronze", "bronze.bronze_sales"),
    ("silver", "silver.suppliers"),
    ("silver", "silver.products"),
    ("silver", "silver.employees"),
    ("silver", "silver.customers"),
    ("silver", "silver.sales"),
    ("gold", "gold.daily_sales"),
    ("gold", "gold.daily_product_sales"),
    ("gold", "gold.employee_sales_7d"),
    ("gold", "gold.category_best_sellers"),
    ("gold", "gold.customer_latest_purchase"),
)


def demo_days(days: int, today: date | None = None) -> list[date]:
    """The `days` complete business days before today (Brasília time), oldest first."""
    today = today or datetime.now(ZoneInfo(TIMEZONE)).date()
    return [today - timedelta(days=offset) for offset in range(days, 0, -1)]


@contextmanager
def runs_start_now() -> Iterator[None]:
    """Runs made by `dag.test()` start now, not at their logical date.

    Airflow 3.3's DAG.test creates its run with `start_date=logical_date or run_after`
    (airflow/sdk/definitions/dag.py, through airflow.models.dagrun.get_or_create_dagrun, which it
    imports when called): a run for yesterday showed a duration of a day and more in the Airflow UI,
    and anything reading the run's start (the campaign's fresh-day rule) saw the data day instead
    of today. dag.test takes no start date, so this hands get_or_create_dagrun the real one.
    """
    from airflow.models import dagrun
    from airflow.sdk import timezone

    create = dagrun.get_or_create_dagrun

    def started_now(**kwargs):
        return create(**{**kwargs, "start_date": timezone.utcnow()})

    with mock.patch.object(dagrun, "get_or_create_dagrun", started_now):
        yield


def run_dag(dag, day: date, **conf):
    """One run of `dag` for the data day `day` (started now); exits if it did not succeed."""
    logical_date = logical_date_of(day)
    started = time.monotonic()
    with runs_start_now():
        dag_run = dag.test(logical_date=logical_date, run_conf=conf or None)
    state = str(getattr(dag_run, "state", "unknown"))
    print(f"  {dag.dag_id:<22} {day.isoformat()}  {state:<8} {time.monotonic() - started:5.1f} s")
    if "success" not in state:
        raise SystemExit(f"liftoff: {dag.dag_id} failed for {day}; see the task logs above")
    return dag_run


def forget_queued_asset_runs(dag_ids: list[str]) -> int:
    """Drop the Asset-triggered runs the demo's own runs queued for `dag_ids`; how many.

    `dag.test` emits the Assets as a scheduled run would, so the metadata DB queues a transform,
    a gate and a campaign for DAGs the demo has already run by hand; the next `make up` (DAGs
    un-paused) would start them all again. The demo ran them, so nothing is left to do.
    """
    from airflow.models.asset import AssetDagRunQueue
    from airflow.utils.session import create_session

    with create_session() as session:
        queued = session.query(AssetDagRunQueue).filter(AssetDagRunQueue.target_dag_id.in_(dag_ids))
        return queued.delete(synchronize_session=False)


def count_rows(dsn: str) -> list[tuple[str, str, int | None]]:
    import psycopg

    counts = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        for label, table in LAYER_TABLES:
            exists = conn.execute("select to_regclass(%s)", (table,)).fetchone()[0]
            number = conn.execute(f"select count(*) from {table}").fetchone()[0] if exists else None  # noqa: S608 (constant names)
            counts.append((label, table, number))
    return counts


def quarantine_summary(dsn: str, first: date, last: date) -> list[tuple[str, str, int]]:
    """Quarantined records of the demo days by entity and headline reason, largest first."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        if conn.execute("select to_regclass('raw.quarantine')").fetchone()[0] is None:
            return []
        return conn.execute(
            "select entity, field || ' ' || reason, count(*) from raw.quarantine"
            " where logical_date between %s and %s group by 1, 2 order by 3 desc, 1, 2",
            (first, last),
        ).fetchall()


# The DAGs that run on Assets, which the demo runs by hand.
PIPELINE_AFTER_INGEST = ("transform_warehouse", "quality_gate", "cross_sell_campaign")
# The newest demo day is yesterday, the latest complete day: fresh, so no forced send is needed.
CAMPAIGN_CONF = {"dry_run": False, "send_stale_day": False, "logical_date": None}


def print_campaign(dsn: str, day: date) -> None:
    from liftoff.campaign.config import campaign_id_for
    from liftoff.campaign.summaries import campaign_report, outbox_messages

    report = campaign_report(dsn, campaign_id_for(day))
    print(f"\nCross-sell campaign {report.campaign_id} ({report.status})")
    for channel in report.channels:
        states = ", ".join(f"{label} {number:,}" for label, number in channel.states.items()) or "nothing"
        print(f"  {channel.channel:<9} audience {channel.audience_size:>6,}: {states}")
    sources = ", ".join(f"{source} {number}" for source, number in sorted(report.copy_sources().items()))
    print(f"  segments  {len(report.segments):>6,} (copy by {sources or 'nobody'})")
    for segment in report.segments[:3]:
        print(f"    {segment.customers:>5,} customers  [{segment.copy_source}] {segment.subject}")
    if any("recorded, not sent" in channel.states for channel in report.channels):
        print("  recorded: no Telegram bot configured; the messages are kept in campaign.send_log (body)")
    if report.sample_subject:
        print(f"  sample subject: {report.sample_subject}")
    outbox = settings.outbox_dir()
    print(f"  outbox: {outbox} (Maildir, {outbox_messages(outbox):,} messages)")


def crm_extraction_summary(lake_url: str, days: list[date], since: datetime) -> str:
    """How the CRM API's records reached the landing zone in this demo: the days whose Airbyte state
    the ingest runs saved after `since` (aware), and the records the connector read."""
    import json

    from liftoff.ingest.airbyte_extract import DEFAULT_CONNECTION, state_path

    extracted, records = 0, 0
    for day in days:
        path = state_path(lake_url, DEFAULT_CONNECTION, day)
        saved = json.loads(path.read_text()) if path.exists() else {}
        if saved.get("extracted_at") and datetime.fromisoformat(saved["extracted_at"]) >= since:
            extracted += 1
            records += sum(saved["records"].values())
    if not extracted:
        return (
            f"CRM API: not extracted (no `{settings.CRM_API_CONN_ID}` connection; "
            "see the extract_crm task's log)"
        )
    return (
        f"CRM API: extracted by the Airbyte connector (PyAirbyte, include/airbyte/crm/manifest.yaml) "
        f"on {extracted} of {len(days)} days, {records:,} changed records read"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=7)
    args = parser.parse_args(argv)
    # The landing zone's Parquet (customers' e-mails and phones), GX data docs and logs this run
    # writes are the owner's only, even when started outside `make demo` (which already sets it).
    os.umask(PRIVATE_UMASK)

    from airflow.dag_processing.dagbag import DagBag

    dagbag = DagBag(dag_folder=str(settings.DAGS_FOLDER))
    if dagbag.import_errors:
        for path, error in dagbag.import_errors.items():
            print(f"liftoff: cannot import {path}:\n{error}", file=sys.stderr)
        return 1
    days = demo_days(args.days)
    print(f"LiftOff demo: {len(days)} days, {days[0]} to {days[-1]}")
    ingest_began = datetime.now(ZoneInfo("UTC"))
    # The ingest DAG's Airbyte connector reads the CRM API: the stack's own is served meanwhile
    # (unless `make up` serves it already).
    from liftoff.devstack.stack import crm_api_serving

    with crm_api_serving(dict(os.environ)):
        for day in days:
            # The first day is the warehouse's first sync: the CRM's whole state, then daily changes.
            run_dag(dagbag.dags["ingest_crm"], day, full_refresh=day == days[0])
    print(f"  {crm_extraction_summary(settings.lake_url(), days, ingest_began)}")
    # One transform for the newest day builds every layer over all the landed days.
    run_dag(dagbag.dags["transform_warehouse"], days[-1])
    # The gate certifies the newest day's gold, which the campaign then runs on. Every flag said:
    # dag.test keeps a previous run's conf in the DAG's params.
    run_dag(dagbag.dags["quality_gate"], days[-1])
    run_dag(dagbag.dags["cross_sell_campaign"], days[-1], **CAMPAIGN_CONF)
    forget_queued_asset_runs(list(PIPELINE_AFTER_INGEST))

    from liftoff.connections import warehouse_dsn

    dsn = warehouse_dsn()
    print("\nRows per layer")
    for label, table, number in count_rows(dsn):
        print(f"  {label:<7} {table:<32} {'missing' if number is None else f'{number:>10,}'}")
    print("\nQuarantined (invalid records kept with their reasons in raw.quarantine)")
    for entity, reason, number in quarantine_summary(dsn, days[0], days[-1]):
        print(f"  {entity:<10} {number:>6,}  {reason}")
    from liftoff.quality.gate import data_docs_url

    print_campaign(dsn, days[-1])
    print(f"\nLanding zone: {settings.lake_url()}")
    print(f"Quality gate findings: table quality.results; data docs {data_docs_url(settings.lake_url())}")
    print("Dashboard and Airflow UI: `make up`, then http://127.0.0.1:8501 and http://127.0.0.1:8080")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
