"""Reliability under faults, through the real DAGs run by Airflow itself (`dag.test()`).

1. The warehouse stops in the middle of the transform's `dbt build` and comes back: the retried
   tasks succeed and every table ends exactly as an uninterrupted run leaves it.
2. The SMTP server is down for the first attempt of every e-mail batch: Airflow's retries deliver
   each message exactly once.
3. The LLM times out or answers garbage: template copy, and the campaign still sends.
4. Telegram answers 429: the send task waits as told (`retry_after`) and delivers once.

How retries run here. `dag.test()` in Airflow 3.3 is a small scheduler loop (DAG.test in
airflow/sdk/definitions/dag.py): a task that fails with retries left goes to `up_for_retry`, and
the loop runs it again as the next try once its retry delay has passed. So these tests use
Airflow's own retries, not a clear-and-rerun; they only shorten the delay (production: 30 s,
exponential) to a few seconds. Each outage is ended by `OnCall`, a thread that watches the run in
Airflow's metadata DB (or the warehouse) and acts as the person on call would: stop the warehouse
once dbt is building, restart it once the build has failed; start the mail server once every
batch has failed.

The warehouse of test 1 is a second embedded Postgres cluster (own port and folder): the test
cluster also holds Airflow's metadata DB, which must stay up. The campaign tests send from copies
of the same warehouse (built once per module).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg import sql

from liftoff import settings
from liftoff.campaign.config import campaign_id_for
from liftoff.campaign.send_log import message_id
from liftoff.devstack import stack
from liftoff.devstack.postgres import EmbeddedPostgres
from liftoff.ingest.simulator import SimulatorConfig
from liftoff.orchestration import TIMEZONE
from tests.services.openai_api import VALID_COPY, openai_api
from tests.services.smtp_server import Inbox, free_port, serve, smtp_server
from tests.services.telegram_api import telegram_api
from tests.snapshots import snapshot
from tests.warehouses import dbt_build, simulate_days

DAY = date(2026, 6, 17)
CONFIG = SimulatorConfig(sales_per_day=60, dirty_rate=0.0)
CAMPAIGN = campaign_id_for(DAY)
RETRY_DELAY = timedelta(seconds=1)
PRODUCER_TASK = "dbt.dbt_producer_watcher"


# -- helpers ------------------------------------------------------------------------------------


def parse_dag(dag_id: str, retry_delay: timedelta = RETRY_DELAY):
    """The DAG as the DAG processor sees it, with retries `retry_delay` apart (module docstring)."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(settings.DAGS_FOLDER))
    assert bag.import_errors == {}
    dag = bag.dags[dag_id]
    for task in dag.tasks:
        assert task.retries >= 2, f"{task.task_id} has no retries to survive an outage with"
        task.retry_delay = retry_delay
        task.retry_exponential_backoff = False
    return dag


def at(hour: int) -> datetime:
    return datetime(DAY.year, DAY.month, DAY.day, hour, tzinfo=ZoneInfo(TIMEZONE))


def task_instances(
    dag_id: str, logical: datetime, task_id: str
) -> list[tuple[int, str | None, int, datetime | None]]:
    """(map index, state, try number, start) of a task's instances in the run of `logical`, read
    from Airflow's metadata DB (from any thread: its own connection)."""
    url = os.environ[stack.METADATA_ENV].replace("postgresql+psycopg2://", "postgresql://", 1)
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select ti.map_index, ti.state, ti.try_number, ti.start_date from task_instance as ti"
            " join dag_run as run on run.dag_id = ti.dag_id and run.run_id = ti.run_id"
            " where ti.dag_id = %s and run.logical_date = %s and ti.task_id = %s order by ti.map_index",
            (dag_id, logical, task_id),
        ).fetchall()


def each_failed_once(dag_id: str, logical: datetime, task_id: str) -> Callable[[], bool]:
    """True once every instance of the task (of this run, started from now on) has failed at least
    once: it waits for its retry, or is on one already."""
    since = datetime.now(UTC)

    def check() -> bool:
        found = task_instances(dag_id, logical, task_id)
        return bool(found) and all(
            (state == "up_for_retry" or tries >= 2) and started is not None and started >= since
            for _, state, tries, started in found
        )

    return check


