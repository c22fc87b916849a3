"""A real campaign for the Campanhas page's tests: a copy of the dashboard's gold warehouse, the
campaign's own steps (plan, copy, send, summarise; liftoff.campaign.runner) for its last day, and
the e-mails delivered over SMTP to the embedded stack's own outbox server (aiosmtpd with
liftoff.devstack.outbox's Maildir handler) in a folder of the test's. No Telegram connection: the
Telegram messages are recorded in the send log with their text, not sent.

Copy: the campaign's LLM copywriter against the OpenAI-compatible double, which answers every
other segment with something that is not copy, so the campaign has segments written by the LLM
and segments where the template stood in (with the reason): the page must say which is which.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from liftoff.apps.dashboard.role import apply_dashboard_role, dashboard_url
from liftoff.campaign import runner
from liftoff.campaign.config import campaign_id_for
from liftoff.campaign.llm import copywriter_from_connection
from liftoff.devstack.loopback import free_port
from liftoff.devstack.outbox import MaildirHandler
from tests.apps.dashboard.conftest import LAST_DAY
from tests.services.openai_api import VALID_COPY, openai_api
from tests.warehouses import create_database, drop_database

CAMPAIGN = campaign_id_for(LAST_DAY)
SECRET = "campaign-page-test-secret-of-at-least-32-bytes"


@dataclass(frozen=True)
class CampaignWarehouse:
    admin_dsn: str
    dashboard_dsn: str
    outbox: Path
    campaign_id: str


@contextmanager
def maildir_smtp_server(outbox: Path) -> Iterator[int]:
    """The outbox's SMTP server on 127.0.0.1, storing every accepted message in the Maildir `outbox`."""
    port = free_port()
    controller = Controller(MaildirHandler(outbox), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def smtp_connection(port: int) -> str:
    return json.dumps(
        {
            "conn_type": "smtp",
            "host": "127.0.0.1",
            "port": port,
            "extra": {
                "disable_ssl": True,
                "disable_tls": True,
                "from_email": "Loja Exemplo <ofertas@loja.example>",
                "retry_limit": 1,
            },
        }
    )


def half_valid_copy(calls: list[int]):
    """The double's answers: valid copy, then text that is not JSON, alternately."""

    def answer(request: dict) -> str:
        calls.append(1)
        return json.dumps(VALID_COPY, ensure_ascii=False) if len(calls) % 2 else "desculpe, não sei"

    return answer


@contextmanager
def campaign_warehouse(template: str, outbox: Path, unsubscribe_url: str) -> Iterator[CampaignWarehouse]:
    """A copy of the warehouse `template` in which the cross-sell campaign of LAST_DAY ran and
    sent its e-mails into `outbox`; no Telegram connection, so its Telegram messages were recorded
    (status `recorded`, with their text), not sent."""
    name = f"dash_campaign_{uuid.uuid4().hex[:8]}"
    admin = create_database(name, template=template)
    try:
        with pytest.MonkeyPatch.context() as env, maildir_smtp_server(outbox) as port, openai_api() as llm:
            env.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp_connection(port))
            env.setenv("LIFTOFF_UNSUBSCRIBE_URL", unsubscribe_url)
            env.setenv("LIFTOFF_UNSUBSCRIBE_SECRET", SECRET)
            env.setenv("AIRFLOW_CONN_LLM", llm.connection_json())
            env.delenv("AIRFLOW_CONN_TELEGRAM_DEFAULT", raising=False)
            llm.answer = half_valid_copy([])
            channels = runner.active_channels(("email", "telegram"))
            assert channels == ["email", "telegram"], channels  # telegram: recorded, not sent
            plan = runner.plan_campaign(admin, LAST_DAY, active_channels=channels)
            assert plan["campaign_id"] == CAMPAIGN
            assert plan["audience_size"] > 0, plan
            runner.write_copy(admin, CAMPAIGN, copywriter_from_connection(admin))
            for channel in channels:
                for batch in plan["batches"][channel]:
                    runner.send_batch(admin, channel, CAMPAIGN, batch, dry_run=False)
            runner.summarise(admin, CAMPAIGN)
        apply_dashboard_role(admin)
        yield CampaignWarehouse(admin, dashboard_url(admin), outbox, CAMPAIGN)
    finally:
        drop_database(name)
