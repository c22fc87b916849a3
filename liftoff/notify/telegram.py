"""The Telegram Bot API client, through the Telegram provider's hook.

The provider's `send_message` retries every Telegram error five times one second apart: that
ignores a 429's `retry_after` and, worse, re-sends after a timeout whose message may have been
delivered. So the hook supplies the configured bot (token from the connection, and `base_url`
for a local server) and `send_text` sends, honouring `retry_after` and never retrying an
ambiguous error (the caller decides what a failed send means).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from liftoff.notify import PermanentDeliveryError, connection_exists

log = logging.getLogger(__name__)

MAX_RATE_LIMIT_WAITS = 5


def telegram_hook(conn_id: str):
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


def telegram_configured(conn_id: str) -> bool:
    """Without its connection Telegram is off (the caller logs it)."""
    return connection_exists(conn_id)


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
