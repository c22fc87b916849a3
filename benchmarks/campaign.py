"""The cross-sell campaign at scale: LLM calls per segment, e-mail throughput, total time.

    python -m benchmarks.campaign --audience 10000     (inside the stack: `make bench-campaign`)

Builds silver tables for an audience of N recent buyers (50 products in 5 categories, plus older
sales that rank them), then runs the campaign's steps as the DAG's tasks do, batch after batch:
plan (schema + audience SQL), write_copy through the LLM copywriter (the openai SDK against the
chat-completions double of tests/services: no model runs here), every e-mail batch through the
SMTP provider to a real local SMTP server (aiosmtpd, in its own process), and the summary. Figures:
- LLM calls made versus segments (the aim: no more calls than segments);
- e-mails per second through the campaign (render + send log + SMTP) versus a bare smtplib loop
  sending the very same rendered messages over one session to the same server;
- the same batches sent again by two processes at once (as two mapped `send_email` tasks run)
  against one process, each on a send log emptied first: how sending scales with send tasks;
- the time of each step and of the whole campaign.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import smtplib
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING

from benchmarks.results import publish

if TYPE_CHECKING:
    from tests.services.openai_api import ChatCompletionsDouble

DAY = date(2026, 11, 20)
SECRET = b"benchmark-unsubscribe-secret-of-32-bytes-or-more"


def build_silver(dsn: str, audience: int) -> None:
    """N customers with a purchase in the last 3 days, 2,000 older buyers who rank the products,
    and the campaign's gold models built on them by dbt."""
    import psycopg

    from tests.campaign.shop import SILVER_DDL

    fans = 2000
    with psycopg.connect(dsn) as conn:
        conn.execute(SILVER_DDL)
        conn.execute(
            """
            insert into silver.products
            select g, 'Produto ' || g, 'Descrição do produto ' || g, 'Categoria ' || (g % 5), 10 + g * 3.5
            from generate_series(1, 50) as g
            """
        )
        conn.execute(
            """
            insert into silver.customers
            select g, 'Nome' || g, 'Silva', 'cliente' || g || '@example.com', null
            from generate_series(1, %(n)s::integer) as g
            """,
            {"n": audience + fans},
        )
        # Older sales: product p sold (p % 17 + 1) times per 100 fans, so categories have a ranking.
        conn.execute(
            """
            insert into silver.sales
            select row_number() over (), c, 1 + (c * 7 + s) %% 50, 50, %(day)s::date - 20,
                   (%(day)s::date - 20)::timestamptz
            from generate_series(%(first)s::integer, %(last)s::integer) as c, generate_series(1, 3) as s
            """,
            {"day": DAY, "first": audience + 1, "last": audience + fans},
        )
        conn.execute(
            """
            insert into silver.sales
            select 1000000 + c, c, 1 + c %% 50, 50, %(day)s::date - c %% 3,
                   (%(day)s::date - c %% 3)::timestamptz + interval '12 hours'
            from generate_series(1, %(n)s::integer) as c
            """,
            {"day": DAY, "n": audience},
        )
    # The audience is the dbt model gold.cross_sell_audience (built by the transform in
    # production): built here before the clock starts, so `plan_s` measures the campaign's plan.
    from liftoff.campaign.audience import ensure_campaign_tables
    from tests.campaign.shop import build_campaign_gold

    ensure_campaign_tables(dsn)
    build_campaign_gold(dsn, DAY)


