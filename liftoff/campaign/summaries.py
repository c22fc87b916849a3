"""gold.campaign_summaries, the dbt model (include/dbt/models/gold/campaign), built on demand.

The campaign's summarise step builds just this model (and its tests: the counts must add up)
with dbt's Python entry point, in the task's own process, as Cosmos's watcher runs the transform:
a plain function rather than a Cosmos operator, so the DAG, the runner's tests and the benchmarks
build it the same way. The model also builds with every transform, so lineage and docs cover it.

`campaign_report` reads a finished campaign back for people (what `make demo` prints): a plain
function over the campaign's tables, so tests check exactly what the demo shows.
"""

from __future__ import annotations

import logging
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from liftoff import settings
from liftoff.transform import dbt_runner

log = logging.getLogger(__name__)

MODEL = "gold_campaign_summaries"
# The dashboard's views over the campaign's copy and send log (cheap: views), built here too so
# the Campanhas page can read them even where no transform has run since they were added.
VIEWS = ("gold_campaign_copy", "gold_campaign_messages")


class SummariesBuildFailed(RuntimeError):
    """dbt could not build gold.campaign_summaries (or one of its tests failed)."""


def build_summaries(dsn: str) -> None:
    """`dbt build --select gold_campaign_summaries` against the warehouse at `dsn`."""
    project = str(settings.DBT_PROJECT_DIR)
    with tempfile.TemporaryDirectory(prefix="campaign-summaries-") as scratch:
        arguments = [
            "--quiet", "build", "--select", MODEL, *VIEWS, "--exclude-resource-type", "unit_test",
            "--project-dir", project, "--profiles-dir", project, "--target", settings.DBT_TARGET,
            "--target-path", scratch, "--log-path", scratch,
        ]  # fmt: skip
        result = dbt_runner.invoke(dsn, arguments)
    if not result.success:
        raise SummariesBuildFailed(f"dbt build of {MODEL} failed: {result.exception or result.result}")
    log.info("built gold.campaign_summaries")


# --- What a campaign did, for people (`make demo`): read back from its own tables -----------------

# gold.campaign_summaries' outcome columns, in the order a report lists them.
OUTCOMES = (
    ("sent", "sent"),
    ("recorded", "recorded, not sent"),
    ("skipped_opted_out", "skipped: opted out"),
    ("skipped_contact_cap", "skipped: contact cap"),
    ("skipped_already_bought", "skipped: already bought"),
    ("skipped_no_channel", "skipped: no channel"),
    ("skipped_stale_day", "skipped: stale day"),
    ("skipped_not_in_audience", "skipped: not in audience"),
    ("failed", "failed"),
    ("pending", "pending"),
)


@dataclass(frozen=True)
class ChannelReport:
    """One channel of a campaign: its audience and how many messages ended in each state (only
    the states that occurred, in OUTCOMES order)."""

    channel: str
    audience_size: int
    states: dict[str, int]


@dataclass(frozen=True)
class SegmentReport:
    """One segment (recommended product × category of the last purchase) and who wrote its copy."""

    segment_key: str
    customers: int
    copy_source: str
    subject: str


@dataclass(frozen=True)
class CampaignReport:
    campaign_id: str
    logical_date: date
    status: str
    channels: list[ChannelReport]
    segments: list[SegmentReport]
    sample_subject: str | None

    def copy_sources(self) -> dict[str, int]:
        """Segments by copywriter: `llm` (written now), `llm-cache`, `template`."""
        return dict(Counter(segment.copy_source for segment in self.segments))


def campaign_report(dsn: str, campaign_id: str) -> CampaignReport:
    """The campaign as its summarise step left it: per channel from gold.campaign_summaries, each
    segment's copy from campaign.segment_copy, and the subject of a message actually sent (else of
    the largest segment). LookupError if the campaign has no summary (it never finished)."""
    import psycopg

    columns = ", ".join(name for name, _ in OUTCOMES)
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            f"select campaign_id, logical_date, campaign_status, channel, audience_size, {columns}"  # noqa: S608 (constant names)
            " from gold.campaign_summaries where campaign_id = %s order by channel",
            (campaign_id,),
        ).fetchall()
        if not rows:
            raise LookupError(f"campaign {campaign_id} has no gold.campaign_summaries row (never finished)")
        segments = conn.execute(
            """
            select copy.segment_key, count(recipients.customer_id)::integer, copy.copy_source, copy.subject
            from campaign.segment_copy as copy
            left join campaign.recipients as recipients
                on recipients.campaign_id = copy.campaign_id and recipients.segment_key = copy.segment_key
            where copy.campaign_id = %s
            group by copy.segment_key, copy.copy_source, copy.subject
            order by 2 desc, 1
            """,
            (campaign_id,),
        ).fetchall()
        sent = conn.execute(
            """
            select copy.subject
            from campaign.send_log as send_log
            inner join campaign.recipients as recipients
                on recipients.campaign_id = send_log.campaign_id
                and recipients.customer_id = send_log.customer_id
            inner join campaign.segment_copy as copy
                on copy.campaign_id = send_log.campaign_id and copy.segment_key = recipients.segment_key
            where send_log.campaign_id = %s and send_log.channel = 'email' and send_log.status = 'sent'
            order by send_log.sent_at, send_log.customer_id
            limit 1
            """,
            (campaign_id,),
        ).fetchone()
    labels = [label for _, label in OUTCOMES]
    channels = [
        ChannelReport(
            channel=row[3],
            audience_size=row[4],
            states={label: number for label, number in zip(labels, row[5:], strict=True) if number},
        )
        for row in rows
    ]
    segment_reports = [SegmentReport(*segment) for segment in segments]
    sample = sent[0] if sent else segment_reports[0].subject if segment_reports else None
    return CampaignReport(rows[0][0], rows[0][1], rows[0][2], channels, segment_reports, sample)


def outbox_messages(outbox: Path) -> int:
    """Messages in the local outbox (a Maildir: new/ and cur/); 0 when it does not exist yet."""
    import mailbox

    if not (outbox / "new").is_dir():
        return 0
    return len(mailbox.Maildir(outbox, create=False))
