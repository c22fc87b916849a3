"""Names and defaults of the campaign, in one place: connection ids, limits, public URLs.

Secrets are never here: they come from Airflow connections or environment variables (see
`consent.unsubscribe_secret`; the embedded stack exports the ones it generates).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from email.headerregistry import Address
from email.utils import parseaddr

CAMPAIGN_PREFIX = "cross-sell"
SMTP_CONN_ID = "smtp_default"
LLM_CONN_ID = "llm"
# Customers' chats get their chat id per message; the connection's host (if any) is the sales
# team's chat, which receives the campaign summary.
TELEGRAM_CONN_ID = "telegram_default"
UNSUBSCRIBE_CONN_ID = "campaign_unsubscribe"
UNSUBSCRIBE_SECRET_ENV = "LIFTOFF_UNSUBSCRIBE_SECRET"  # noqa: S105 - a variable name, not a secret

DEFAULT_BATCH_SIZE = 500
# The shop customers hear from (not the platform): a placeholder until LIFTOFF_SHOP_* are set.
DEFAULT_SHOP_NAME = "Loja Horizonte"
DEFAULT_SHOP_ADDRESS = "Rua Exemplo, 100, Centro, São Paulo - SP, 01000-000"
DEFAULT_SENDER_EMAIL = "ofertas@loja.example"


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
    """Who the shop is and where the e-mail's links point: the name and postal address the footer
    shows (and the From line's display name), the shop's product pages, the unsubscribe endpoint."""

    shop_url: str = "https://loja.example"
    unsubscribe_url: str = "http://127.0.0.1:8765/unsubscribe"
    shop_name: str = DEFAULT_SHOP_NAME
    shop_address: str = DEFAULT_SHOP_ADDRESS

    def __post_init__(self) -> None:
        for name in ("shop_name", "shop_address"):
            value = getattr(self, name)
            if not value.strip() or any(c in value for c in "\r\n<>"):
                # It lands in a From header and in the HTML footer: one plain line, never empty.
                raise ValueError(
                    f"campaign {name} (env LIFTOFF_{name.upper()}) must be one non-empty line"
                    f" without < or >, got {value!r}"
                )

    @classmethod
    def from_environment(cls) -> Links:
        """LIFTOFF_SHOP_URL, LIFTOFF_UNSUBSCRIBE_URL, LIFTOFF_SHOP_NAME and LIFTOFF_SHOP_ADDRESS
        override the defaults (not secrets)."""
        return cls(
            shop_url=os.environ.get("LIFTOFF_SHOP_URL", cls.shop_url).rstrip("/"),
            unsubscribe_url=os.environ.get("LIFTOFF_UNSUBSCRIBE_URL", cls.unsubscribe_url),
            shop_name=os.environ.get("LIFTOFF_SHOP_NAME", cls.shop_name).strip(),
            shop_address=os.environ.get("LIFTOFF_SHOP_ADDRESS", cls.shop_address).strip(),
        )

    def product_url(self, product_id: int) -> str:
        return f"{self.shop_url}/produtos/{product_id}"

    def sender(self, from_email: str | None = None) -> str:
        """The From line: the SMTP connection's `from_email` (default: the shop's offers address);
        a bare address gets the shop's name as its display name, a named one is kept as given."""
        name, address = parseaddr(from_email or DEFAULT_SENDER_EMAIL)
        if not address:
            raise ValueError(f"the SMTP connection's from_email {from_email!r} is not an e-mail address")
        return str(Address(display_name=name or self.shop_name, addr_spec=address))


def campaign_id_for(day: date) -> str:
    """Deterministic from the logical date: a re-run of a day is the same campaign, so the send
    log dedupes it."""
    return f"{CAMPAIGN_PREFIX}-{day.isoformat()}"
