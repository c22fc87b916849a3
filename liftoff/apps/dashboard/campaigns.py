"""The Campanhas page's reads: campaigns, their copy and their messages from gold, and the e-mails
themselves from the local outbox.

Gold, through the dashboard's read-only role: `gold.campaign_summaries` (counts per campaign and
channel), and two dbt views over the campaign schema, `gold.campaign_copy` (each segment's copy and
which copywriter wrote it) and `gold.campaign_messages` (the send log without contact data, with
the text of each message recorded instead of sent: Telegram without a bot). The
views run with dbt's rights, so the role still reads gold only and never the campaign schema.

The outbox: the embedded stack's SMTP server stores every message it accepts in a Maildir
(`liftoff.settings.outbox_dir()`). It is read, never written: no flag, no move from new/ to cur/,
no lock. A message is found by its Message-ID, which the campaign makes deterministic
(`<campaign.customer.channel@domain>`, liftoff.campaign.send_log.message_id) and records in the send
log when the server accepts the message.
"""

from __future__ import annotations

import html
import mailbox
import re
from dataclasses import dataclass
from email import policy
from email.parser import BytesHeaderParser, BytesParser
from pathlib import Path

import pandas as pd
from psycopg import sql

from liftoff.apps.dashboard.warehouse import fetch_frame, fetch_rows, gold

MAX_MESSAGES = 500

SUMMARY_COLUMNS = (
    "campaign_id", "logical_date", "channel", "campaign_status", "audience_size", "sent", "recorded",
    "skipped", "skipped_opted_out", "skipped_contact_cap", "skipped_already_bought", "skipped_no_channel",
    "skipped_stale_day", "skipped_not_in_audience", "failed", "pending", "finished_at",
)  # fmt: skip
COPY_COLUMNS = (
    "segment_key", "last_category", "recommended_product_name", "recipients", "subject", "email_copy",
    "telegram_text", "copy_source", "fallback_reason",
)  # fmt: skip
MESSAGE_COLUMNS = ("customer_id", "segment_key", "message_id", "sent_at")
RECORDED_COLUMNS = ("customer_id", "segment_key", "recorded_text")

# Which copywriter wrote a segment, as the page says it (campaign.segment_copy.copy_source).
COPY_SOURCES = {"llm": "LLM", "llm-cache": "LLM (cache)", "template": "Modelo (template)"}
# A campaign's state (campaign.campaigns.status), as the page says it.
CAMPAIGN_STATES = {
    "planned": "em andamento",
    "finished": "concluída",
    "skipped: stale day": "não enviada (dia antigo)",
}


def copy_source_label(source: str) -> str:
    return COPY_SOURCES.get(source, source)


def campaign_state_label(status: str | None) -> str:
    return CAMPAIGN_STATES.get(status or "", status or "desconhecido")


def _columns(names) -> sql.Composable:
    return sql.SQL(", ").join(map(sql.Identifier, names))


def campaign_summaries(dsn: str) -> pd.DataFrame:
    """Every campaign's row per channel, newest campaign first (empty when none has run)."""
    query = sql.SQL(
        "select {columns} from {table} order by logical_date desc, campaign_id desc, channel"
    ).format(columns=_columns(SUMMARY_COLUMNS), table=gold("campaign_summaries"))
    return fetch_frame(dsn, query, columns=SUMMARY_COLUMNS)


def segment_copy(dsn: str, campaign_id: str) -> pd.DataFrame:
    """The campaign's copy per segment, the largest segments first."""
    query = sql.SQL(
        "select {columns} from {table} where campaign_id = %(campaign)s order by recipients desc, segment_key"
    ).format(columns=_columns(COPY_COLUMNS), table=gold("campaign_copy"))
    return fetch_frame(dsn, query, {"campaign": campaign_id}, columns=COPY_COLUMNS)


def sent_emails(dsn: str, campaign_id: str, limit: int = MAX_MESSAGES) -> tuple[pd.DataFrame, bool]:
    """The campaign's e-mails the server accepted, in the order they were sent (at most `limit`;
    True when there were more)."""
    query = sql.SQL(
        "select {columns} from {table}"
        " where campaign_id = %(campaign)s and channel = 'email' and status = 'sent'"
        " order by sent_at, customer_id"
    ).format(columns=_columns(MESSAGE_COLUMNS), table=gold("campaign_messages"))
    names, rows, truncated = fetch_rows(dsn, query, {"campaign": campaign_id}, max_rows=limit)
    return pd.DataFrame(rows, columns=names or list(MESSAGE_COLUMNS)), truncated


def recorded_telegram(dsn: str, campaign_id: str, limit: int = MAX_MESSAGES) -> tuple[pd.DataFrame, bool]:
    """The campaign's Telegram messages recorded instead of sent (no bot configured), each with its
    text as it would have gone out, by customer (at most `limit`; True when there were more)."""
    query = sql.SQL(
        "select {columns} from {table}"
        " where campaign_id = %(campaign)s and channel = 'telegram' and status = 'recorded'"
        " order by customer_id"
    ).format(columns=_columns(RECORDED_COLUMNS), table=gold("campaign_messages"))
    names, rows, truncated = fetch_rows(dsn, query, {"campaign": campaign_id}, max_rows=limit)
    return pd.DataFrame(rows, columns=names or list(RECORDED_COLUMNS)), truncated


