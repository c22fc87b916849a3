"""The campaign's steps as the DAG runs them: plan, write copy, summarise.

Each step is idempotent for its campaign id (the logical date): a retry or a re-run repeats it
without changing the outcome, and delivery (liftoff.campaign.mail / .telegram) never sends twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import psycopg
from psycopg.rows import dict_row

from liftoff import settings
from liftoff.campaign.audience import (
    CHANNELS,
    batch_numbers,
    build_audience,
    ensure_campaign_tables,
    plan_send_log,
    segments,
)
from liftoff.campaign.config import AudienceRules, campaign_id_for
from liftoff.campaign.consent import sync_crm_opt_outs
from liftoff.campaign.copywriter import Copywriter, TemplateCopywriter, store_segment_copy
from liftoff.campaign.summaries import build_summaries

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChannelSummary:
    """One row of gold.campaign_summaries: audience = sent + recorded + skipped + failed + pending."""

    campaign_id: str
    logical_date: str
    channel: str
    campaign_status: str
    audience_size: int
    sent: int
    recorded: int
    skipped: int
    skipped_opted_out: int
    skipped_contact_cap: int
    skipped_already_bought: int
    skipped_no_channel: int
    skipped_stale_day: int
    skipped_not_in_audience: int
    failed: int
    pending: int


STALE_DAY = "skipped: stale day"


def day_age(day: date, started_at: datetime) -> int:
    """Whole Brasília calendar days from the data day to the day the run started (1: yesterday)."""
    return (started_at.astimezone(ZoneInfo(settings.BUSINESS_TIMEZONE)).date() - day).days


def is_stale_day(day: date, started_at: datetime | None, max_day_age: int) -> bool:
    """True when the data day is older than `max_day_age` days at the run's start (now if not
    started). The default 1 allows only the latest complete day (D = yesterday in Brasília); a
    backfill of old days is stale."""
    return day_age(day, started_at or datetime.now(UTC)) > max_day_age


def active_channels(selected: Sequence[str]) -> list[str]:
    """The channels this run plans messages on: selected, and with a connection to send through,
    or Telegram without one (its messages are recorded, not sent: liftoff.campaign.telegram). The
    rest are skipped as 'no channel', so the summary says why nothing went out on them."""
    from liftoff.campaign.config import SMTP_CONN_ID, TELEGRAM_CONN_ID
    from liftoff.notify.email import smtp_configured
    from liftoff.notify.telegram import telegram_configured

    configured = {"email": smtp_configured(SMTP_CONN_ID), "telegram": telegram_configured(TELEGRAM_CONN_ID)}
    recorded_without_connection = {"telegram"}
    active = [
        channel
        for channel in CHANNELS
        if channel in selected and (configured[channel] or channel in recorded_without_connection)
    ]
    for channel in CHANNELS:
        if channel not in active:
            why = "not selected" if channel not in selected else "no connection"
            log.warning(
                "channel %s is off for this run (%s): its messages are skipped as 'no channel'", channel, why
            )
        elif not configured[channel]:
            log.warning(
                "channel %s has no connection: its messages are recorded in the send log, not sent", channel
            )
    return active


def plan_campaign(
    dsn: str,
    day: date,
    rules: AudienceRules | None = None,
    *,
    crm_dsn: str | None = None,
    dry_run: bool = False,
    stale_day: bool = False,
    active_channels: Sequence[str] = CHANNELS,
) -> dict:
    """Apply the schema, read the CRM's opt-outs, copy the day's audience (gold.cross_sell_audience)
    and record, per recipient and channel, a pending message or the reason it is skipped.

    A stale day plans everything as `skipped: stale day` and sends nothing. A dry run records no
    send log. Returns what the later tasks need, as plain values.
    """
    ensure_campaign_tables(dsn)
    sync_crm_opt_outs(dsn, crm_dsn)  # ConsentUnavailable stops the run before anyone is planned
    campaign_id = campaign_id_for(day)
    status = "dry run" if dry_run else STALE_DAY if stale_day else "planned"
    detail = f"data day {day} is too old to send about" if stale_day else None
    size = build_audience(dsn, campaign_id, day, rules, status=status, status_detail=detail)
    skipped: dict[str, int] = {}
    if not dry_run:
        skipped = plan_send_log(dsn, campaign_id, day, active_channels=active_channels, stale_day=stale_day)
    if stale_day:
        log.warning(
            "campaign %s: data day %s is stale: %d recipients recorded as '%s', nothing will be sent"
            " (send_stale_day=True forces a send)",
            campaign_id,
            day,
            size,
            STALE_DAY,
        )
    return {
        "campaign_id": campaign_id,
        "logical_date": day.isoformat(),
        "status": status,
        "audience_size": size,
        "skipped": skipped,
        "batches": {
            channel: batch_numbers(dsn, campaign_id, channel, dry_run=dry_run) for channel in CHANNELS
        },
    }


def write_copy(dsn: str, campaign_id: str, copywriter: Copywriter | None = None) -> dict[str, int]:
    """One copy per segment (recommended product × category of the last purchase)."""
    from liftoff.campaign.llm import usage_of

    with psycopg.connect(dsn) as conn:
        status = conn.execute(
            "select status from campaign.campaigns where campaign_id = %s", (campaign_id,)
        ).fetchone()
    if status and status[0] == STALE_DAY:
        log.info("campaign %s: %s, no copy written", campaign_id, STALE_DAY)
        return {}
    found = segments(dsn, campaign_id)
    counts = store_segment_copy(dsn, campaign_id, found, copywriter or TemplateCopywriter())
    log.info(
        "campaign %s: %d segments, copy by source %s; LLM use so far %s",
        campaign_id,
        len(found),
        counts,
        usage_of(dsn, campaign_id),
    )
    return counts


def send_batch(dsn: str, channel: str, campaign_id: str, batch_number: int, *, dry_run: bool) -> dict:
    """Deliver one batch of one channel (a mapped task of the DAG); the batch's counts."""
    from liftoff.campaign.config import Links
    from liftoff.campaign.consent import unsubscribe_secret

    if channel == "email":
        from liftoff.campaign.mail import send_email_batch as send
    elif channel == "telegram":
        from liftoff.campaign.telegram import send_telegram_batch as send
    else:
        raise ValueError(f"no channel {channel!r}: the campaign sends by email or telegram")
    result = send(
        dsn, campaign_id, batch_number, Links.from_environment(), unsubscribe_secret(), dry_run=dry_run
    )
    return asdict(result)


