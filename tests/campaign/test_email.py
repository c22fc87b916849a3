"""E-mail delivery against a real SMTP server (aiosmtpd): layout, headers, consent, exactly once."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import date
from email import message_from_string, policy
from email.generator import BytesGenerator
from email.utils import parseaddr
from io import BytesIO

import psycopg
import pytest

from liftoff.campaign.audience import build_audience, load_batch, segments
from liftoff.campaign.config import DEFAULT_SENDER_EMAIL, Links, campaign_id_for
from liftoff.campaign.consent import InvalidToken, verify_token
from liftoff.campaign.copywriter import TemplateCopywriter, load_segment_copy, store_segment_copy
from liftoff.campaign.mail import (
    _WIRE_POLICY,
    HEADER_POLICY,
    _header_line,
    render_email,
    send_email_batch,
    wire_email,
)
from liftoff.campaign.send_log import OUTCOME_UNKNOWN
from liftoff.devstack.loopback import free_port
from tests.campaign.shop import Shop, days_before
from tests.services.smtp_server import Inbox, serve, smtp_server

DAY = date(2026, 6, 10)
CAMPAIGN = campaign_id_for(DAY)
SECRET = b"test-secret-not-for-production-of-at-least-32-bytes"
SHOP_NAME, SHOP_ADDRESS = "Livraria Sabiá", "Av. das Palmeiras, 42, Recife - PE, 50000-000"
LINKS = Links(
    shop_url="https://loja.test",
    unsubscribe_url="https://loja.test/unsubscribe",
    shop_name=SHOP_NAME,
    shop_address=SHOP_ADDRESS,
)


@pytest.fixture
def campaign(warehouse) -> str:
    """Three recent buyers of a book; the best-selling book is dear enough to show R$ thousands."""
    shop = Shop(warehouse)
    shop.product(11, "Livros", "1234.56", name="Enciclopédia <Completa>", description="Doze volumes & índice")
    shop.product(12, "Livros", "20.00", name="Romance")
    shop.fans(11, 3, days_before(DAY, 20), 900)
    for customer in (1, 2, 3):
        shop.customer(customer, first_name=f"Ana{customer}")
        shop.sale(customer, 12, days_before(DAY, 1))
    shop.build_gold(DAY)
    build_audience(warehouse, CAMPAIGN, DAY)
    store_segment_copy(warehouse, CAMPAIGN, segments(warehouse, CAMPAIGN), TemplateCopywriter())
    return CAMPAIGN


@pytest.fixture
def inbox(monkeypatch):
    with smtp_server() as server:
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", server.connection_json())
        yield server


def statuses(dsn: str) -> dict[int, tuple[str, str | None]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "select customer_id, status, detail from campaign.send_log where channel = 'email'"
        )
        return {customer: (status, detail) for customer, status, detail in rows.fetchall()}


def test_the_email_has_the_seed_layout_and_a_signed_unsubscribe(campaign, inbox, warehouse):
    result = send_email_batch(warehouse, campaign, 0, LINKS, SECRET)
    assert result.sent == 3
    assert inbox.sessions == 1  # one SMTP session for the whole batch
    assert sorted(to for _, [to] in inbox.envelopes) == [f"cliente{i}@example.com" for i in (1, 2, 3)]
    message = next(m for m in inbox.messages() if m["To"] == "cliente1@example.com")
    assert message.get_content_type() == "multipart/alternative"
    assert "Enciclopédia Completa" in message["Subject"]  # the product, its markup dropped
    assert message["Message-ID"] == f"<{campaign}.1.email@liftoff.example>"
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Olá, Ana1!" in plain
    assert "R$ 1.234,56" in plain
    assert "R$ 1.234,56" in html
    assert "Enciclopédia &lt;Completa&gt;" in html  # product text is escaped data
    assert "Doze volumes &amp; índice" in html
    assert 'href="https://loja.test/produtos/11"' in html
    assert "porque comprou Romance (Livros)" in plain

    header = message["List-Unsubscribe"]
    assert header.startswith("<https://loja.test/unsubscribe?token=")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    token = header.strip("<>").split("token=", 1)[1]
    assert token in html
    unsubscribe = verify_token(token, SECRET)
    assert (unsubscribe.customer_id, unsubscribe.channel, unsubscribe.campaign_id) == (1, "email", campaign)
    _, signature = token.split(".")
    other_customer = base64.urlsafe_b64encode(f"2:email:{campaign}".encode()).rstrip(b"=").decode()
    forged = f"{other_customer}.{signature}"  # customer 1's signature on customer 2's payload
    with pytest.raises(InvalidToken, match="does not verify"):
        verify_token(forged, SECRET)
    with pytest.raises(InvalidToken, match="does not verify"):
        verify_token(token, b"another-secret-of-at-least-32-bytes")


def test_a_rerun_of_the_batch_sends_nothing_again(campaign, inbox, warehouse):
    send_email_batch(warehouse, campaign, 0, LINKS, SECRET)
    again = send_email_batch(warehouse, campaign, 0, LINKS, SECRET)
    assert again.sent == 0
    assert again.already_final == 3
    assert len(inbox.messages()) == 3
    assert inbox.sessions == 1  # nothing left to send: no session opened


def test_a_retry_after_a_failure_mid_batch_sends_each_message_once(campaign, inbox, warehouse):
    inbox.busy_once.add("cliente2@example.com")  # the server says "try later" halfway through
    with pytest.raises(Exception, match="try again later"):
        send_email_batch(warehouse, campaign, 0, LINKS, SECRET)
    assert statuses(warehouse) == {1: ("sent", None), 2: ("pending", None), 3: ("pending", None)}
    retry = send_email_batch(warehouse, campaign, 0, LINKS, SECRET)  # Airflow's task retry
    assert retry.sent == 2
    received = sorted(to for _, [to] in inbox.envelopes)
    assert received == [f"cliente{i}@example.com" for i in (1, 2, 3)]


def test_a_worker_dying_after_the_handoff_never_causes_a_duplicate(campaign, inbox, warehouse):
    def die_after_second(recipient):
        if recipient.customer_id == 2:
            raise SystemExit("worker killed")

    with pytest.raises(SystemExit):
        send_email_batch(warehouse, campaign, 0, LINKS, SECRET, after_handoff=die_after_second)
    assert statuses(warehouse)[2][0] == "sending"
    retry = send_email_batch(warehouse, campaign, 0, LINKS, SECRET)
    assert retry.sent == 1
    assert sorted(to for _, [to] in inbox.envelopes) == [f"cliente{i}@example.com" for i in (1, 2, 3)]
    assert statuses(warehouse)[2] == ("failed", OUTCOME_UNKNOWN)  # at-most-once, and said so


@pytest.mark.parametrize("refused", [1, 2])  # 2: refused while its envelope went ahead of its claim
def test_a_refused_address_fails_alone_and_opted_out_customers_are_skipped(
    campaign, inbox, warehouse, refused
):
    inbox.refuse.add(f"cliente{refused}@example.com")
    with psycopg.connect(warehouse) as conn:  # opted out after the audience was built
        conn.execute(
            "insert into campaign.opt_outs (customer_id, channel, reason, source)"
            " values (3, 'all', 'unsubscribe link', 'test')"
        )
    result = send_email_batch(warehouse, campaign, 0, LINKS, SECRET)
    assert (result.sent, result.failed, result.skipped) == (1, 1, 1)
    assert [to for _, [to] in inbox.envelopes] == [f"cliente{3 - refused}@example.com"]
    assert statuses(warehouse)[3 - refused] == ("sent", None)
    assert "550" in statuses(warehouse)[refused][1]


@dataclass
class ClaimCheckingInbox(Inbox):
    """An inbox that, as each message arrives, reads the sender's send log: what was the row of
    the message's recipient then?"""

    dsn: str = ""
    status_on_arrival: dict[str, str] = field(default_factory=dict)

    async def handle_DATA(self, server, session, envelope):
        [address] = envelope.rcpt_tos
        customer = int(address.removeprefix("cliente").split("@")[0])
        with psycopg.connect(self.dsn) as conn:
            status = conn.execute(
                "select status from campaign.send_log where channel = 'email' and customer_id = %s",
                (customer,),
            ).fetchone()[0]
        self.status_on_arrival[address] = status
        return await super().handle_DATA(server, session, envelope)


