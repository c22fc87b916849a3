"""The campaign's audience: who gets which recommendation, computed in the warehouse.

The rules live in include/sql/campaign_audience.sql; this module applies the campaign schema,
runs that query for one campaign (replacing any earlier snapshot of the same campaign, so a
re-run is idempotent) and reads it back batch by batch for the mapped delivery tasks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from liftoff import settings
from liftoff.campaign import sqlfiles
from liftoff.campaign.config import AudienceRules

log = logging.getLogger(__name__)

AUDIENCE_SQL = "campaign_audience.sql"
TABLES_SQL = "campaign_tables.sql"


@dataclass(frozen=True)
class Recipient:
    """One customer of a campaign with their recommendation; addresses come from the CRM only."""

    customer_id: int
    first_name: str
    customer_email: str | None
    telegram_chat_id: int | None
    last_product_name: str
    last_category: str
    recommended_product_id: int
    recommended_product_name: str
    recommended_description: str | None
    recommended_price: Decimal
    segment_key: str


@dataclass(frozen=True)
class Segment:
    """What one LLM call writes copy for: a recommended product × the category of the last purchase."""

    segment_key: str
    last_category: str
    recommended_product_id: int
    recommended_product_name: str
    recommended_description: str | None
    recommended_price: Decimal
    customers: int


def ensure_campaign_tables(dsn: str) -> None:
    """Apply include/sql/campaign_tables.sql (idempotent; serialised against concurrent runs)."""
    ddl = (settings.SQL_DIR / TABLES_SQL).read_text()
    with psycopg.connect(dsn) as conn:
        conn.execute("select pg_advisory_xact_lock(hashtext('liftoff.campaign_tables'))")
        conn.execute(ddl)


def build_audience(dsn: str, campaign_id: str, day: date, rules: AudienceRules | None = None) -> int:
    """Compute the campaign's audience into campaign.recipients; returns its size.

    The snapshot of an earlier run of the same campaign is replaced in the same transaction. The
    send log is never touched here: whoever it already holds as sent stays sent.
    """
    rules = rules or AudienceRules()
    params = {
        "campaign_id": campaign_id,
        "logical_date": day,
        "recent_days": rules.recent_days,
        "best_seller_months": rules.best_seller_months,
        "contact_cooldown_days": rules.contact_cooldown_days,
        "batch_size": rules.batch_size,
    }
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "insert into campaign.campaigns (campaign_id, logical_date) values (%s, %s)"
            " on conflict (campaign_id) do nothing",
            (campaign_id, day),
        )
        stored = conn.execute(
            "select logical_date from campaign.campaigns where campaign_id = %s", (campaign_id,)
        ).fetchone()[0]
        if stored != day:
            raise ValueError(f"campaign {campaign_id} belongs to logical date {stored}, not {day}")
        conn.execute("delete from campaign.recipients where campaign_id = %s", (campaign_id,))
        conn.execute(sqlfiles.load(AUDIENCE_SQL), params)
        size = conn.execute(
            "select count(*) from campaign.recipients where campaign_id = %s", (campaign_id,)
        ).fetchone()[0]
    log.info("campaign %s (%s): audience of %d customers", campaign_id, day, size)
    return size


def batch_numbers(dsn: str, campaign_id: str, channel: str) -> list[int]:
    """The batches that hold at least one recipient reachable on `channel` (the mapped tasks)."""
    columns = {"email": "customer_email", "telegram": "telegram_chat_id"}
    if channel not in columns:
        raise ValueError(f"unknown channel {channel!r}; expected one of {sorted(columns)}")
    query = sql.SQL(
        "select distinct batch_number from campaign.recipients"
        " where campaign_id = %s and {} is not null order by 1"
    ).format(sql.Identifier(columns[channel]))
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(query, (campaign_id,)).fetchall()
    return [row[0] for row in rows]


def load_batch(conn: psycopg.Connection, campaign_id: str, batch_number: int) -> list[Recipient]:
    """The recipients of one batch, in customer order."""
    with conn.cursor(row_factory=class_row(Recipient)) as cursor:
        cursor.execute(
            """
            select customer_id, first_name, customer_email, telegram_chat_id, last_product_name,
                   last_category, recommended_product_id, recommended_product_name,
                   recommended_description, recommended_price, segment_key
            from campaign.recipients
            where campaign_id = %s and batch_number = %s
            order by customer_id
            """,
            (campaign_id, batch_number),
        )
        return cursor.fetchall()


def segments(dsn: str, campaign_id: str) -> list[Segment]:
    """The campaign's segments, the unit the copywriter writes for."""
    with psycopg.connect(dsn) as conn, conn.cursor(row_factory=class_row(Segment)) as cursor:
        cursor.execute(
            """
            select segment_key, last_category, recommended_product_id, recommended_product_name,
                   recommended_description, recommended_price, count(*)::integer as customers
            from campaign.recipients
            where campaign_id = %s
            group by segment_key, last_category, recommended_product_id, recommended_product_name,
                     recommended_description, recommended_price
            order by segment_key collate "C"
            """,
            (campaign_id,),
        )
        return cursor.fetchall()