def summarise(dsn: str, campaign_id: str, *, dry_run: bool = False) -> list[ChannelSummary]:
    """Per channel: audience, sent, skipped by reason, failed, pending.

    A real run marks the campaign finished and builds the dbt model gold.campaign_summaries (the
    dashboard's table) and reads its rows back. A dry run records nothing: its summary counts the
    recipients per channel, none sent.
    """
    with psycopg.connect(dsn) as conn:
        if not dry_run:
            conn.execute(
                "update campaign.campaigns set finished_at = now(),"
                " status = case when status = %s then status else 'finished' end"
                " where campaign_id = %s",
                (STALE_DAY, campaign_id),
            )
    if dry_run:
        with psycopg.connect(dsn) as conn:
            rows = conn.execute(
                """
                select campaigns.logical_date, channels.channel, count(recipients.customer_id)
                from campaign.campaigns
                cross join (values ('email'), ('telegram')) as channels (channel)
                left join campaign.recipients as recipients
                    on recipients.campaign_id = campaigns.campaign_id
                    and case channels.channel when 'email' then recipients.customer_email is not null
                        else recipients.telegram_chat_id is not null end
                where campaigns.campaign_id = %s
                group by campaigns.logical_date, channels.channel order by channels.channel
                """,
                (campaign_id,),
            ).fetchall()
        summaries = [
            ChannelSummary(
                campaign_id, day.isoformat(), channel, "dry run", size, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, size
            )
            for day, channel, size in rows
        ]
    else:
        build_summaries(dsn)
        with psycopg.connect(dsn) as conn, conn.cursor(row_factory=dict_row) as cursor:
            cursor.execute(
                "select * from gold.campaign_summaries where campaign_id = %s order by channel",
                (campaign_id,),
            )
            summaries = [
                ChannelSummary(
                    **{
                        name: row[name].isoformat() if name == "logical_date" else row[name]
                        for name in ChannelSummary.__dataclass_fields__
                    }
                )
                for row in cursor.fetchall()
            ]
    for summary in summaries:
        log.info("campaign summary %s", asdict(summary))
    return summaries


def summary_text(summaries: list[ChannelSummary], dry_run: bool) -> str:
    """The one message the sales team's chat gets per run."""
    if not summaries:
        return "Campanha: nenhuma"
    head = f"Campanha {summaries[0].campaign_id}" + (" (simulação, nada enviado)" if dry_run else "")
    if summaries[0].campaign_status == STALE_DAY:
        head += f" ({summaries[0].logical_date}: dia antigo, nada enviado)"
    lines = [
        f"{s.channel}: público {s.audience_size}, enviados {s.sent}"
        + (f", registrados sem envio {s.recorded}" if s.recorded else "")
        + f", ignorados {s.skipped}"
        f" (descadastro {s.skipped_opted_out}, limite de contato {s.skipped_contact_cap},"
        f" já comprou {s.skipped_already_bought}, sem canal {s.skipped_no_channel},"
        f" dia antigo {s.skipped_stale_day}), falhas {s.failed}"
        for s in summaries
    ]
    return "\n".join([head, *lines])


def finish_campaign(dsn: str, campaign_id: str, *, dry_run: bool = False) -> list[dict]:
    """Summarise (stored unless a dry run), tell the sales team, and fail if anything is pending:
    a batch that gave up after its retries must not end as a green run."""
    summaries = summarise(dsn, campaign_id, dry_run=dry_run)
    from liftoff.campaign.telegram import notify_sales_team

    notify_sales_team(summary_text(summaries, dry_run))
    pending = {s.channel: s.pending for s in summaries if s.pending}
    if pending and not dry_run:
        raise RuntimeError(
            f"campaign {campaign_id}: messages still pending after delivery {pending}; "
            "clear the failed batch's cause and re-run the campaign (nothing already sent is re-sent)"
        )
    return [asdict(s) for s in summaries]
