"""The send log: each (campaign, customer, channel) is handed to a server at most once, ever.

Protocol for one batch (every statement commits on its own):

1. claim: insert a `pending` row per recipient (`on conflict do nothing`: a retry or a re-run of
   the same campaign finds the rows it already has, in whatever state);
2. rows a crashed attempt left in `sending` become `failed` with "outcome unknown" (see below);
3. the plan's rules are checked again for the rows still `pending` (include/sql/
   campaign_skip_reasons.sql): a customer who opted out, bought the recommended product, or was
   reached by another campaign since the plan becomes `skipped` with that reason;
4. per message: `pending` → `sending` (a conditional update, so two workers never both win),
   hand the message to the server, then `sending` → `sent` (in the same statement that claims
   the next message, so a message costs one commit). A refusal for this recipient is
   `failed`; an error that means the server did not take the message (connection lost, 4xx)
   puts the row back to `pending` and fails the task, so Airflow's retry sends it then.
   While that commit is under way, a channel may prepare the next message as far as it hands
   nothing over (e-mail: render it, send the SMTP envelope, MAIL FROM and RCPT TO); the message
   itself (DATA) goes only once the claim has committed, and the envelope is reset if the claim
   was lost. A crash meanwhile leaves an envelope and no message: the server delivers nothing.

The one window no protocol closes without the receiver's help is between the server accepting a
message and the `sent` update committing (a worker killed right there). We choose
**at-most-once** for that window: the row stays `sending`, and the next attempt records it as
failed ("outcome unknown") instead of sending again. A duplicate marketing message annoys a
customer and breaks the promise of the send log; a lost one costs one recommendation. Every other
crash point (before the hand-off, between messages, between batches) resumes exactly once: the
retry sends only what is still `pending`. Each message carries a deterministic Message-ID
(campaign, customer, channel), so a receiving system can deduplicate too.

A channel with no way to send (Telegram without a bot token) goes through the same protocol with
`recorded` in place of `sent`: each message that would have gone out is rendered and kept in the
row (`body`, detail saying why), never handed to anyone and never counted as delivered. Like
`sent`, `recorded` is final: a later run of the campaign with the channel configured leaves it
alone (migration 0002 says why).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import date
from typing import Protocol

import psycopg

from liftoff.campaign.audience import Recipient, load_batch, mark_skipped, skip_reasons
from liftoff.campaign.copywriter import CampaignCopy, load_segment_copy
from liftoff.notify import PermanentDeliveryError

log = logging.getLogger(__name__)

OUTCOME_UNKNOWN = "outcome unknown: a previous attempt died after handing the message over; not resent"


@dataclass
class BatchResult:
    channel: str
    batch_number: int
    recipients: int = 0
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    already_final: int = 0
    dry_run: bool = False
    recorded: int = 0


_CLAIM = """
    update campaign.send_log set status = 'sending', attempts = attempts + 1, updated_at = now()
    where campaign_id = %(campaign)s and channel = %(channel)s and customer_id = %(next)s
        and status = 'pending'
    returning 1
"""
SENT = "sent"
RECORDED = "recorded"
_SENT_AND_CLAIM_NEXT = """
    with sent as (
        update campaign.send_log
        set status = %(outcome)s::text, updated_at = now(), message_id = %(message_id)s,
            sent_at = case when %(outcome)s::text = 'sent' then now() end,
            detail = %(detail)s::text, body = %(body)s::text
        where campaign_id = %(campaign)s and channel = %(channel)s and customer_id = %(done)s
    ),
    claimed as (
        update campaign.send_log set status = 'sending', attempts = attempts + 1, updated_at = now()
        where campaign_id = %(campaign)s and channel = %(channel)s and customer_id = %(next)s
            and status = 'pending'
        returning 1
    )
    select count(*) from claimed