def test_the_next_envelope_goes_ahead_but_its_message_waits_for_the_claim(campaign, warehouse, monkeypatch):
    """While the log commits message 1 and claims 2, message 2's envelope (MAIL FROM, RCPT TO) goes
    to the server; another worker takes customer 2 meanwhile, so the claim is lost: the envelope
    is reset and 2 is never handed over. Every message that arrives was claimed first."""
    inbox = ClaimCheckingInbox(port=free_port(), dsn=warehouse)

    def another_worker_takes_customer_2(recipient):
        if recipient.customer_id == 1:
            with psycopg.connect(warehouse) as conn:
                conn.execute(
                    "update campaign.send_log set status = 'sending'"
                    " where channel = 'email' and customer_id = 2"
                )

    with serve(inbox):
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", inbox.connection_json())
        result = send_email_batch(
            warehouse, campaign, 0, LINKS, SECRET, after_handoff=another_worker_takes_customer_2
        )
    assert result.sent == 2
    assert inbox.offered == [f"cliente{i}@example.com" for i in (1, 2, 3)]  # 2's envelope went ahead
    assert [to for _, [to] in inbox.envelopes] == ["cliente1@example.com", "cliente3@example.com"]
    assert inbox.status_on_arrival == {"cliente1@example.com": "sending", "cliente3@example.com": "sending"}
    assert statuses(warehouse) == {1: ("sent", None), 2: ("sending", None), 3: ("sent", None)}


