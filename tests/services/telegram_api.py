"""A test double of the Telegram Bot API's `sendMessage` (the real API cannot be reached from
these machines, and a test must never message real chats). It speaks the wire format
python-telegram-bot uses: `POST {base_url}{token}/sendMessage` with form or JSON fields, answering
`{"ok": true, "result": Message}`; or, as configured, HTTP 429 with
`parameters.retry_after` (flood control) and 403 (the user blocked the bot).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

TOKEN = "123456:TEST-token"


@dataclass
class TelegramDouble:
    messages: list[dict] = field(default_factory=list)
    requests: int = 0
    rate_limit_first: int = 0  # answer 429 to the first N sendMessage calls
    retry_after: int = 1
    blocked_chats: set[int] = field(default_factory=set)
    base_url: str = ""
    limited_at: list[float] = field(default_factory=list)

    def connection_json(self, sales_chat: int | None = None) -> str:
        """An Airflow telegram connection for the double (host: the sales team's chat)."""
        conn = {"conn_type": "telegram", "password": TOKEN, "extra": {"base_url": self.base_url}}
        if sales_chat is not None:
            conn["host"] = str(sales_chat)
        return json.dumps(conn)


def _handler(double: TelegramDouble):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _reply(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if not self.path.startswith(f"/bot{TOKEN}/"):
                return self._reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
            method = self.path.rsplit("/", 1)[-1]
            if method != "sendMessage":
                return self._reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
            if "json" in (self.headers.get("Content-Type") or ""):
                fields = json.loads(raw or b"{}")
            else:
                fields = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            double.requests += 1
            if double.rate_limit_first > 0:
                double.rate_limit_first -= 1
                double.limited_at.append(time.monotonic())
                return self._reply(
                    429,
                    {
                        "ok": False,
                        "error_code": 429,
                        "description": f"Too Many Requests: retry after {double.retry_after}",
                        "parameters": {"retry_after": double.retry_after},
                    },
                )
            chat_id = int(fields["chat_id"])
            if chat_id in double.blocked_chats:
                return self._reply(
                    403,
                    {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"},
                )
            double.messages.append({"chat_id": chat_id, "text": fields["text"], "at": time.monotonic()})
            return self._reply(
                200,
                {
                    "ok": True,
                    "result": {
                        "message_id": len(double.messages),
                        "date": int(time.time()),
                        "chat": {"id": chat_id, "type": "private"},
                        "text": fields["text"],
                    },
                },
            )

    return Handler


@contextmanager
def telegram_api() -> Iterator[TelegramDouble]:
    double = TelegramDouble()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(double))
    double.base_url = f"http://127.0.0.1:{server.server_address[1]}/bot"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield double
    finally:
        server.shutdown()
        server.server_close()
