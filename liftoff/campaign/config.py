"""Names and defaults of the campaign, in one place: connection ids, limits, public URLs.

Secrets are never here: they come from Airflow connections, environment variables or the local
stack's state folder (see `consent.unsubscribe_secret`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date

CAMPAIGN_PREFIX = "cross-sell"
SMTP_CONN_ID = "smtp_default"
LLM_CONN_ID = "llm"
# Customers' chats get their chat id per message; the connection's host (if any) is the sales
# team's chat, which receives the campaign summary.
TELEGRAM_CONN_ID = "telegram_default"
UNSUBSCRIBE_CONN_ID = "campaign_unsubscribe"
UNSUBSCRIBE_SECRET_ENV = "LIFTOFF_UNSUBSCRIBE_SECRET"  # noqa: S105 - a variable name, not a secret

DEFAULT_BATCH_SIZE = 500
DEFAULT_FROM_ADDRESS = "Liftoff Data <ofertas@liftoff.example>"
SUBJECT = "Recomendação Especial Liftoff Data"


@dataclass(frozen=True)
class AudienceRules:
    """The campaign's operational knobs. The audience rule itself (D-2..D, 3 calendar months of
    best sellers) is fixed in the dbt model gold.cross_sell_audience: one implementation.

    contact_cooldown_days: the contact cap, one cross-sell per customer per this many days,
    counted by when messages were sent (campaign.send_log.sent_at)."""

    contact_cooldown_days: int = 7
    batch_size: int = DEFAULT_BATCH_SIZE

    def __post_init__(self) -> None:
        for name in ("batch_size",):
            if getattr(self, name) < 1:
                raise ValueError(f"audience rule {name} must be at least 1, got {getattr(self, name)}")
        if self.contact_cooldown_days < 0:
            raise ValueError(
                f"audience rule contact_cooldown_days must be >= 0, got {self.contact_cooldown_days}"
            )


@dataclass(frozen=True)
class Links:
    """Where the e-mail's links point: the shop's product pages and the unsubscribe endpoint."""

    shop_url: str = "https://loja.liftoff.example"
    unsubscribe_url: str = "http://127.0.0.1:8765/unsubscribe"

    @classmethod
    def from_environment(cls) -> Links:
        """LIFTOFF_SHOP_URL and LIFTOFF_UNSUBSCRIBE_URL override the defaults (not secrets)."""
        return cls(
            shop_url=os.environ.get("LIFTOFF_SHOP_URL", cls.shop_url).rstrip("/"),
            unsubscribe_url=os.environ.get("LIFTOFF_UNSUBSCRIBE_URL", cls.unsubscribe_url),
        )

    def product_url(self, product_id: int) -> str:
        return f"{self.shop_url}/produtos/{product_id}"


def campaign_id_for(day: date) -> str:
    """Deterministic from the logical date: a re-run of a day is the same campaign, so the send
    log dedupes it."""
    return f"{CAMPAIGN_PREFIX}-{day.isoformat()}"