# ---------------------------------------------------------------------------------------------
# The outbox (a Maildir), read-only


@dataclass(frozen=True)
class OutboxMessage:
    """One stored e-mail, as the customer's mail client would show it."""

    key: str
    message_id: str
    subject: str
    sender: str
    to: str
    date: str
    campaign_id: str | None
    list_unsubscribe: str | None
    html: str | None
    text: str | None


def send_log_id(header: str | None) -> str | None:
    """The send log's message_id in a Message-ID header: `<x@domain>` → `x` (None if no header)."""
    if not header:
        return None
    value = header.strip().strip("<>").strip()
    local, at, _ = value.rpartition("@")
    return local if at else value


def outbox_signature(directory: Path) -> tuple:
    """Changes whenever a message is added to (or removed from) the Maildir: the key of a cache
    of its index. () when there is no Maildir there."""
    parts = []
    for sub in ("new", "cur"):
        try:
            stat = (directory / sub).stat()
        except FileNotFoundError:
            return ()
        parts.append((sub, stat.st_mtime_ns))
    return tuple(parts)


def _open(directory: Path) -> mailbox.Maildir | None:
    if not (directory / "new").is_dir() or not (directory / "cur").is_dir():
        return None
    return mailbox.Maildir(directory, factory=None, create=False)


def outbox_index(directory: Path) -> dict[str, str]:
    """{send-log message_id: Maildir key} of every message in the outbox, reading headers only.

    A message stored twice (an outbox kept across a warehouse reset) maps to the later delivery:
    a Maildir key starts with its delivery time in seconds.
    """
    box = _open(directory)
    if box is None:
        return {}
    parser = BytesHeaderParser(policy=policy.compat32)
    found: dict[str, str] = {}
    for key in sorted(box.iterkeys(), key=_delivery_order):
        try:
            with box.get_file(key) as handle:
                headers = parser.parse(handle)
        except (FileNotFoundError, KeyError):  # removed while we read: not ours to mind
            continue
        local = send_log_id(headers.get("Message-ID"))
        if local is not None:
            found[local] = key
    return found


def _delivery_order(key: str) -> tuple[int, str]:
    seconds = key.split(".", 1)[0]
    return (int(seconds) if seconds.isdigit() else 0, key)


def read_message(directory: Path, key: str) -> OutboxMessage:
    """The stored message `key`: its headers and its HTML and plain-text parts."""
    box = _open(directory)
    if box is None:
        raise FileNotFoundError(f"no Maildir at {directory}")
    with box.get_file(key) as handle:
        message = BytesParser(policy=policy.default).parse(handle)
    html_part = message.get_body(("html",))
    text_part = message.get_body(("plain",))

    def header(name: str) -> str | None:
        value = message.get(name)
        return str(value).strip() if value is not None else None

    return OutboxMessage(
        key=key,
        message_id=header("Message-ID") or "",
        subject=header("Subject") or "",
        sender=header("From") or "",
        to=header("To") or "",
        date=header("Date") or "",
        campaign_id=header("X-Campaign-Id"),
        list_unsubscribe=header("List-Unsubscribe"),
        html=html_part.get_content() if html_part is not None else None,
        text=text_part.get_content() if text_part is not None else None,
    )


def find_message(
    directory: Path, message_id: str, index: dict[str, str] | None = None
) -> OutboxMessage | None:
    """The outbox's copy of the send log's `message_id`, or None when the outbox has none (the
    message went to another SMTP server, or the outbox was emptied)."""
    index = outbox_index(directory) if index is None else index
    key = index.get(message_id)
    if key is None:
        return None
    try:
        return read_message(directory, key)
    except (FileNotFoundError, KeyError):
        return None


# ---------------------------------------------------------------------------------------------
# Showing an e-mail's HTML safely

SANDBOX = "allow-popups allow-popups-to-escape-sandbox"
_HTML_START = re.compile(r"<html\b[^>]*>", re.IGNORECASE)


def preview_document(message_html: str, height: int = 640) -> str:
    """An iframe that shows `message_html` as a mail client would, and can do nothing else.

    The message goes into `srcdoc`, escaped, of an iframe sandboxed without scripts, forms,
    same-origin or top navigation; its links open in a new tab (`<base target="_blank">`, and the
    sandbox lets that tab escape it), so the unsubscribe link reaches the real endpoint, whose
    confirmation form then works outside the sandbox.
    """
    base = '<base target="_blank">'
    match = _HTML_START.search(message_html)
    if match:
        document = message_html[: match.end()] + base + message_html[match.end() :]
    else:
        document = base + message_html
    return (
        f'<iframe id="email-preview" title="Pré-visualização do e-mail" sandbox="{SANDBOX}"'
        f' referrerpolicy="no-referrer" style="width:100%;height:{int(height)}px;border:1px solid #ddd;'
        f'border-radius:6px;background:#fff" srcdoc="{html.escape(document, quote=True)}"></iframe>'
    )
