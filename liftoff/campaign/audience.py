"""The campaign's recipients: the dbt model gold.cross_sell_audience for the data day, plus what
a message needs (addresses, price, segment, batch) and why anyone is skipped.

Who gets which recommendation is decided in one place, the dbt model (built by the transform and
certified by the quality gate); include/sql/campaign_recipients.sql only copies the day's rows and
adds addresses. include/sql/campaign_skip_reasons.sql holds the rules applied at plan and send
time (stale day, channel off, opt-outs, bought since, contact cap), each recorded with its reason.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from liftoff import sql_files
from liftoff.campaign.config import AudienceRules

log = logging.getLogger(__name__)

RECIPIENTS_SQL = "campaign_recipients.sql"
SKIP_REASONS_SQL = "campaign_skip_reasons.sql"
CHANNELS = ("email", "telegram")
ADDRESS_COLUMNS = {"email": "customer_email", "telegram": "telegram_chat_id"}


class AudienceMissing(RuntimeError):
    """gold.cross_sell_audience does not exist: the transform has not built it yet."""


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
    """The campaign schema's tables: the warehouse upgraded to its latest migration (a no-op at
    head; serialised against concurrent runs)."""
    from liftoff.warehouse import migrate

    migrate.upgrade(dsn)


def build_audience(
    dsn: str,
    campaign_id: str,
    day: date,
    rules: AudienceRules | None = None,
    *,
    status: str = "planned",
    status_detail: str | None = None,
) -> int:
    """Copy the audience model's rows for `day` into campaign.recipients; returns their number.

    The snapshot of an earlier run of the same campaign is replaced in the same transaction. The
    send log is never touched here: whoever it already holds as sent stays sent. `status` 'dry run'
    never overwrites the status of a campaign a real run planned.
    """
    rules = rules or AudienceRules()
    with psycopg.connect(dsn) as conn:
        if conn.execute("select to_regclass('gold.cross_sell_audience')").fetchone()[0] is None:
            raise AudienceMissing(
                "gold.cross_sell_audience does not exist: run the transform (dbt) before the campaign"
            )
        conn.execute(
            "insert into campaign.campaigns (campaign_id, logical_date, status, status_detail,"
            " contact_cap_days) values (%(id)s, %(day)s, %(status)s, %(detail)s, %(cap)s)"
            " on conflict (campaign_id) do update set"
            " status = case when excluded.status = 'dry run' then campaigns.status else excluded.status end,"
            " status_detail = case when excluded.status = 'dry run' then campaigns.status_detail"
            " else excluded.status_detail end,"
            " contact_cap_days = excluded.contact_cap_days",
            {
                "id": campaign_id,
                "day": day,
                "status": status,
                "detail": status_detail,
                "cap": rules.contact_cooldown_days,
            },
        )
        stored = conn.execute(
            "select logical_date from campaign.campaigns where campaign_id = %s", (campaign_id,)
        ).fetchone()[0]
        if stored != day:
            raise ValueError(f"campaign {campaign_id} belongs to logical date {stored}, not {day}")
        conn.execute("delete from campaign.recipients where campaign_id = %s", (campaign_id,))
        sql_files.execute(
            conn,
            RECIPIENTS_SQL,
            {"campaign_id": campaign_id, "logical_date": day, "batch_size": rules.batch_size},
        )
        size = conn.execute(
            "select count(*) from campaign.recipients where campaign_id = %s", (campaign_id,)
        ).fetchone()[0]
    if size == 0:
        log.warning("campaign %s: gold.cross_sell_audience has no rows for %s", campaign_id, day)
    log.info("campaign %s (%s): audience of %d customers", campaign_id, day, size)
    return size


def skip_reasons(
    conn: psycopg.Connection,
    campaign_id: str,
    *,
    channels: Sequence[str] = CHANNELS,
    active_channels: Sequence[str] = CHANNELS,
    customer_ids: Sequence[int] | None = None,
    stale_day: bool = False,
) -> dict[tuple[int, str], str]:
    """(customer, channel) → why that message must not go out now (campaign_skip_reasons.sql)."""
    rows = sql_files.execute(
        conn,
        SKIP_REASONS_SQL,
        {
            "campaign_id": campaign_id,
            "channels": list(channels),
            "active_channels": list(active_channels),
            "customer_ids": None if customer_ids is None else list(customer_ids),
            "stale_day": stale_day,
        },
    ).fetchall()
    return {(customer, channel): reason for customer, channel, reason in rows}


def mark_skipped(conn: psycopg.Connection, campaign_id: str, reasons: dict[tuple[int, str], str]) -> int:
    """Pending rows with a reason become `skipped` with it; returns how many changed."""
    if not reasons:
        return 0
    with conn.cursor() as cursor:
        cursor.executemany(
            "update campaign.send_log set status = 'skipped', skip_reason = %s, detail = %s,"
            " updated_at = now()"
            " where campaign_id = %s and customer_id = %s and channel = %s and status = 'pending'",
            [
                (reason, reason, campaign_id, customer, channel)
                for (customer, channel), reason in sorted(reasons.items())
            ],
        )
        return cursor.rowcount


# The plan's reasons as a relation (three parallel arrays), for the two updates below.
_UNSKIP = """
    with reasons as (
        select * from unnest(%(customers)s::bigint[], %(channels)s::text[], %(reasons)s::text[])
            as r (customer_id, channel, reason)
    )
    update campaign.send_log as l
    set status = 'pending', skip_reason = null, detail = null, updated_at = now()
    from campaign.recipients as recipients
    where l.campaign_id = %(campaign)s and l.status = 'skipped'
        and recipients.campaign_id = l.campaign_id and recipients.customer_id = l.customer_id
        and not exists (
            select from reasons as r where r.customer_id = l.customer_id and r.channel = l.channel
        )
