"""Consent from every door, send-time re-checks, summaries that add up, and fresh days only.

Runs the campaign's steps (plan → copy → send → summarise) on a hand-built shop whose gold is
built by the real dbt models, with a real SMTP server and, for the CRM, the CRM API on a real
migrated CRM database.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import psycopg
import pytest
from fastapi.testclient import TestClient

from liftoff.campaign.config import Links, campaign_id_for
from liftoff.campaign.consent import ConsentUnavailable, record_opt_out
from liftoff.campaign.copywriter import TemplateCopywriter
from liftoff.campaign.mail import send_email_batch
from liftoff.campaign.runner import finish_campaign, is_stale_day, plan_campaign, write_copy
from tests.campaign.shop import Shop, days_before
from tests.services.smtp_server import smtp_server

DAY = date(2026, 6, 10)
CAMPAIGN = campaign_id_for(DAY)
SECRET = b"consent-test-secret-of-at-least-32-bytes"
LINKS = Links(shop_url="https://loja.test", unsubscribe_url="https://loja.test/unsubscribe")


@pytest.fixture
def inbox(monkeypatch):
    with smtp_server() as server:
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", server.connection_json())
        yield server


@pytest.fixture
def shop(warehouse) -> Shop:
    """Five recent buyers of a book; the best-selling book is product 11."""
    shop = Shop(warehouse)
    shop.product(11, "Livros", "59.90")
    shop.product(12, "Livros", "20.00")
    shop.fans(11, 3, days_before(DAY, 20), 900)
    for customer in (1, 2, 3, 4, 5):
        shop.customer(customer)
        shop.sale(customer, 12, days_before(DAY, 1))
    return shop


def send_everything(dsn: str, plan: dict) -> None:
    write_copy(dsn, plan["campaign_id"], TemplateCopywriter())
    for batch in plan["batches"]["email"]:
        send_email_batch(dsn, plan["campaign_id"], batch, LINKS, SECRET)


def summary(dsn: str, channel: str) -> dict:
    return next(s for s in finish_campaign(dsn, CAMPAIGN) if s["channel"] == channel)


def test_an_opt_out_entered_in_the_crm_keeps_the_customer_out(shop, warehouse, crm_database, inbox):
    from liftoff.apps.crm_api.app import create_app
    from liftoff.apps.crm_api.auth import mint_key
    from tests import crm_samples as sample

    app = create_app(crm_database)
    with TestClient(app) as api:
        api.headers["X-API-Key"] = mint_key(app.state.engine, "tests").key
        crm_customer = api.post("/customers", json=sample.customer(email="crm.optout@example.com"))
        assert crm_customer.status_code == 201, crm_customer.text
        crm_id = crm_customer.json()["customer_id"]
        # The same customer in the warehouse (the ingest carries CRM customers over by id).
        shop.customer(crm_id, email="crm.optout@example.com")
        shop.sale(crm_id, 12, days_before(DAY, 1))
        by_id = api.post("/opt-outs", json={"customer_id": crm_id, "channel": "email", "reason": "no"})
        by_email = api.post("/opt-outs", json={"email": "Cliente2@Example.com", "channel": "all"})
        assert (by_id.status_code, by_email.status_code) == (201, 201)
    app.state.engine.dispose()

    shop.build_gold(DAY)  # the model was built before the warehouse knew of the CRM's opt-outs
    plan = plan_campaign(warehouse, DAY, crm_dsn=crm_database)
    send_everything(warehouse, plan)
    recipients = sorted(to for _, [to] in inbox.envelopes)
    assert "crm.optout@example.com" not in recipients
    assert "cliente2@example.com" not in recipients
    assert recipients == ["cliente1@example.com", "cliente3@example.com", "cliente4@example.com",
                          "cliente5@example.com"]  # fmt: skip
    email = summary(warehouse, "email")
    assert (email["audience_size"], email["sent"], email["skipped_opted_out"]) == (6, 4, 2)

    # The next transform's audience leaves them out from the start (the model reads the consent).
    shop.build_gold(DAY)
    with psycopg.connect(warehouse) as conn:
        audience = {r[0] for r in conn.execute("select customer_id from gold.cross_sell_audience")}
    assert crm_id not in audience
    assert 2 not in audience


def test_a_customer_deleted_in_the_crm_is_never_messaged(shop, warehouse, crm_database, inbox):
    """The CRM API's DELETE soft-deletes the customer; the warehouse still holds the version an
    earlier ingest landed (raw has no deletion column), so the campaign must learn it from the CRM."""
    from liftoff.apps.crm_api.app import create_app
    from liftoff.apps.crm_api.auth import mint_key
    from tests import crm_samples as sample

    app = create_app(crm_database)
    with TestClient(app) as api:
        api.headers["X-API-Key"] = mint_key(app.state.engine, "tests").key
        kept, gone = (
            api.post("/customers", json=sample.customer(email=f"{name}@example.com")).json()["customer_id"]
            for name in ("crm.kept", "crm.gone")
        )
        for crm_id, name in ((kept, "crm.kept"), (gone, "crm.gone")):
            shop.customer(crm_id, email=f"{name}@example.com")
            shop.sale(crm_id, 12, days_before(DAY, 1))
        assert api.delete(f"/customers/{gone}").status_code == 200
    app.state.engine.dispose()

    shop.build_gold(DAY)
    plan = plan_campaign(warehouse, DAY, crm_dsn=crm_database)
    send_everything(warehouse, plan)
    recipients = sorted(to for _, [to] in inbox.envelopes)
    assert "crm.kept@example.com" in recipients
    assert "crm.gone@example.com" not in recipients
    with psycopg.connect(warehouse) as conn:
        [(reason,)] = conn.execute(
            "select reason from campaign.consent_exclusions where customer_id = %s", (gone,)
        ).fetchall()
        assert reason == "deleted in the CRM"
    # The next transform's audience leaves the deleted customer out from the start.
    shop.build_gold(DAY)
    with psycopg.connect(warehouse) as conn:
        audience = {r[0] for r in conn.execute("select customer_id from gold.cross_sell_audience")}
    assert gone not in audience
    assert kept in audience


def test_an_unreachable_crm_stops_the_campaign_before_anyone_is_planned(shop, warehouse):
    shop.build_gold(DAY)
    unreachable = "postgresql://nobody@127.0.0.1:1/crm"
    with pytest.raises(ConsentUnavailable, match="stops rather than risk messaging"):
        plan_campaign(warehouse, DAY, crm_dsn=unreachable)
    with psycopg.connect(warehouse) as conn:
        assert conn.execute("select count(*) from campaign.send_log").fetchone()[0] == 0


def test_a_purchase_of_the_recommendation_after_the_plan_is_caught_at_send_time(shop, warehouse, inbox):
    shop.build_gold(DAY)
    plan = plan_campaign(warehouse, DAY)
    shop.sale(3, 11, days_before(DAY, -1))  # bought the recommended book after D
    record_opt_out(warehouse, 4, "email", "unsubscribe link", "test")  # and 4 opted out meanwhile
    send_everything(warehouse, plan)
    assert sorted(to for _, [to] in inbox.envelopes) == [f"cliente{i}@example.com" for i in (1, 2, 5)]
    email = summary(warehouse, "email")
    assert (email["sent"], email["skipped_already_bought"], email["skipped_opted_out"]) == (3, 1, 1)


def test_summaries_add_up_after_a_rerun_with_opt_outs(shop, warehouse, inbox):
    shop.build_gold(DAY)
    send_everything(warehouse, plan_campaign(warehouse, DAY, active_channels=["email"]))
    assert len(inbox.envelopes) == 5
    # Two customers opt out after the send; the transform reruns (its audience drops them) and
    # the campaign reruns: the summary must still count the 5 messages that went out.
    record_opt_out(warehouse, 1, "all", "x", "test")
    record_opt_out(warehouse, 2, "email", "x", "test")
    shop.build_gold(DAY)
    send_everything(warehouse, plan_campaign(warehouse, DAY, active_channels=["email"]))
    assert len(inbox.envelopes) == 5
    email = summary(warehouse, "email")
    assert (email["audience_size"], email["sent"], email["skipped"], email["pending"]) == (5, 5, 0, 0)
    assert email["audience_size"] == email["sent"] + email["skipped"] + email["failed"] + email["pending"]


def test_a_stale_day_sends_nothing_and_says_so(shop, warehouse, inbox, caplog):
    shop.build_gold(DAY)
    plan = plan_campaign(warehouse, DAY, stale_day=True)
    assert plan["batches"] == {"email": [], "telegram": []}
    assert write_copy(warehouse, CAMPAIGN, TemplateCopywriter()) == {}
    assert "is stale" in caplog.text
    email = summary(warehouse, "email")
    assert (email["campaign_status"], email["audience_size"], email["sent"]) == ("skipped: stale day", 5, 0)
    assert email["skipped_stale_day"] == 5
    assert inbox.envelopes == []

    # Forced (send_stale_day=True): the same campaign now sends.
    send_everything(warehouse, plan_campaign(warehouse, DAY, stale_day=False))
    assert len(inbox.envelopes) == 5


def test_only_the_latest_complete_day_is_fresh_by_default():
    started = datetime(2026, 12, 1, 10, tzinfo=UTC)  # 07:00 in Brasília on 12-01
    assert not is_stale_day(date(2026, 11, 30), started, 1)
    assert is_stale_day(date(2026, 11, 29), started, 1)
    assert not is_stale_day(date(2026, 11, 29), started, 2)
    # 01:30 UTC on 12-02 is still 12-01 in Brasília: 11-30 is still the latest complete day.
    assert not is_stale_day(date(2026, 11, 30), datetime(2026, 12, 2, 1, 30, tzinfo=UTC), 1)


def test_no_configured_unsubscribe_secret_stops_the_send_instead_of_inventing_one(tmp_path, monkeypatch):
    """Each worker that sends a batch signs its links; a secret made up on one machine's disk would
    sign links the endpoint (and the other workers) cannot verify (issue 17)."""
    from liftoff.campaign.consent import UnsubscribeSecretMissing, unsubscribe_secret

    monkeypatch.setenv("LIFTOFF_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("LIFTOFF_UNSUBSCRIBE_SECRET", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_CAMPAIGN_UNSUBSCRIBE", raising=False)
    with pytest.raises(UnsubscribeSecretMissing, match=r"campaign_unsubscribe.*LIFTOFF_UNSUBSCRIBE_SECRET"):
        unsubscribe_secret()
    assert list(tmp_path.iterdir()) == []


def test_the_local_stack_gives_every_process_the_secret_kept_in_its_state_folder(tmp_path, monkeypatch):
    from liftoff.campaign.consent import SECRET_FILE, unsubscribe_secret
    from liftoff.devstack import stack

    monkeypatch.setenv("LIFTOFF_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("LIFTOFF_UNSUBSCRIBE_SECRET", raising=False)
    exported = stack.environment(start_services=False)["LIFTOFF_UNSUBSCRIBE_SECRET"]
    assert exported == (tmp_path / SECRET_FILE).read_text().strip()  # links sent before stay valid
    assert stack.environment(start_services=False)["LIFTOFF_UNSUBSCRIBE_SECRET"] == exported
    monkeypatch.setenv("LIFTOFF_UNSUBSCRIBE_SECRET", exported)
    assert unsubscribe_secret() == exported.encode()
