"""Telegram delivery through the telegram provider's hook, to customers who linked a chat.

Where chat ids come from: the CRM's customers carry `telegram_chat_id` (silver.customers), and
`campaign.telegram_links` holds chats linked outside the CRM (`python -m
liftoff.campaign.telegram_links CUSTOMER_ID CHAT_ID`), which win. A customer without either gets
no Telegram message.

The provider's `send_message` retries every Telegram error five times one second apart: that
ignores a 429's `retry_after` and, worse, re-sends after a timeout whose message may have been
delivered. So the hook supplies the configured bot (token from the connection, and `base_url`
for a local server) and this module sends, honouring `retry_after` and never retrying an
ambiguous error (the send log then holds the row as pending for the task's retry).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import psycopg

from liftoff.campaign.audience import Recipient, load_batch
from liftoff.campaign.config import TELEGRAM_CONN_ID, Links
from liftoff.campaign.copywriter import load_segment_copy, personalise
from liftoff.campaign.mail import campaign_day, unsubscribe_link
from liftoff.campaign.send_log import BatchResult, PermanentDeliveryError, deliver

log = logging.getLogger(__name__)

MAX_RATE_LIMIT_WAITS = 5


def telegram_hook(conn_id: str = TELEGRAM_CONN_ID):
    """The provider's TelegramHook; a connection extra {"base_url": ...} points the bot elsewhere
    (a local Bot API server or a test double): the stock hook has no such option."""
    import telegram
    from airflow.providers.telegram.hooks.telegram import TelegramHook

    class ConfigurableTelegramHook(TelegramHook):
        def get_conn(self) -> telegram.Bot:
            base_url = self.get_connection(conn_id).extra_dejson.get("base_url")
            if base_url:
                return telegram.Bot(self.token, base_url=base_url)
            return telegram.Bot(self.token)

    return ConfigurableTelegramHook(telegram_conn_id=conn_id)


def telegram_configured(conn_id: str = TELEGRAM_CONN_ID) -> bool:
    try:
        from airflow.sdk import BaseHook

        BaseHook.get_connection(conn_id)
    except Exception:
        return False
    return True


class BotSession:
    """A bot and one event loop for a whole batch (python-telegram-bot is async; its HTTP client
    must not hop between loops, which `asyncio.run` per message would do)."""

    def __init__(self, bot) -> None:
        self.bot = bot
        self.loop = asyncio.new_event_loop()

    def send_message(self, **kwargs) -> None:
        self.loop.run_until_complete(self.bot.send_message(**kwargs))

    def close(self) -> None:
        try:
            self.loop.run_until_complete(self.bot.shutdown())
        finally:
            self.loop.close()


def send_text(
    session: BotSession, chat_id: int | str, text: str, sleep: Callable[[float], None] = time.sleep
) -> None:
    """One message; waits out 429s (retry_after), refuses for good on a blocked or unknown chat."""
    from telegram.error import BadRequest, Forbidden, RetryAfter

    for _ in range(MAX_RATE_LIMIT_WAITS + 1):
        try:
            session.send_message(chat_id=chat_id, text=text, disable_web_page_preview=True)
            return
        except RetryAfter as limited:
            delay = limited.retry_after
            wait = delay.total_seconds() if hasattr(delay, "total_seconds") else float(delay)
            log.info("telegram rate limit: waiting %.1f s as told", wait)
            sleep(wait)
        except (Forbidden, BadRequest) as refusal:
            raise PermanentDeliveryError(f"telegram refused chat {chat_id}: {refusal}") from refusal
    raise RuntimeError(f"telegram still rate-limited after {MAX_RATE_LIMIT_WAITS} waits; retry the task")


def telegram_message(recipient: Recipient, text: str, product_url: str, unsubscribe: str) -> str:
    return (
        f"{text}\n\n{recipient.recommended_product_name}: {product_url}\n\n"
        f"Não quer mais receber? {unsubscribe}"
    )


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
    """Send one batch's Telegram messages (customers with a chat id), through the send log."""
    with psycopg.connect(dsn) as conn:
        day = campaign_day(conn, campaign_id)
        recipients = load_batch(conn, campaign_id, batch_number)
        copies = load_segment_copy(conn, campaign_id)
    if not dry_run and not telegram_configured(conn_id):
        log.info("no %s connection: Telegram is off, batch %d not sent", conn_id, batch_number)
        return BatchResult("telegram", batch_number, recipients=0)
    session = None if dry_run else BotSession(telegram_hook(conn_id).connection)

    def send(recipient: Recipient) -> None:
        text = personalise(copies[recipient.segment_key], recipient).telegram_text
        message = telegram_message(
            recipient,
            text,
            links.product_url(recipient.recommended_product_id),
            unsubscribe_link(links, recipient, "telegram", campaign_id, secret),
        )
        send_text(session, recipient.telegram_chat_id, message, sleep)

    try:
        return deliver(dsn, campaign_id, day, "telegram", batch_number, recipients, send, dry_run=dry_run)
    finally:
        if session is not None:
            session.close()


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