def test_the_bytes_sent_are_the_email_packages_flattening_of_the_message(campaign, warehouse):
    """The campaign writes each message's bytes itself: exactly what smtplib's send_message would
    send for render_email's message (same boundary and Date), and the same envelope."""
    with psycopg.connect(warehouse) as conn:
        recipients = load_batch(conn, campaign, 0)
        copies = load_segment_copy(conn, campaign)
    senders = ["ofertas@loja.test", "Equipe Sabiá <ofertas@loja.test>", None]
    for recipient, sender in zip(recipients, senders, strict=True):
        copy = copies[recipient.segment_key]
        copy = copy.model_copy(update={"subject": "Açaí, pão & café — " * 6})  # 120 characters, encoded
        boundary = "===============0123456789012345678=="
        wire = wire_email(recipient, copy, campaign, LINKS, SECRET, sender, boundary=boundary)
        message = render_email(recipient, copy, campaign, LINKS, SECRET, sender)
        message.set_boundary(boundary)
        date = message_from_string(wire.data.decode("ascii"))["Date"]
        message.replace_header("Date", date)
        flattened = BytesIO()
        BytesGenerator(flattened, policy=HEADER_POLICY.clone(linesep="\r\n")).flatten(message)
        assert wire.data == flattened.getvalue()
        expected_sender = "ofertas@loja.test" if sender else parseaddr(DEFAULT_SENDER_EMAIL)[1]
        assert (wire.sender, wire.recipient) == (expected_sender, recipient.customer_email)


def test_a_dry_run_renders_but_sends_and_logs_nothing(campaign, inbox, warehouse):
    result = send_email_batch(warehouse, campaign, 0, LINKS, SECRET, dry_run=True)
    assert result.dry_run
    assert result.recipients == 3
    assert inbox.messages() == []
    assert statuses(warehouse) == {}


