"""The SMTP client, through the SMTP provider's connection: one session for many messages.

The provider's own `send_email_smtp` builds an HTML-only body, so its authenticated session
(host, TLS, login, connect retries from the connection) carries the caller's message instead.
"""

from __future__ import annotations

import contextlib
import smtplib
from collections.abc import Iterator
from email.message import Message

from liftoff.notify import PermanentDeliveryError, connection_exists


def smtp_configured(conn_id: str) -> bool:
    """Without an SMTP connection e-mail is off (the caller logs it), as Telegram is without its."""
    return connection_exists(conn_id)


def smtp_refusal(error: smtplib.SMTPException) -> bool:
    """True when the server refused this recipient for good (5xx), not the session."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(500 <= code < 600 for code, _ in error.recipients.values())
    code = getattr(error, "smtp_code", None)
    return (
        isinstance(code, int) and 500 <= code < 600 and not isinstance(error, smtplib.SMTPServerDisconnected)
    )


@contextlib.contextmanager
def _delivering(recipient: str) -> Iterator[None]:
    """PermanentDeliveryError for a refusal of `recipient` for good; other SMTP errors as they are."""
    try:
        yield
    except smtplib.SMTPException as error:
        if smtp_refusal(error):
            raise PermanentDeliveryError(f"SMTP refused {recipient}: {error}") from error
        raise


def _end_transaction(client: smtplib.SMTP, code: int) -> None:
    """What smtplib's sendmail does after a refusal: close on 421, else reset the transaction."""
    if code == 421:
        client.close()
    else:
        client._rset()


class SmtpSession:
    """One authenticated SMTP session of the connection `conn_id`, opened on creation."""

    def __init__(self, conn_id: str) -> None:
        from airflow.providers.smtp.hooks.smtp import SmtpHook

        self.hook = SmtpHook(smtp_conn_id=conn_id).get_conn()

    @property
    def from_email(self) -> str | None:
        """The connection's sender address, if it names one."""
        return self.hook.from_email

    def send(self, message: Message, recipient: str) -> None:
        """Hand one message over; PermanentDeliveryError when the server refuses `recipient` for
        good, the SMTP error itself when it did not take the message (worth a retry)."""
        with _delivering(recipient):
            self.hook._smtp_client.send_message(message)

    def send_bytes(self, sender: str, recipient: str, data: bytes) -> None:
        """`send` for a message already flattened (CRLF line ends), with its envelope."""
        with _delivering(recipient):
            self.hook._smtp_client.sendmail(sender, [recipient], data)

    def open_envelope(self, sender: str, recipient: str, size: int) -> None:
        """The first half of `send_bytes`, as smtplib's sendmail does it: MAIL FROM and RCPT TO.
        Nothing is handed over until `hand_over`; `reset` drops the envelope."""
        client = self.hook._smtp_client
        with _delivering(recipient):
            client.ehlo_or_helo_if_needed()
            options = [f"size={size}"] if client.does_esmtp and client.has_extn("size") else []
            code, response = client.mail(sender, options)
            if code != 250:
                _end_transaction(client, code)
                raise smtplib.SMTPSenderRefused(code, response, sender)
            code, response = client.rcpt(recipient)
            if code not in (250, 251):
                _end_transaction(client, code)
                raise smtplib.SMTPRecipientsRefused({recipient: (code, response)})

    def hand_over(self, data: bytes, recipient: str) -> None:
        """The second half of `send_bytes`: DATA, the message itself, after `open_envelope`."""
        client = self.hook._smtp_client
        with _delivering(recipient):
            code, response = client.data(data)
            if code != 250:
                _end_transaction(client, code)
                raise smtplib.SMTPDataError(code, response)

    def reset(self) -> None:
        """Drop an envelope opened by `open_envelope` (RSET): nothing was handed over. A lost
        session fails the next message instead."""
        with contextlib.suppress(smtplib.SMTPException, OSError):
            self.hook._smtp_client.rset()

    def close(self) -> None:
        # End the session politely (RFC 5321 QUIT); the hook's exit only drops the socket.
        with contextlib.suppress(smtplib.SMTPException):
            self.hook._smtp_client.quit()
        self.hook.__exit__(None, None, None)