class OnCall(threading.Thread):
    """Does each (condition, action) step in order, once its condition holds: the person on call."""

    def __init__(self, *steps: tuple[Callable[[], bool], Callable[[], object]], timeout_s: float = 240):
        super().__init__(daemon=True)
        self.steps = steps
        self.timeout_s = timeout_s
        self.done = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        deadline = time.monotonic() + self.timeout_s
        try:
            for condition, action in self.steps:
                while not condition():
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"step {self.done + 1}: its condition never held")
                    time.sleep(0.02)
                action()
                self.done += 1
        except BaseException as error:  # reported by finish(), in the test's thread
            self.error = error

    def finish(self) -> None:
        self.join(timeout=30)
        assert self.error is None, f"on-call step {self.done + 1} failed: {self.error!r}"
        assert self.done == len(self.steps), f"only {self.done} of {len(self.steps)} on-call steps ran"


def states(dag_run) -> dict[tuple[str, int], tuple[str, int]]:
    """(task id, map index) → (state, try number) of every task instance of a finished run."""
    return {
        (ti.task_id, ti.map_index): (str(ti.state).rsplit(".", 1)[-1].lower(), ti.try_number)
        for ti in dag_run.get_task_instances()
    }


# -- 1. the warehouse stops mid-build -----------------------------------------------------------


class GoldRebuilt:
    """A condition: true once all but `left` of gold's table models have been rebuilt by dbt.

    dbt builds a table model beside the old table and renames it into place, so the relation's
    OID changes at its commit. Stopping the warehouse with a few left means models in flight are
    cut off mid-transaction and the rest never start. Why not earlier: each node the outage leaves
    undone is re-run by its own task's retry, one `dbt build` invocation (~8 s here) per model,
    with its tests; an outage at the first silver model re-runs ~50 nodes (~7 min), which proves
    nothing more than a handful does."""

    def __init__(self, dsn: str, left: int) -> None:
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.before = self._oids()
        self.left = left
        self.rebuilt: list[str] = []
        assert len(self.before) > left, "too few gold tables to stop the build among them"

    def _oids(self) -> dict[str, int]:
        return dict(
            self.conn.execute(
                "select c.relname, c.oid::bigint from pg_class as c"
                " join pg_namespace as n on n.oid = c.relnamespace"
                " where n.nspname = 'gold' and c.relkind = 'r' and c.relname not like '%%\\_\\_dbt\\_%%'"
            ).fetchall()
        )

    def __call__(self) -> bool:
        now = self._oids()
        self.rebuilt = sorted(name for name, oid in self.before.items() if now.get(name, oid) != oid)
        if len(self.rebuilt) >= len(self.before) - self.left:
            self.conn.close()  # before the server stops
            return True
        return False


def use_warehouse(monkeypatch: pytest.MonkeyPatch, pg: EmbeddedPostgres, database: str) -> None:
    """Point the `warehouse` Airflow connection at `database` on `pg`."""
    conn = {"conn_type": "postgres", "host": pg.host, "port": pg.port, "login": "postgres"}
    conn |= {"password": pg.password(), "schema": database}
    monkeypatch.setenv(stack.WAREHOUSE_CONN_ENV, json.dumps(conn))


@pytest.fixture(scope="module")
def warehouse_cluster(tmp_path_factory) -> Iterator[EmbeddedPostgres]:
    """A second embedded cluster: `wh`, the warehouse the outage hits, and `ref`, a copy of it
    that the same day's transform builds without interruption (the campaign tests copy it too).

    Both hold two simulated days; silver and gold are built up to the first, so the faulted run
    of the second day updates the incremental models (delete+insert) like a daily run."""
    # Under the test state folder, not tmp_path: as root the server runs as its own account, which
    # must traverse every parent folder, and pytest keeps its temporary root private (0700).
    root = Path(tempfile.mkdtemp(prefix="fault-warehouse-", dir=settings.state_dir()))
    pg = EmbeddedPostgres(root=root, port=free_port())
    try:
        pg.ensure_running()
        pg.ensure_database("wh")
        lake = tmp_path_factory.mktemp("lake").as_uri()
        simulate_days(pg.url("wh"), lake, DAY - timedelta(days=1), DAY, CONFIG)
        dbt_build(pg.url("wh"), DAY - timedelta(days=1), DAY - timedelta(days=1))
        with psycopg.connect(pg.url("postgres"), autocommit=True) as conn:
            conn.execute("create database ref template wh")
        dbt_build(pg.url("ref"), DAY, DAY)
        yield pg
    finally:
        pg.stop()
        shutil.rmtree(root)