"""


def _claim(conn: psycopg.Connection, keys: dict, customer_id: int | None) -> bool:
    """pending → sending for one customer; False when there is none or someone else has it."""
    if customer_id is None:
        return False
    return conn.execute(_CLAIM, {**keys, "next": customer_id}).fetchone() is not None


def _sent_and_claim_next(conn: psycopg.Connection, params: dict) -> bool:
    """Record the message handed over and claim the next; False when the next is not ours."""
    return bool(conn.execute(_SENT_AND_CLAIM_NEXT, params).fetchone()[0])


def _log_writer(wanted: bool) -> AbstractContextManager[ThreadPoolExecutor | None]:
    return ThreadPoolExecutor(1, thread_name_prefix="send-log") if wanted else nullcontext()


def address_of(recipient: Recipient, channel: str) -> str | int | None:
    return recipient.customer_email if channel == "email" else recipient.telegram_chat_id


def message_id(campaign_id: str, customer_id: int, channel: str) -> str:
    return f"{campaign_id}.{customer_id}.{channel}"


def deliver(
    dsn: str,
    campaign_id: str,
    day: date,
    channel: str,
    batch_number: int,
    recipients: Sequence[Recipient],
    send: Callable[[Recipient], str | None],
    *,
    dry_run: bool = False,
    after_handoff: Callable[[Recipient], None] | None = None,
    outcome: str = SENT,
    detail: str | None = None,
    prepare: Callable[[Recipient], None] | None = None,
    abandon: Callable[[], None] | None = None,
) -> BatchResult:
    """Send `recipients` on `channel` through `send`, at most once each, recording every outcome.

    `outcome` RECORDED: nothing is handed to a server; `send(recipient)` returns the message's text,
    stored in the row with `detail` (why it was recorded, not sent).
    `send(recipient)` returns when the server accepted the message; it raises
    PermanentDeliveryError for a refusal of that recipient, anything else when the server did not
    take it. `after_handoff` exists for the crash tests (a failure there is a worker dying after
    the hand-off, before the log records it).

    `prepare(next)`, if given, does the next message's work that hands nothing over (rendering,
    the SMTP envelope) while the statement that records this message and claims the next commits,
    so the two waits overlap; `send(next)` runs only once that claim has committed, and
    `abandon()` undoes the preparation when the claim was lost to another worker. It must not
    raise: an error it meets belongs to `send(next)`.
    """
    targets = [r for r in recipients if address_of(r, channel) is not None]
    result = BatchResult(channel, batch_number, recipients=len(targets), dry_run=dry_run)
    if dry_run or not targets:
        return result
    ids = [r.customer_id for r in targets]
    # The statement that records a message and claims the next runs on `log_writer`'s thread while
    # this one prepares the next message, when there is `prepare`.
    with psycopg.connect(dsn, autocommit=True) as conn, _log_writer(prepare is not None) as log_writer:
        with conn.cursor() as cursor:
            cursor.executemany(
                "insert into campaign.send_log (campaign_id, customer_id, channel, logical_date)"
                " values (%s, %s, %s, %s) on conflict do nothing",
                [(campaign_id, customer, channel, day) for customer in ids],
            )
        interrupted = conn.execute(
            "update campaign.send_log set status = 'failed', detail = %s, updated_at = now()"
            " where campaign_id = %s and channel = %s and customer_id = any(%s) and status = 'sending'"
            " returning customer_id",
            (OUTCOME_UNKNOWN, campaign_id, channel, ids),
        ).fetchall()
        for (customer,) in interrupted:
            log.warning("%s: customer %s on %s: %s", campaign_id, customer, channel, OUTCOME_UNKNOWN)
        mark_skipped(conn, campaign_id, skip_reasons(conn, campaign_id, channels=[channel], customer_ids=ids))
        pending = {
            row[0]
            for row in conn.execute(
                "select customer_id from campaign.send_log"
                " where campaign_id = %s and channel = %s and customer_id = any(%s) and status = 'pending'",
                (campaign_id, channel, ids),
            ).fetchall()
        }
        result.already_final = len(targets) - len(pending)
        queue = [r for r in targets if r.customer_id in pending]
        keys = {"campaign": campaign_id, "channel": channel}
        claimed = bool(queue) and _claim(conn, keys, queue[0].customer_id)
        for position, recipient in enumerate(queue):
            following = queue[position + 1] if position + 1 < len(queue) else None
            following_id = following.customer_id if following is not None else None
            if not claimed:  # another worker took it meanwhile
                claimed = _claim(conn, keys, following_id)
                continue
            try:
                body = send(recipient)
            except PermanentDeliveryError as refusal:
                conn.execute(
                    "update campaign.send_log set status = 'failed', detail = %s, updated_at = now()"
                    " where campaign_id = %s and channel = %s and customer_id = %s",
                    (str(refusal)[:500], campaign_id, channel, recipient.customer_id),
                )
                result.failed += 1
                claimed = _claim(conn, keys, following_id)
                continue
            except BaseException:
                # The server did not take it: back to pending for the task's retry.
                conn.execute(
                    "update campaign.send_log set status = 'pending', updated_at = now()"
                    " where campaign_id = %s and channel = %s and customer_id = %s",
                    (campaign_id, channel, recipient.customer_id),
                )
                raise
            if after_handoff is not None:
                after_handoff(recipient)
            # One commit marks this message sent and claims the next (one round trip per message).
            params = {
                **keys,
                "done": recipient.customer_id,
                "message_id": message_id(campaign_id, recipient.customer_id, channel),
                "next": following_id,
                "outcome": outcome,
                "detail": detail,
                "body": body if outcome == RECORDED else None,
            }
            if log_writer is None or following is None or prepare is None or abandon is None:
                claimed = _sent_and_claim_next(conn, params)
            else:
                committing = log_writer.submit(_sent_and_claim_next, conn, params)
                try:
                    prepare(following)
                finally:
                    claimed = committing.result()
                if not claimed:
                    abandon()
            if outcome == RECORDED:
                result.recorded += 1
            else:
                result.sent += 1
        counts = dict(
            conn.execute(
                "select status, count(*) from campaign.send_log"
                " where campaign_id = %s and channel = %s and customer_id = any(%s) group by status",
                (campaign_id, channel, ids),
            ).fetchall()
        )
    result.skipped = counts.get("skipped", 0)
    result.failed = counts.get("failed", 0)
    log.info(
        "%s %s batch %d: %d recipients, %d %s now, %d already final; batch totals %s",
        campaign_id,
        channel,
        batch_number,
        len(targets),
        result.recorded if outcome == RECORDED else result.sent,
        outcome,
        result.already_final,
        counts,
    )
    return result


def campaign_day(conn: psycopg.Connection, campaign_id: str) -> date:
    row = conn.execute("select logical_date from campaign.campaigns where campaign_id = %s", (campaign_id,))
    found = row.fetchone()
    if found is None:
        raise LookupError(f"campaign {campaign_id} does not exist (its audience was never built)")
    return found[0]


class Sender(Protocol):
    """One channel's open session to its server, for a batch."""

    def send(self, recipient: Recipient, copy: CampaignCopy) -> None:
        """Hand over the recipient's message (see `deliver` for what it may raise)."""

    def close(self) -> None: ...


