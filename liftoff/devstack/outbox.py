"""The local mail outbox: a real SMTP server on 127.0.0.1 that keeps every message in a Maildir.

The embedded stack points `smtp_default` at it (unless the user configured their own), so the
campaign's e-mails and the quality gate's alerts go through real SMTP and land somewhere a person
(or the dashboard's Campanhas page) can read them, instead of a run that is green with 0 sent.
Nothing is relayed onwards: the outbox is a sink.

    python -m liftoff.devstack.outbox --port 8025 [--dir .liftoff/outbox]   # serve until SIGTERM

It listens on 127.0.0.1 unless `--host` says otherwise (the compose service listens on its
container's network: `--host 0.0.0.0`, reachable from the Airflow containers only).

Each accepted message is written with `mailbox.Maildir.add`: to `tmp/`, then renamed into `new/`,
so a reader never sees half a message. The SMTP envelope (who sent it, to whom) is kept as
`X-MailFrom` / `X-RcptTo` headers in front of the message as received.
"""

from __future__ import annotations

import argparse
import mailbox
import os
import signal
import sys
from pathlib import Path

from liftoff import settings

DEFAULT_PORT = 8025
HOST = "127.0.0.1"


def outbox_port() -> int:
    """LIFTOFF_OUTBOX_PORT, else 8025 (the usual port of a development mail sink)."""
    raw = os.environ.get("LIFTOFF_OUTBOX_PORT", str(DEFAULT_PORT))
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"LIFTOFF_OUTBOX_PORT must be a port number, got {raw!r}") from None


class MaildirHandler:
    """aiosmtpd handler: every accepted message becomes one file in the Maildir at `path`."""

    def __init__(self, path: Path) -> None:
        self.maildir = mailbox.Maildir(path, create=True)

    async def handle_DATA(self, server, session, envelope) -> str:
        recipients = ", ".join(envelope.rcpt_tos)
        head = f"X-MailFrom: {envelope.mail_from}\nX-RcptTo: {recipients}\n".encode()
        body = envelope.original_content.replace(b"\r\n", b"\n")
        self.maildir.add(head + body)
        return "250 Message accepted for delivery"


def serve(path: Path, port: int, host: str = HOST) -> None:
    """Serve until SIGTERM or SIGINT (how `make down` and Ctrl-C stop it)."""
    from aiosmtpd.controller import Controller

    controller = Controller(MaildirHandler(path), hostname=host, port=port)
    controller.start()
    print(f"liftoff outbox: SMTP on {host}:{port}, messages in {path}", flush=True)
    stopping: list[int] = []

    def stop(signum: int, _frame) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while not stopping:
            signal.pause()
    finally:
        controller.stop()


def messages(path: Path | None = None) -> list[mailbox.MaildirMessage]:
    """The messages in the outbox, oldest first (by the delivery time Maildir keeps in the name)."""
    path = path or settings.outbox_dir()
    if not (path / "new").is_dir():
        return []
    box = mailbox.Maildir(path, create=False)
    keyed = sorted(box.iteritems(), key=lambda item: item[1].get_date())
    return [message for _, message in keyed]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m liftoff.devstack.outbox", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--port", type=int, default=None, help="default: LIFTOFF_OUTBOX_PORT or 8025")
    parser.add_argument("--dir", type=Path, help="default: LIFTOFF_OUTBOX_DIR or .liftoff/outbox")
    parser.add_argument("--host", default=HOST, help=f"address to listen on (default {HOST})")
    args = parser.parse_args(argv)
    port = args.port if args.port is not None else outbox_port()
    serve(args.dir or settings.outbox_dir(), port, args.host)
    return 0


if __name__ == "__main__":
    sys.exit(main())
