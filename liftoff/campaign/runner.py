"""The campaign's steps as the DAG runs them: plan, write copy, summarise.

Each step is idempotent for its campaign id (the logical date): a retry or a re-run repeats it
without changing the outcome, and delivery (liftoff.campaign.mail / .telegram) never sends twice.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import date

import psycopg

from liftoff.campaign.audience import batch_numbers, build_audience, ensure_campaign_tables, segments
from liftoff.campaign.config import AudienceRules, campaign_id_for
from liftoff.campaign.copywriter import Copywriter, TemplateCopywriter, store_segment_copy

log = logging.getLogger(__name__)

CHANNELS = ("email", "telegram")


@dataclass(frozen=True)
class ChannelSummary:
    campaign_id: str
    logical_date: str
    channel: str
    audience_size: int
    sent: int
    skipped: int
    failed: int
    pending: int


def plan_campaign(dsn: str, day: date, rules: AudienceRules | None = None) -> dict:
    """Apply the schema and build the audience; what the later tasks need, as plain values."""
    ensure_campaign_tables(dsn)
    campaign_id = campaign_id_for(day)
    size = build_audience(dsn, campaign_id, day, rules)
    return {
        "campaign_id": campaign_id,
        "logical_date": day.isoformat(),
        "audience_size": size,
        "batches": {channel: batch_numbers(dsn, campaign_id, channel) for channel in CHANNELS},
    }


def write_copy(dsn: str, campaign_id: str, copywriter: Copywriter | None = None) -> dict[str, int]:
    """One copy per segment (recommended product × category of the last purchase)."""
    from liftoff.campaign.llm import usage_of

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


def summarise(dsn: str, campaign_id: str, *, store: bool = True) -> list[ChannelSummary]:
    """Per channel: audience, sent, skipped, failed (and still pending), stored for the dashboard
    (gold.campaign_summaries) unless this is a dry run."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            """
            with reachable as (
                select 'email' as channel, count(customer_email) as audience_size
                from campaign.recipients where campaign_id = %(campaign)s
                union all
                select 'telegram', count(telegram_chat_id)
                from campaign.recipients where campaign_id = %(campaign)s
            ),
            outcomes as (
                select channel,
                       count(*) filter (where status = 'sent') as sent,
                       count(*) filter (where status = 'skipped') as skipped,
                       count(*) filter (where status = 'failed') as failed,
                       count(*) filter (where status in ('pending', 'sending')) as pending
                from campaign.send_log where campaign_id = %(campaign)s group by channel
            )
            select campaigns.logical_date, reachable.channel, reachable.audience_size::integer,
                   coalesce(outcomes.sent, 0)::integer, coalesce(outcomes.skipped, 0)::integer,
                   coalesce(outcomes.failed, 0)::integer, coalesce(outcomes.pending, 0)::integer
            from reachable
            cross join campaign.campaigns
            left join outcomes on outcomes.channel = reachable.channel
            where campaigns.campaign_id = %(campaign)s
            order by reachable.channel
            """,
            {"campaign": campaign_id},
        ).fetchall()
        summaries = [
            ChannelSummary(campaign_id, day.isoformat(), channel, size, sent, skipped, failed, pending)
            for day, channel, size, sent, skipped, failed, pending in rows
        ]
        if store:
            for summary in summaries:
                conn.execute(
                    """
                    insert into campaign.run_summaries (campaign_id, logical_date, channel, audience_size,
                        sent, skipped, failed, finished_at)
                    values (%s, %s, %s, %s, %s, %s, %s, now())
                    on conflict (campaign_id, channel) do update set
                        audience_size = excluded.audience_size, sent = excluded.sent,
                        skipped = excluded.skipped, failed = excluded.failed,
                        finished_at = excluded.finished_at
                    """,
                    (
                        campaign_id,
                        summary.logical_date,
                        summary.channel,
                        summary.audience_size,
                        summary.sent,
                        summary.skipped,
                        summary.failed,
                    ),
                )
    for summary in summaries:
        log.info("campaign summary %s", asdict(summary))
    return summaries


def summary_text(summaries: list[ChannelSummary], dry_run: bool) -> str:
    """The one message the sales team's chat gets per run."""
    if not summaries:
        return "Campanha: nenhuma"
    head = f"Campanha {summaries[0].campaign_id}" + (" (simulação, nada enviado)" if dry_run else "")
    lines = [
        f"{s.channel}: público {s.audience_size}, enviados {s.sent}, ignorados {s.skipped}, falhas {s.failed}"
        for s in summaries
    ]
    return "\n".join([head, *lines])


def finish_campaign(dsn: str, campaign_id: str, *, dry_run: bool = False) -> list[dict]:
    """Summarise (stored unless a dry run), tell the sales team, and fail if anything is pending:
    a batch that gave up after its retries must not end as a green run."""
    summaries = summarise(dsn, campaign_id, store=not dry_run)
    from liftoff.campaign.telegram import notify_sales_team

    notify_sales_team(summary_text(summaries, dry_run))
    pending = {s.channel: s.pending for s in summaries if s.pending}
    if pending and not dry_run:
        raise RuntimeError(
            f"campaign {campaign_id}: messages still pending after delivery {pending}; "
            "clear the failed batch's cause and re-run the campaign (nothing already sent is re-sent)"
        )
    return [asdict(s) for s in summaries]