"""
_SKIP = """
    with reasons as (
        select * from unnest(%(customers)s::bigint[], %(channels)s::text[], %(reasons)s::text[])
            as r (customer_id, channel, reason)
    )
    update campaign.send_log as l
    set status = 'skipped', skip_reason = r.reason, detail = r.reason, updated_at = now()
    from reasons as r
    where l.campaign_id = %(campaign)s and l.customer_id = r.customer_id and l.channel = r.channel
        and (l.status = 'pending' or (l.status = 'skipped' and l.skip_reason is distinct from r.reason))
"""


def plan_send_log(
    dsn: str,
    campaign_id: str,
    day: date,
    *,
    active_channels: Sequence[str] = CHANNELS,
    stale_day: bool = False,
) -> dict[str, int]:
    """One send-log row per recipient and reachable channel: `pending`, or `skipped` with its reason.

    A re-plan of the same campaign re-evaluates every row not yet final: a skip whose reason no
    longer holds (a forced send of a stale day, a channel switched on) is pending again, a row
    whose reason is unchanged is left alone (a rerun changes no row). A pending row of a customer
    no longer in the day's audience (the model was rebuilt) is skipped as 'opted out' when an
    opt-out explains it, else 'not in audience'. Rows sent, failed or in flight are never touched.
    Returns the number of skips by reason.
    """
    with psycopg.connect(dsn) as conn:
        for channel, column in ADDRESS_COLUMNS.items():
            conn.execute(
                sql.SQL(
                    "insert into campaign.send_log (campaign_id, customer_id, channel, logical_date)"
                    " select campaign_id, customer_id, %s, %s from campaign.recipients"
                    " where campaign_id = %s and {} is not null on conflict do nothing"
                ).format(sql.Identifier(column)),
                (channel, day, campaign_id),
            )
        reasons = skip_reasons(conn, campaign_id, active_channels=active_channels, stale_day=stale_day)
        keys = sorted(reasons)
        arrays = {
            "campaign": campaign_id,
            "customers": [customer for customer, _ in keys],
            "channels": [channel for _, channel in keys],
            "reasons": [reasons[key] for key in keys],
        }
        conn.execute(_UNSKIP, arrays)
        conn.execute(_SKIP, arrays)
        left = conn.execute(
            "update campaign.send_log as l set status = 'skipped', updated_at = now(),"
            " skip_reason = case when exists (select from campaign.consent_exclusions as e"
            " where e.customer_id = l.customer_id and e.channel in (l.channel, 'all'))"
            " then 'opted out' else 'not in audience' end, detail = 'no longer in the audience'"
            " where l.campaign_id = %s and l.status = 'pending' and not exists ("
            " select from campaign.recipients as r where r.campaign_id = l.campaign_id"
            " and r.customer_id = l.customer_id and case l.channel when 'email'"
            " then r.customer_email is not null else r.telegram_chat_id is not null end)",
            (campaign_id,),
        ).rowcount
    counts: dict[str, int] = {}
    for reason in reasons.values():
        counts[reason] = counts.get(reason, 0) + 1
    if left:
        counts["not in audience"] = left
    log.info("campaign %s: skipped at plan time by reason %s", campaign_id, counts)
    return counts


def batch_numbers(dsn: str, campaign_id: str, channel: str, *, dry_run: bool = False) -> list[int]:
    """The batches that hold a message still to send on `channel` (the mapped tasks); for a dry
    run, every batch with a recipient reachable on it (everything is rendered, nothing sent)."""
    if channel not in ADDRESS_COLUMNS:
        raise ValueError(f"unknown channel {channel!r}; expected one of {sorted(ADDRESS_COLUMNS)}")
    if dry_run:
        query = sql.SQL(
            "select distinct batch_number from campaign.recipients"
            " where campaign_id = %s and {} is not null order by 1"
        ).format(sql.Identifier(ADDRESS_COLUMNS[channel]))
        parameters: tuple = (campaign_id,)
    else:
        query = sql.SQL(
            "select distinct recipients.batch_number from campaign.recipients as recipients"
            " inner join campaign.send_log as send_log on send_log.campaign_id = recipients.campaign_id"
            " and send_log.customer_id = recipients.customer_id and send_log.channel = %s"
            " where recipients.campaign_id = %s and send_log.status in ('pending', 'sending') order by 1"
        )
        parameters = (channel, campaign_id)
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(query, parameters).fetchall()
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