def quiet_imports() -> None:
    """Import the heavy modules first (a worker has them loaded; importing Airflow also resets
    logging), then quiet the per-message loggers, whose console output would be what gets measured."""
    import logging

    import openai  # noqa: F401
    from airflow.providers.smtp.hooks.smtp import SmtpHook  # noqa: F401
    from airflow.sdk import BaseHook  # noqa: F401

    for noisy in ("mail.log", "httpx", "httpx2", "liftoff.campaign", "airflow"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@contextmanager
def delivery_services() -> Iterator[tuple[dict, ChatCompletionsDouble]]:
    """A real SMTP server (aiosmtpd, its own process) and the chat-completions double, wired in as
    the `smtp_default` and `llm` connections; Telegram unset, so only e-mail is delivered.
    Yields the server's live counters (messages, sessions) and the double (its requests)."""
    from tests.services.openai_api import openai_api
    from tests.services.smtp_server import Inbox, smtp_server_process

    with smtp_server_process() as server, openai_api() as llm:
        os.environ["AIRFLOW_CONN_SMTP_DEFAULT"] = Inbox(port=server["port"]).connection_json()
        os.environ["AIRFLOW_CONN_LLM"] = llm.connection_json(budget_usd=5)
        os.environ.pop("AIRFLOW_CONN_TELEGRAM_DEFAULT", None)
        yield server, llm


def run(audience: int, batch_size: int) -> dict:
    quiet_imports()
    from benchmarks.ingest import fresh_database
    from liftoff.campaign.audience import load_batch
    from liftoff.campaign.config import AudienceRules, Links
    from liftoff.campaign.copywriter import load_segment_copy
    from liftoff.campaign.llm import copywriter_from_connection, usage_of
    from liftoff.campaign.mail import render_email, send_email_batch
    from liftoff.campaign.runner import plan_campaign, summarise, write_copy
    from tests.services.smtp_server import smtp_server_process

    dsn = fresh_database("liftoff_bench_campaign")
    build_silver(dsn, audience)
    links = Links()
    figures: dict = {"audience_requested": audience, "batch_size": batch_size}
    with delivery_services() as (server, llm):
        started = time.perf_counter()
        plan = plan_campaign(dsn, DAY, AudienceRules(batch_size=batch_size))
        figures["plan_s"] = time.perf_counter() - started
        campaign_id = plan["campaign_id"]

        step = time.perf_counter()
        counts = write_copy(dsn, campaign_id, copywriter_from_connection(dsn))
        figures["copy_s"] = time.perf_counter() - step
        figures["segments"] = sum(counts.values())
        figures["llm_calls"] = len(llm.requests)
        figures["llm_usage"] = usage_of(dsn, campaign_id)

        step = time.perf_counter()
        for batch in plan["batches"]["email"]:
            send_email_batch(dsn, campaign_id, batch, links, SECRET)
        figures["email_s"] = time.perf_counter() - step
        summaries = summarise(dsn, campaign_id)
        figures["campaign_s"] = time.perf_counter() - started
        email = next(s for s in summaries if s.channel == "email")
        figures["audience"] = plan["audience_size"]
        figures["emails_sent"] = email.sent
        figures["email_batches"] = len(plan["batches"]["email"])
    figures["emails_received"] = server["messages"]
    figures["smtp_sessions"] = server["sessions"]

    # The reference: the same rendered messages, a bare smtplib loop, one session, same server.
    import psycopg

    with psycopg.connect(dsn) as conn:
        copies = load_segment_copy(conn, campaign_id)
        messages = [
            render_email(r, copies[r.segment_key], campaign_id, links, SECRET)
            for batch in plan["batches"]["email"]
            for r in load_batch(conn, campaign_id, batch)
        ]
    with smtp_server_process() as server:
        step = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", server["port"]) as client:
            for message in messages:
                client.send_message(message)
        figures["bare_smtplib_s"] = time.perf_counter() - step
    figures["bare_smtplib_messages"] = server["messages"]
    with smtp_server_process() as server:
        from tests.services.smtp_server import Inbox

        os.environ["AIRFLOW_CONN_SMTP_DEFAULT"] = Inbox(port=server["port"]).connection_json()
        batches = plan["batches"]["email"]
        for workers in (1, PARALLEL_SEND_TASKS):
            seconds, sent = send_in_processes(dsn, campaign_id, batches, links, workers)
            figures[f"send_{workers}_processes_s"] = seconds
            figures[f"send_{workers}_processes_per_s"] = sent / seconds
            figures[f"send_{workers}_processes_sent"] = sent
    figures["parallel_messages_received"] = server["messages"]  # counted once the server stops
    figures["parallel_send_speedup"] = (
        figures[f"send_{PARALLEL_SEND_TASKS}_processes_per_s"] / figures["send_1_processes_per_s"]
    )
    figures["emails_per_s"] = figures["emails_sent"] / figures["email_s"]
    figures["bare_smtplib_per_s"] = figures["bare_smtplib_messages"] / figures["bare_smtplib_s"]
    figures["campaign_vs_bare"] = figures["emails_per_s"] / figures["bare_smtplib_per_s"]
    return figures


PARALLEL_SEND_TASKS = 2


def _start_worker() -> None:
    """Nothing: submitted once per process so the pool's processes exist before the clock starts."""


def _send_batch(args: tuple) -> int:
    from liftoff.campaign.mail import send_email_batch

    dsn, campaign_id, batch, links = args
    return send_email_batch(dsn, campaign_id, batch, links, SECRET).sent


def send_in_processes(
    dsn: str, campaign_id: str, batches: list[int], links, workers: int
) -> tuple[float, int]:
    """Seconds to send every e-mail batch with `workers` processes taking the next batch as they
    free up (what Airflow does with mapped send tasks and `workers` free slots), and e-mails sent.
    The campaign's e-mail send log is emptied first, so every message is sent again."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        conn.execute(
            "delete from campaign.send_log where campaign_id = %s and channel = 'email'", (campaign_id,)
        )
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        for started in [pool.submit(_start_worker) for _ in range(workers)]:
            started.result()
        step = time.perf_counter()
        sent = sum(pool.map(_send_batch, [(dsn, campaign_id, batch, links) for batch in batches]))
        return time.perf_counter() - step, sent


def report(figures: dict) -> None:
    lines = [
        f"| figure (audience {figures['audience']:,}, batches of {figures['batch_size']}) | value |",
        "| --- | --- |",
        f"| LLM calls / segments | {figures['llm_calls']} / {figures['segments']} |",
        f"| plan (schema + audience SQL) | {figures['plan_s']:.2f} s |",
        f"| copy (one call per segment) | {figures['copy_s']:.2f} s |",
        f"| e-mails through the campaign (render + send log + SMTP) | {figures['emails_per_s']:,.0f} /s"
        f" ({figures['emails_sent']:,} in {figures['email_s']:.2f} s, {figures['smtp_sessions']} sessions) |",
        f"| bare smtplib loop, same messages and server (reference) | {figures['bare_smtplib_per_s']:,.0f} /s"
        f" ({figures['bare_smtplib_s']:.2f} s) |",
        f"| campaign speed / bare loop speed | {figures['campaign_vs_bare']:.2f} |",
        f"| the same batches, one process | {figures['send_1_processes_per_s']:,.0f} /s"
        f" ({figures['send_1_processes_s']:.2f} s) |",
        f"| the same batches, {PARALLEL_SEND_TASKS} processes at once | "
        f"{figures[f'send_{PARALLEL_SEND_TASKS}_processes_per_s']:,.0f} /s"
        f" ({figures[f'send_{PARALLEL_SEND_TASKS}_processes_s']:.2f} s) |",
        f"| {PARALLEL_SEND_TASKS} processes / one | {figures['parallel_send_speedup']:.2f} |",
        f"| whole campaign (plan → copy → e-mails → summary) | {figures['campaign_s']:.2f} s |",
    ]
    publish("campaign", figures, lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--audience", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args(argv)
    figures = run(args.audience, args.batch_size)
    report(figures)
    every_send = [figures[f"send_{n}_processes_sent"] for n in (1, PARALLEL_SEND_TASKS)]
    complete = figures["emails_received"] == figures["emails_sent"] == figures["audience"]
    resent = every_send == [figures["audience"]] * 2 == [figures["parallel_messages_received"] / 2] * 2
    return 0 if complete and resent else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