def test_a_warehouse_stopped_mid_build_ends_as_an_uninterrupted_run(
    warehouse_cluster, lake, monkeypatch, airflow_db
):
    pg = warehouse_cluster
    warehouse, reference = pg.url("wh"), pg.url("ref")
    use_warehouse(monkeypatch, pg, "wh")
    transform = parse_dag("transform_warehouse")  # parsed now: Cosmos keeps the connection it saw
    logical = at(1)

    gold_rebuilt = GoldRebuilt(warehouse, left=5)
    producer_failed = lambda: any(  # noqa: E731
        state in ("up_for_retry", "failed")
        for _, state, _, _ in task_instances(transform.dag_id, logical, PRODUCER_TASK)
    )
    on_call = OnCall((gold_rebuilt, pg.stop), (producer_failed, pg.ensure_running))
    on_call.start()
    # dbt_docs (after the gold Asset) is marked done instead of run: its `dbt docs generate`
    # costs ~15 s and proves nothing here.
    dag_run = transform.test(logical_date=logical, mark_success_pattern="dbt_docs")
    on_call.finish()

    assert "success" in str(dag_run.state), f"transform ended {dag_run.state}"
    ran = states(dag_run)
    # The outage hit the build: the producer failed; its retry hands over to the model tasks
    # (Cosmos's watcher skips a second `dbt build`), which re-ran what dbt had not finished.
    assert ran[(PRODUCER_TASK, -1)] == ("skipped", 2)
    retried = sorted(task for (task, _), (_, tries) in ran.items() if tries > 1 and task != PRODUCER_TASK)
    assert any(task.startswith("dbt.gold_") and task.endswith("_run") for task in retried), retried
    # ... and only that: the models dbt finished before the outage (silver) report the producer's
    # result, saved when it failed, on the first try. A silver model that shares a relationship
    # test with a gold model (e.g. the audience's customer_id) is the exception: the outage left
    # that test undone, so its verdict fails the silver model's task, whose retry builds the
    # model and runs its tests again (`dbt build`).
    silver = {
        task: tried
        for (task, _), tried in ran.items()
        if task.startswith("dbt.silver_") and task.endswith("_run")
    }
    assert {state for state, _ in silver.values()} == {"success"}, silver
    gold_tests = {
        test
        for task in transform.tasks
        if task.task_id.startswith("dbt.gold_")
        for test in getattr(task, "tests", ())
    }
    with_gold = {task for task in silver if gold_tests.intersection(transform.get_task(task).tests)}
    alone = set(silver) - with_gold
    assert alone
    assert {silver[task] for task in alone} == {("success", 1)}, silver
    assert {task for task, (_, tries) in silver.items() if tries > 1} <= with_gold, silver

    # Nothing half-written: every table equals the uninterrupted run's, no leftovers of dbt's
    # build-beside-and-rename, and the incremental sales hold each sale once.
    assert snapshot(warehouse) == snapshot(reference)
    with psycopg.connect(warehouse) as conn:
        leftovers = conn.execute(
            "select relname from pg_class where relname like '%%\\_\\_dbt\\_tmp%%'"
            " or relname like '%%\\_\\_dbt\\_backup%%'"
        ).fetchall()
        duplicates = conn.execute(
            "select sale_id from silver.sales group by sale_id having count(*) > 1"
        ).fetchall()
        days = conn.execute("select count(distinct sale_date) from silver.sales").fetchone()[0]
    assert leftovers == []
    assert duplicates == []
    assert days >= 2


# -- the campaign: a copy per test of the warehouse built above ---------------------------------


