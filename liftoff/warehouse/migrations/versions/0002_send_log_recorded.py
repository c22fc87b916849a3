"""The send log's `recorded` state: a message that would have gone out on a channel without a way
to send it (Telegram without a bot token), kept with its text instead of being dropped.

`recorded` is final, like `sent`, `failed` and `skipped`: the customer was not reached, so the row
counts neither as delivered nor towards the contact cap, and a later run of the same campaign with
a bot configured does not send it (a day-old recommendation, sent late, is the kind of message the
fresh-day rule exists to prevent); the next campaign reaches the customer as usual. `body` holds
the message exactly as it would have been sent, so the dashboard and `make demo` can show it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 06:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

STATUSES = ("pending", "sending", "sent", "failed", "skipped")


def _status_check(statuses: tuple[str, ...]) -> str:
    allowed = ", ".join(f"'{status}'" for status in statuses)
    return (
        "alter table campaign.send_log drop constraint if exists send_log_status_check;"
        f" alter table campaign.send_log add constraint send_log_status_check check (status in ({allowed}))"
    )


def upgrade() -> None:
    op.execute(_status_check((*STATUSES, "recorded")))
    op.execute("alter table campaign.send_log add column if not exists body text")
    op.execute(
        "comment on column campaign.send_log.body is"
        " 'A recorded message''s text, as it would have been sent (no way to send it on its channel)'"
    )


def downgrade() -> None:
    op.execute(
        "update campaign.send_log set status = 'skipped', skip_reason = 'no channel'"
        " where status = 'recorded'"
    )
    op.execute("alter table campaign.send_log drop column if exists body")
    op.execute(_status_check(STATUSES))
