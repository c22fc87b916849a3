"""Telegram delivery to customers who linked a chat, through the Bot API client of
liftoff.notify.telegram (which honours `retry_after` and never retries an ambiguous error: the
send log then holds the row as pending for the task's retry).

Where chat ids come from: the CRM's customers carry `telegram_chat_id` (silver.customers), and
`campaign.telegram_links` holds chats linked outside the CRM (`python -m
liftoff.campaign.telegram_links CUSTOMER_ID CHAT_ID`), which win. A customer without either gets
no Telegram message.

Without a bot (no `telegram_default` connection, so no token) the channel still runs: each message
that would go out is rendered and recorded in the send log as `recorded`, with NO_BOT as its
detail, never sent and never counted as delivered (liftoff.campaign.send_log).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from liftoff.campaign.audience import Recipient
from liftoff.campaign.config import TELEGRAM_CONN_ID, Links
from liftoff.campaign.copywriter import CampaignCopy, personalise
from liftoff.campaign.mail import unsubscribe_link
from liftoff.campaign.send_log import BatchResult, send_batch
from liftoff.notify.telegram import BotSession, send_text, telegram_configured, telegram_hook

log = logging.getLogger(__name__)

NO_BOT = "no Telegram bot configured: recorded, not sent"


def telegram_message(recipient: Recipient, text: str, product_url: str, unsubscribe: str) -> str:
    return (
        f"{text}\n\n{recipient.recommended_product_name}: {product_url}\n\n"
        f"Não quer mais receber? {unsubscribe}"
    )


def render_telegram(
    recipient: Recipient, copy: CampaignCopy, campaign_id: str, links: Links, secret: bytes
) -> str:
    """The message for one recipient: the segment's copy, the product link and the unsubscribe link."""
    return telegram_message(
        recipient,
        personalise(copy, recipient).telegram_text,
        links.product_url(recipient.recommended_product_id),
        unsubscribe_link(links, recipient, "telegram", campaign_id, secret),
    )


class _TelegramSender:
    """The batch's bot session."""

    def __init__(
        self, conn_id: str, campaign_id: str, links: Links, secret: bytes, sleep: Callable[[float], None]
    ) -> None:
        self.session = BotSession(telegram_hook(conn_id).connection)
        self.campaign_id, self.links, self.secret, self.sleep = campaign_id, links, secret, sleep

    def send(self, recipient: Recipient, copy: CampaignCopy) -> None:
        message = render_telegram(recipient, copy, self.campaign_id, self.links, self.secret)
        send_text(self.session, recipient.telegram_chat_id, message, self.sleep)

    def close(self) -> None:
        self.session.close()


def send_telegram_batch(
    dsn: str,
    campaign_id: str,
    batch_number: int,
    links: Links,
    secret: bytes,
    *,
    conn_id: str = TELEGRAM_CONN_ID,
    dry_run: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> BatchResult:
    """Send one batch's Telegram messages (customers with a chat id), through the send log; without
    a bot, record them instead (status `recorded`)."""
    return send_batch(
        dsn,
        campaign_id,
        "telegram",
        batch_number,
        configured=lambda: telegram_configured(conn_id),
        open_sender=lambda: _TelegramSender(conn_id, campaign_id, links, secret, sleep),
        render=lambda recipient, copy: render_telegram(recipient, copy, campaign_id, links, secret),
        dry_run=dry_run,
        record_unconfigured=NO_BOT,
    )


def notify_sales_team(text: str, conn_id: str = TELEGRAM_CONN_ID) -> bool:
    """Post the campaign summary to the sales team's chat (the connection's host), if configured."""
    if not telegram_configured(conn_id):
        log.info("no %s connection: campaign summary not posted to Telegram", conn_id)
        return False
    hook = telegram_hook(conn_id)
    if not hook.chat_id:
        log.info("the %s connection names no sales-team chat (host): summary not posted", conn_id)
        return False
    session = BotSession(hook.connection)
    try:
        send_text(session, hook.chat_id, text)
    finally:
        session.close()
    return True
