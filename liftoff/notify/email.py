"""The SMTP client, through the SMTP provider's connection: one session for many messages.

The provider's own `send_email_smtp` builds an HTML-only body, so its authenticated session
(host, TLS, login, connect retries from the connection) carries the caller's message instead.
"""

from __future__ import annotations

import contextlib
import smtplib
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
        try:
            self.hook._smtp_client.send_message(message)
        except smtplib.SMTPException as error:
            if smtp_refusal(error):
                raise PermanentDeliveryError(f"SMTP refused {recipient}: {error}") from error
            raise

    def close(self) -> None:
        # End the session politely (RFC 5321 QUIT); the hook's exit only drops the socket.
        with contextlib.suppress(smtplib.SMTPException):
            self.hook._smtp_client.quit()
        self.hook.__exit__(None, None, None)
