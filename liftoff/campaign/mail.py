"""The campaign e-mail: the seed's layout as multipart HTML + plain text, sent through the SMTP
provider's connection (liftoff.notify.email), one SMTP session per batch.

Layout (from the original): the copy as header, a product card (name, description, price in R$),
a call-to-action link to the product, a footer naming the customer's last purchase and the shop
(its name and postal address, as commercial e-mail must), and an unsubscribe link whose token is
HMAC-signed, also offered as a List-Unsubscribe header (one-click). The From line's display name
is the shop's unless the SMTP connection's from_email names one.
"""

from __future__ import annotations

import base64
import functools
import html
import logging
import random
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import formataddr, formatdate, parseaddr
from urllib.parse import urlencode

from liftoff.campaign.audience import Recipient
from liftoff.campaign.config import SMTP_CONN_ID, Links
from liftoff.campaign.consent import unsubscribe_token
from liftoff.campaign.copywriter import CampaignCopy, brl, personalise
from liftoff.campaign.send_log import BatchResult, message_id, send_batch
from liftoff.notify.email import SmtpSession, smtp_configured

log = logging.getLogger(__name__)

MESSAGE_ID_DOMAIN = "liftoff.example"
# Long headers (List-Unsubscribe carries a token) stay on one line: SMTP allows 998 characters.
HEADER_POLICY = compat32.clone(max_line_length=998)


def unsubscribe_link(
    links: Links, recipient: Recipient, channel: str, campaign_id: str, secret: bytes
) -> str:
    token = unsubscribe_token(recipient.customer_id, channel, campaign_id, secret)
    return f"{links.unsubscribe_url}?{urlencode({'token': token})}"


@functools.lru_cache(maxsize=64)
def _from_header(from_address: str) -> tuple[str, str]:
    """The From header's value and the envelope's sender address (what send_message takes)."""
    value = formataddr(parseaddr(from_address), charset="utf-8")
    return value, parseaddr(value)[1]