@pytest.fixture
def campaign_warehouse(warehouse_cluster, monkeypatch) -> Iterator[str]:
    """A fresh copy of `ref` (gold built for DAY, nothing sent yet); only the services a test
    starts exist."""
    pg = warehouse_cluster
    pg.ensure_running()  # whatever the outage test left
    name = f"faults_wh_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg.url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("create database {} template ref").format(sql.Identifier(name)))
    use_warehouse(monkeypatch, pg, name)
    monkeypatch.setenv("LIFTOFF_UNSUBSCRIBE_SECRET", "fault-test-secret-of-at-least-32-bytes")
    for conn_id in ("SMTP_DEFAULT", "TELEGRAM_DEFAULT", "LLM"):
        monkeypatch.delenv(f"AIRFLOW_CONN_{conn_id}", raising=False)
    try:
        yield pg.url(name)
    finally:
        with psycopg.connect(pg.url("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def campaign_dag(airflow_db):
    # Ten seconds: in the SMTP test every batch (4 at a time) should fail once before the first
    # retry, also on a busy machine, so that each is delivered by its first retry.
    return parse_dag("cross_sell_campaign", retry_delay=timedelta(seconds=10))


def run_campaign(dag, logical: datetime, channels: list[str]):
    # dag.test keeps a previous run's conf in the DAG's params: every knob is said explicitly.
    conf = {
        "dry_run": False,
        "send_stale_day": True,
        "batch_size": 7,
        "channels": channels,
        "llm_budget_usd": None,
    }
    dag_run = dag.test(logical_date=logical, run_conf=conf)
    assert "success" in str(dag_run.state), f"campaign ended {dag_run.state}"
    return dag_run


def audience(dsn: str) -> tuple[list[str], list[int]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "select customer_email, telegram_chat_id from campaign.recipients where campaign_id = %s",
            (CAMPAIGN,),
        ).fetchall()
    return sorted(e for e, _ in rows if e), sorted(c for _, c in rows if c)


def send_log(dsn: str, channel: str) -> list[tuple[int, str, int, str | None]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "select customer_id, status, attempts, message_id from campaign.send_log"
            " where campaign_id = %s and channel = %s order by customer_id",
            (CAMPAIGN, channel),
        ).fetchall()


# -- 2. the SMTP server is down for the first attempts ------------------------------------------


def test_smtp_down_at_first_then_retries_deliver_each_email_once(
    campaign_dag, campaign_warehouse, monkeypatch
):
    inbox = Inbox(port=free_port())  # the connection names its port; nothing listens there yet
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", inbox.connection_json())
    logical = at(6)
    with ExitStack() as servers:
        on_call = OnCall(
            (
                each_failed_once(campaign_dag.dag_id, logical, "send_email"),
                lambda: servers.enter_context(serve(inbox)),
            )
        )
        on_call.start()
        dag_run = run_campaign(campaign_dag, logical, ["email"])
        on_call.finish()

    emails, _ = audience(campaign_warehouse)
    batches = {key: value for key, value in states(dag_run).items() if key[0] == "send_email"}
    assert len(batches) > 1
    # Every batch failed at least once, then a retry delivered it (normally the first retry; on a
    # very busy machine an early batch may have used its second before the server was up).
    assert all(state == "success" and tries >= 2 for state, tries in batches.values()), batches
    failed_tries = sum(tries - 1 for _, tries in batches.values())
    assert emails
    assert sorted(to for _, [to] in inbox.envelopes) == emails  # each address exactly once
    logged = send_log(campaign_warehouse, "email")
    assert {status for _, status, _, _ in logged} == {"sent"}
    assert len(logged) == len(emails)
    # Each failed try claimed one message (its batch's first) and handed it back: every claim
    # beyond one per message is a failed try's, and none was sent twice.
    assert sum(attempts for _, _, attempts, _ in logged) == len(emails) + failed_tries
    assert sum(1 for _, _, attempts, _ in logged if attempts > 1) == len(batches)
    received_ids = sorted(m["Message-ID"] for m in inbox.messages())
    assert received_ids == sorted(f"<{mid}@liftoff.example>" for _, _, _, mid in logged)
    assert all(mid == message_id(CAMPAIGN, customer, "email") for customer, _, _, mid in logged)
    with psycopg.connect(campaign_warehouse) as conn:
        summary = conn.execute(
            "select sent, failed from gold.campaign_summaries where channel = 'email'"
        ).fetchall()
    assert summary == [(len(emails), 0)]


# -- 3. the LLM times out or answers garbage -----------------------------------------------------

GARBAGE = "Desculpe, não posso ajudar com isso. <br> {{ oferta }}"
WITH_A_LINK = json.dumps({**VALID_COPY, "email_copy": "Compre já em https://golpe.example/oferta agora!"})


def test_llm_timeouts_and_garbage_give_template_copy_and_the_campaign_sends(
    campaign_dag, campaign_warehouse, monkeypatch
):
    with openai_api() as llm, smtp_server() as inbox, telegram_api() as bot:

        def answer(request: dict) -> str:
            """By arrival: too slow (a valid answer the client must not wait for), prose, a link."""
            mode = (len(llm.requests) - 1) % 3
            if mode == 0:
                time.sleep(2)
                return json.dumps(VALID_COPY, ensure_ascii=False)
            return GARBAGE if mode == 1 else WITH_A_LINK

        llm.answer = answer
        monkeypatch.setenv("AIRFLOW_CONN_LLM", llm.connection_json(budget_usd=5, timeout_seconds=0.5))
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", inbox.connection_json())
        monkeypatch.setenv("AIRFLOW_CONN_TELEGRAM_DEFAULT", bot.connection_json())
        dag_run = run_campaign(campaign_dag, at(7), ["email", "telegram"])

        emails, chats = audience(campaign_warehouse)
        with psycopg.connect(campaign_warehouse) as conn:
            copies = conn.execute(
                "select copy_source, fallback_reason from campaign.segment_copy where campaign_id = %s",
                (CAMPAIGN,),
            ).fetchall()
        assert len(copies) >= 3, "too few segments to see every fault"
        assert states(dag_run)[("write_copy", -1)] == ("success", 1)  # a fallback, not a failure
        assert len(llm.requests) == len(copies)  # one call per segment, no retry storm
        assert {source for source, _ in copies} == {"template"}
        reasons = [reason.split(":", 1)[0] for _, reason in copies]
        assert reasons.count("timeout after 0.5 s") == (len(copies) + 2) // 3
        assert reasons.count("invalid output") == len(copies) - (len(copies) + 2) // 3

        assert sorted(to for _, [to] in inbox.envelopes) == emails
        assert sorted(m["chat_id"] for m in bot.messages) == chats
        bodies = [m.get_body(("plain",)).get_content() for m in inbox.messages()]
        bodies += [m["text"] for m in bot.messages]
        assert all("campeão" in body or "campeões" in body for body in bodies)  # the template's
        assert not any("golpe" in body or "Desculpe" in body or VALID_COPY["telegram_text"] in body
                       for body in bodies)  # fmt: skip


# -- 4. Telegram answers 429 --------------------------------------------------------------------


def test_telegram_429_is_waited_out_as_told_and_each_chat_gets_one_message(
    campaign_dag, campaign_warehouse, monkeypatch
):
    with telegram_api() as bot:
        bot.rate_limit_first = 3
        bot.retry_after = 1
        monkeypatch.setenv("AIRFLOW_CONN_TELEGRAM_DEFAULT", bot.connection_json())
        dag_run = run_campaign(campaign_dag, at(8), ["telegram"])

    _, chats = audience(campaign_warehouse)
    assert chats
    assert sorted(m["chat_id"] for m in bot.messages) == chats  # each chat exactly once
    sends = {key: value for key, value in states(dag_run).items() if key[0] == "send_telegram"}
    assert set(sends.values()) == {("success", 1)}  # waited inside the task, no task failure
    # Every request after a 429 came no sooner than the retry_after it was given.
    arrivals = [*bot.limited_at, min(m["at"] for m in bot.messages)]
    assert len(bot.limited_at) == 3
    assert all(later - earlier >= bot.retry_after for earlier, later in pairwise(arrivals))
    logged = send_log(campaign_warehouse, "telegram")
    assert [(status, attempts) for _, status, attempts, _ in logged] == [("sent", 1)] * len(chats)