def test_without_an_smtp_connection_email_is_off_and_nothing_is_claimed(campaign, warehouse, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_SMTP_DEFAULT", raising=False)
    result = send_email_batch(warehouse, campaign, 0, LINKS, SECRET)
    assert result.sent == 0
    assert statuses(warehouse) == {}


URGENT = ("antes que acabe", "últimas unidades", "enquanto há estoque", "só hoje", "corra", "não perca")


def visible_parts(message) -> dict[str, str]:
    """What a mail client shows of a message: subject, sender, and the two bodies."""
    return {
        "subject": str(message["Subject"]),
        "from": str(message["From"]),
        "plain": message.get_body(("plain",)).get_content(),
        "html": message.get_body(("html",)).get_content(),
    }


@pytest.mark.parametrize("from_email", ["ofertas@loja.test", "Equipe Sabiá <ofertas@loja.test>"])
def test_the_shop_signs_the_email_and_the_platform_is_nowhere(campaign, warehouse, monkeypatch, from_email):
    with smtp_server() as server:
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", server.connection_json(from_email=from_email))
        assert send_email_batch(warehouse, campaign, 0, LINKS, SECRET).sent == 3
        message = server.messages()[0]
    parts = visible_parts(message)
    # A bare sender address gets the shop's name; a named one is kept as configured.
    expected_name = SHOP_NAME if "<" not in from_email else "Equipe Sabiá"
    assert message["From"].addresses[0].display_name == expected_name
    assert message["From"].addresses[0].addr_spec == "ofertas@loja.test"
    footer = parts["plain"].rsplit("Descadastre-se", 1)[1]
    assert SHOP_NAME in footer
    assert SHOP_ADDRESS in footer
    html_footer = parts["html"].rsplit("Descadastrar-se", 1)[1]
    assert SHOP_NAME in html_footer
    assert SHOP_ADDRESS in html_footer
    for name, text in parts.items():
        assert "liftoff" not in text.lower(), name
        assert not [phrase for phrase in URGENT if phrase in text.lower()], name


def test_the_default_shop_is_not_the_platform(campaign, warehouse):
    with psycopg.connect(warehouse) as conn:
        recipient = load_batch(conn, campaign, 0)[0]
        copy = load_segment_copy(conn, campaign)[recipient.segment_key]
    defaults = Links()
    message = render_email(recipient, copy, campaign, defaults, SECRET)
    parsed = message_from_string(message.as_string(), policy=policy.default)
    parts = visible_parts(parsed)
    assert parsed["From"].addresses[0].display_name == defaults.shop_name
    assert defaults.shop_name in parts["plain"]
    assert defaults.shop_address in parts["plain"]
    for name, text in parts.items():
        assert "liftoff" not in text.lower(), name


def test_the_shop_is_configured_from_the_environment(monkeypatch):
    monkeypatch.setenv("LIFTOFF_SHOP_NAME", " Casa Jatobá ")
    monkeypatch.setenv("LIFTOFF_SHOP_ADDRESS", "Rua do Sol, 7, Natal - RN")
    links = Links.from_environment()
    assert (links.shop_name, links.shop_address) == ("Casa Jatobá", "Rua do Sol, 7, Natal - RN")
    assert links.sender("vendas@jatoba.test") == "Casa Jatobá <vendas@jatoba.test>"
    monkeypatch.setenv("LIFTOFF_SHOP_NAME", "Casa\r\nBcc: victim@example.com")
    with pytest.raises(ValueError, match="LIFTOFF_SHOP_NAME"):
        Links.from_environment()
    monkeypatch.setenv("LIFTOFF_SHOP_NAME", "   ")
    with pytest.raises(ValueError, match="LIFTOFF_SHOP_NAME"):
        Links.from_environment()


@pytest.mark.parametrize(
    "value",
    [
        '"Loja, Ltda." <ofertas@loja.test>',
        "=?utf-8?q?Equipe_Sabi=C3=A1?= <ofertas@loja.test>",
        "x" * 980,  # the longest line written as it is
        "word " * 200,  # folded
        "two  spaces",
        " leading space",
        "tab\there",
        "Sabiá",
    ],
)
def test_a_header_written_directly_is_what_the_policy_writes(value):
    assert _header_line("X-Test", value) == _WIRE_POLICY.fold_binary("X-Test", value)