def _content(
    recipient: Recipient,
    copy: CampaignCopy,
    campaign_id: str,
    links: Links,
    secret: bytes,
    from_address: str | None,
) -> tuple[list[tuple[str, str]], str, str]:
    """The message's headers (in order; Subject first, still to be encoded), plain text and HTML
    for one recipient."""
    if not recipient.customer_email:
        raise ValueError(f"customer {recipient.customer_id} has no e-mail address")
    text = personalise(copy, recipient)
    product_url = links.product_url(recipient.recommended_product_id)
    unsubscribe = unsubscribe_link(links, recipient, "email", campaign_id, secret)
    price = brl(recipient.recommended_price)
    description = recipient.recommended_description or ""
    headers = [
        ("Subject", text.subject),
        ("From", _from_header(from_address or links.sender())[0]),
        ("To", recipient.customer_email),
        ("Date", formatdate(localtime=False)),
        ("Message-ID", f"<{message_id(campaign_id, recipient.customer_id, 'email')}@{MESSAGE_ID_DOMAIN}>"),
        ("List-Unsubscribe", f"<{unsubscribe}>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ("X-Campaign-Id", campaign_id),
    ]
    plain = (
        f"{text.greeting}\n\n{text.email_copy}\n\n"
        f"{recipient.recommended_product_name}\n{description}\nPreço: {price}\n"
        f"Ver produto: {product_url}\n\n"
        f"Você recebeu esta recomendação porque comprou {recipient.last_product_name} "
        f"({recipient.last_category}).\n"
        f"Não quer mais receber? Descadastre-se: {unsubscribe}\n\n"
        f"{links.shop_name}\n{links.shop_address}\n"
    )
    e = html.escape
    body = f"""<!doctype html>
<html lang="pt-BR"><body style="font-family:Arial,sans-serif;background:#f4f4f7;margin:0;padding:24px">
<table role="presentation" width="100%" style="max-width:600px;margin:auto;background:#fff;border-radius:8px">
<tr><td style="padding:24px">
<h2 style="margin:0 0 12px">{e(text.greeting)}</h2>
<p style="font-size:16px;line-height:1.5">{e(text.email_copy)}</p>
<div style="border:1px solid #e0e0e6;border-radius:8px;padding:16px;margin:16px 0">
<h3 style="margin:0 0 8px">{e(recipient.recommended_product_name)}</h3>
<p style="color:#555">{e(description)}</p>
<p style="font-size:20px;font-weight:bold">{e(price)}</p>
<a href="{e(product_url)}" style="display:inline-block;background:#5b3cc4;color:#fff;padding:12px 20px;border-radius:6px;text-decoration:none">Quero conhecer</a>
</div>
<p style="font-size:12px;color:#888">Você recebeu esta recomendação porque comprou
{e(recipient.last_product_name)} ({e(recipient.last_category)}).</p>
<p style="font-size:12px;color:#888"><a href="{e(unsubscribe)}">Descadastrar-se</a></p>
<p style="font-size:12px;color:#888">{e(links.shop_name)}<br>{e(links.shop_address)}</p>
</td></tr></table></body></html>
"""  # noqa: E501 - inline e-mail CSS
    return headers, plain, body


def render_email(
    recipient: Recipient,
    copy: CampaignCopy,
    campaign_id: str,
    links: Links,
    secret: bytes,
    from_address: str | None = None,
) -> MIMEMultipart:
    """The message for one recipient; the address is the CRM's, whatever the copy says.
    `from_address` defaults to the shop's (Links.sender)."""
    headers, plain, body = _content(recipient, copy, campaign_id, links, secret, from_address)
    # email.mime (compat32) rather than EmailMessage: the same MIME, ~4x less CPU per message,
    # because headers are not re-parsed into objects on every assignment.
    message = MIMEMultipart("alternative", policy=HEADER_POLICY)
    for name, value in headers:
        message[name] = Header(value, "utf-8") if name == "Subject" else value
    message.attach(MIMEText(plain, "plain", "utf-8", policy=HEADER_POLICY))
    message.attach(MIMEText(body, "html", "utf-8", policy=HEADER_POLICY))
    return message


# What the campaign sends: the bytes email's BytesGenerator would write for render_email's message
# (the test holds them equal), written directly. Walking the message objects to flatten them was
# the largest CPU cost of a send after rendering itself (issue 18's profile).
_WIRE_POLICY = HEADER_POLICY.clone(linesep="\r\n")
_PART_HEAD = {
    subtype: f'Content-Type: text/{subtype}; charset="utf-8"\r\nMIME-Version: 1.0\r\n'
    "Content-Transfer-Encoding: base64\r\n\r\n".encode("ascii")
    for subtype in ("plain", "html")
}
_BOUNDARY_DIGITS = len(repr(sys.maxsize - 1))


# A header value the policy writes as it is: printable ASCII words, single spaces, on one line.
_PLAIN_HEADER = re.compile(r"[!-~]+(?: [!-~]+)*")


def _header_line(name: str, value: str) -> bytes:
    if len(name) + len(value) < 990 and _PLAIN_HEADER.fullmatch(value):
        return f"{name}: {value}\r\n".encode("ascii")
    return _WIRE_POLICY.fold_binary(name, value)


@functools.lru_cache(maxsize=1024)
def _subject_line(subject: str) -> bytes:
    """The Subject header as render_email's Header(subject, "utf-8") is written (one per segment)."""
    return _WIRE_POLICY.fold_binary("Subject", Header(subject, "utf-8"))


def _text_part(text: str, subtype: str) -> bytes:
    """A MIMEText(text, subtype, "utf-8") part, flattened with CRLF line ends: base64 in lines of
    76 characters, as email.base64mime writes it."""
    encoded = base64.b64encode(text.encode("utf-8"))
    lines = [encoded[start : start + 76] for start in range(0, len(encoded), 76)]
    return _PART_HEAD[subtype] + b"\r\n".join(lines) + b"\r\n"


def _boundary(parts: bytes) -> str:
    """A boundary as email.generator makes one: random, and absent from the parts."""
    while True:
        token = random.randrange(sys.maxsize)  # noqa: S311 - a MIME boundary, not a secret
        boundary = f"{'=' * 15}{token:0{_BOUNDARY_DIGITS}d}=="
        if f"--{boundary}".encode("ascii") not in parts:
            return boundary


@dataclass(frozen=True)
class WireEmail:
    """One recipient's message as it goes on the wire, with its SMTP envelope."""

    sender: str
    recipient: str
    data: bytes


def wire_email(
    recipient: Recipient,
    copy: CampaignCopy,
    campaign_id: str,
    links: Links,
    secret: bytes,
    from_address: str | None = None,
    *,
    boundary: str | None = None,
) -> WireEmail:
    """render_email's message as smtplib's send_message would hand it over: the bytes (CRLF line
    ends) and the envelope (the From and To addresses). `boundary` is for the test only."""
    headers, plain, body = _content(recipient, copy, campaign_id, links, secret, from_address)
    parts = (_text_part(plain, "plain"), _text_part(body, "html"))
    boundary = boundary or _boundary(b"\r\n".join(parts))
    delimiter = f"--{boundary}".encode("ascii")
    data = b"".join(
        [
            f'Content-Type: multipart/alternative; boundary="{boundary}"\r\nMIME-Version: 1.0\r\n'.encode(),
            _subject_line(headers[0][1]),
            *(_header_line(name, value) for name, value in headers[1:]),
            b"\r\n",
            delimiter,
            b"\r\n",
            parts[0],
            b"\r\n",
            delimiter,
            b"\r\n",
            parts[1],
            b"\r\n",
            delimiter,
            b"--\r\n",
        ]
    )
    return WireEmail(_from_header(from_address or links.sender())[1], str(recipient.customer_email), data)


class _EmailSender:
    """The batch's SMTP session; the sender address is the connection's, else the shop's.

    `prepare` renders the next message and opens its envelope (MAIL FROM, RCPT TO) while the send
    log commits the claim of that message; `send` hands it over (DATA) only once the claim has
    committed, or `abandon` resets the envelope when the claim was lost. An error met ahead is kept
    and raised by `send`, as if met there.
    """

    def __init__(self, conn_id: str, campaign_id: str, links: Links, secret: bytes) -> None:
        self.session = SmtpSession(conn_id)
        self.from_address = links.sender(self.session.from_email)
        self.campaign_id, self.links, self.secret = campaign_id, links, secret
        self.ahead: tuple[int, WireEmail | None, Exception | None] | None = None

    def _wire(self, recipient: Recipient, copy: CampaignCopy) -> WireEmail | None:
        """The message's bytes, or None for an address outside ASCII (smtplib's send_message then
        negotiates SMTPUTF8 and flattens the message itself)."""
        wire = wire_email(recipient, copy, self.campaign_id, self.links, self.secret, self.from_address)
        return wire if (wire.sender + wire.recipient).isascii() else None

    def _send_message(self, recipient: Recipient, copy: CampaignCopy) -> None:
        message = render_email(recipient, copy, self.campaign_id, self.links, self.secret, self.from_address)
        self.session.send(message, str(recipient.customer_email))

    def prepare(self, recipient: Recipient, copy: CampaignCopy) -> None:
        try:
            wire = self._wire(recipient, copy)
            if wire is not None:
                self.session.open_envelope(wire.sender, wire.recipient, len(wire.data))
        except Exception as error:  # raised by send, if the claim is won
            self.ahead = (recipient.customer_id, None, error)
        else:
            self.ahead = (recipient.customer_id, wire, None)

    def abandon(self) -> None:
        ahead, self.ahead = self.ahead, None
        if ahead is not None and ahead[1] is not None:
            self.session.reset()

    def send(self, recipient: Recipient, copy: CampaignCopy) -> None:
        if self.ahead is not None and self.ahead[0] != recipient.customer_id:
            self.abandon()
        ahead, self.ahead = self.ahead, None
        if ahead is None:
            wire = self._wire(recipient, copy)
            if wire is None:
                self._send_message(recipient, copy)
            else:
                self.session.send_bytes(wire.sender, wire.recipient, wire.data)
            return
        _, wire, error = ahead
        if error is not None:
            raise error
        if wire is None:
            self._send_message(recipient, copy)
        else:
            self.session.hand_over(wire.data, wire.recipient)

    def close(self) -> None:
        self.session.close()


def send_email_batch(
    dsn: str,
    campaign_id: str,
    batch_number: int,
    links: Links,
    secret: bytes,
    *,
    smtp_conn_id: str = SMTP_CONN_ID,
    dry_run: bool = False,
    after_handoff: Callable[[Recipient], None] | None = None,
) -> BatchResult:
    """Send one batch of the campaign's e-mails through the SMTP connection `smtp_conn_id`, one
    SMTP session for the batch (see send_log.send_batch). Each message's envelope goes to the
    server while the send log commits its claim; the message itself only once that has committed."""
    return send_batch(
        dsn,
        campaign_id,
        "email",
        batch_number,
        configured=lambda: smtp_configured(smtp_conn_id),
        open_sender=lambda: _EmailSender(smtp_conn_id, campaign_id, links, secret),
        render=lambda recipient, copy: render_email(recipient, copy, campaign_id, links, secret),
        dry_run=dry_run,
        after_handoff=after_handoff,
        envelope_ahead=True,
    )
