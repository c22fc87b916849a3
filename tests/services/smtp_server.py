"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives, for delivery tests and
the campaign benchmark. Not a double: it speaks SMTP through aiosmtpd's own protocol stack.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from liftoff.devstack.loopback import free_port


@dataclass
class Inbox:
    """Messages the server accepted, in order. `refuse`: answer 550 for these recipients;
    `busy_once`: answer 451 (try later) the first time each of these recipients is given;
    `offered`: every RCPT TO address, in order, whether or not a message followed."""

    raw: list[bytes] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    busy_once: set[str] = field(default_factory=set)
    offered: list[str] = field(default_factory=list)
    sessions: int = 0
    port: int = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.offered.append(address)
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        if address in self.busy_once:
            self.busy_once.discard(address)
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.raw.append(envelope.content)  # parsed on demand: 10,000 parsed messages weigh ~1 GB
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.sessions += 1
        session.host_name = hostname
        return responses

    def messages(self) -> list[EmailMessage]:
        """The received messages, parsed. A method, not a property: aiosmtpd inspects the handler's
        members on every new session, and a property would re-parse every message each time."""
        return [message_from_bytes(raw, policy=policy.default) for raw in self.raw]

    def clear(self) -> None:
        self.raw.clear()
        self.envelopes.clear()

    def connection_json(self, from_email: str = "Liftoff Data <ofertas@liftoff.example>") -> str:
        """The Airflow connection (smtp provider) that points at this server, without TLS."""
        return json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": self.port,
                "extra": {
                    "disable_ssl": True,
                    "disable_tls": True,
                    "from_email": from_email,
                    "retry_limit": 1,
                },
            }
        )


@contextmanager
def serve(inbox: Inbox) -> Iterator[Inbox]:
    """Serve `inbox` on its port until the block ends. Apart from `smtp_server` so that a test can
    hand out the connection first and bring the server up later (the SMTP-outage test)."""
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


@contextmanager
def smtp_server() -> Iterator[Inbox]:
    with serve(Inbox(port=free_port())) as inbox:
        yield inbox


def serve_in_subprocess_main() -> None:
    """`python -m tests.services.smtp_server PORT`: serve until stdin closes, then print the counts
    as JSON. The benchmark runs the server in its own process so that server and client do not
    share one interpreter lock (which would charge the server's work to the client's speed)."""
    import sys

    inbox = Inbox(port=int(sys.argv[1]))
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    print("ready", flush=True)
    sys.stdin.read()
    controller.stop()
    print(json.dumps({"messages": len(inbox.raw), "sessions": inbox.sessions}), flush=True)


@contextmanager
def smtp_server_process() -> Iterator[dict]:
    """A real SMTP server in a child process; yields {"port"}, then fills in "messages", "sessions"."""
    import subprocess
    import sys

    info: dict = {"port": free_port()}
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.services.smtp_server", str(info["port"])],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "ready"
        yield info
    finally:
        out, _ = child.communicate(input="", timeout=60)
        info.update(json.loads(out.strip().splitlines()[-1]))


if __name__ == "__main__":
    serve_in_subprocess_main()