def send_batch(
    dsn: str,
    campaign_id: str,
    channel: str,
    batch_number: int,
    *,
    configured: Callable[[], bool],
    open_sender: Callable[[], Sender],
    render: Callable[[Recipient, CampaignCopy], object],
    dry_run: bool = False,
    after_handoff: Callable[[Recipient], None] | None = None,
    record_unconfigured: str | None = None,
    envelope_ahead: bool = False,
) -> BatchResult:
    """One batch of one channel, whichever channel: the loop the e-mail and Telegram sends share.

    Every recipient's segment must have its copy. Without a connection (`configured()` false) the
    channel is off and nothing is claimed, unless `record_unconfigured` says why it cannot send:
    then each pending message is rendered and recorded (status `recorded`, that reason as its
    detail) through the same exactly-once protocol, and nothing is sent. A dry run renders each
    message (catching layout and copy errors) and sends nothing. Otherwise the session is opened
    only when something is left to send, and `deliver` sends each pending recipient at most once
    through it, recording every outcome. `envelope_ahead`: the sender has `prepare` and `abandon`
    (see `deliver`), called with the next message while the send log commits.
    """
    with psycopg.connect(dsn) as conn:
        day = campaign_day(conn, campaign_id)
        recipients = load_batch(conn, campaign_id, batch_number)
        copies = load_segment_copy(conn, campaign_id)
    missing = {r.segment_key for r in recipients} - set(copies)
    if missing:
        raise LookupError(f"campaign {campaign_id}: no copy for segments {sorted(missing)}; run write_copy")
    recording = not dry_run and record_unconfigured is not None and not configured()
    if recording:
        log.warning(
            "%s: %s cannot send (%s): batch %d is recorded in the send log, not sent",
            campaign_id,
            channel,
            record_unconfigured,
            batch_number,
        )

        def record(recipient: Recipient) -> str:
            return str(render(recipient, copies[recipient.segment_key]))

        return deliver(
            dsn,
            campaign_id,
            day,
            channel,
            batch_number,
            recipients,
            record,
            outcome=RECORDED,
            detail=record_unconfigured,
            after_handoff=after_handoff,
        )
    if not dry_run and not configured():
        log.warning(
            "%s: %s is off (no connection), batch %d not sent (nothing claimed)",
            campaign_id,
            channel,
            batch_number,
        )
        return BatchResult(channel, batch_number, recipients=0)
    if dry_run:
        for recipient in recipients:
            if address_of(recipient, channel) is not None:
                render(recipient, copies[recipient.segment_key])
    session: list[Sender] = []

    def send(recipient: Recipient) -> None:
        if not session:
            session.append(open_sender())
        session[0].send(recipient, copies[recipient.segment_key])

    def prepare(recipient: Recipient) -> None:  # after a send: the session is open
        session[0].prepare(recipient, copies[recipient.segment_key])

    def abandon() -> None:
        session[0].abandon()

    try:
        return deliver(
            dsn,
            campaign_id,
            day,
            channel,
            batch_number,
            recipients,
            send,
            dry_run=dry_run,
            after_handoff=after_handoff,
            prepare=prepare if envelope_ahead else None,
            abandon=abandon if envelope_ahead else None,
        )
    finally:
        if session:
            session[0].close()
