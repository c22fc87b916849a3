"""A test double of the OpenAI chat-completions API (`POST /v1/chat/completions`): no model can
run on these machines and a test must not spend money or depend on a network. It answers in the
wire format the real `openai` SDK parses, with the `content` and token usage a test chooses, or
slowly (to exercise the client's timeout), and records every request it got.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VALID_COPY = {
    "subject": "Sua próxima leitura chegou 📚",
    "email_copy": "Quem escolhe bem merece continuar bem acompanhado. Este é o favorito de quem ama a "
    "categoria: qualidade que se sente desde a primeira página. ✨ Aproveite enquanto há estoque!",
    "telegram_text": "✨ O favorito da categoria está esperando por você. Aproveite enquanto há estoque!",
}


@dataclass
class OpenAIDouble:
    answer: Callable[[dict], str] = lambda request: json.dumps(VALID_COPY, ensure_ascii=False)
    delay_seconds: float = 0.0
    prompt_tokens: int = 300
    completion_tokens: int = 120
    requests: list[dict] = field(default_factory=list)
    headers: list[dict] = field(default_factory=list)
    base_url: str = ""

    def connection_json(self, **extra) -> str:
        return json.dumps(
            {
                "conn_type": "generic",
                "host": self.base_url,
                "password": "sk-test",
                "extra": {"model": "double-1", "max_retries": 0, **extra},
            }
        )


def _handler(double: OpenAIDouble):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            if not self.path.endswith("/chat/completions"):
                self.send_error(404)
                return
            double.requests.append(body)
            double.headers.append({key.lower(): value for key, value in self.headers.items()})
            if double.delay_seconds:
                time.sleep(double.delay_seconds)
            reply = {
                "id": f"chatcmpl-{len(double.requests)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": double.answer(body)},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": double.prompt_tokens,
                    "completion_tokens": double.completion_tokens,
                    "total_tokens": double.prompt_tokens + double.completion_tokens,
                },
            }
            data = json.dumps(reply).encode()
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
                pass

    return Handler


@contextmanager
def openai_api() -> Iterator[OpenAIDouble]:
    double = OpenAIDouble()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(double))
    server.daemon_threads = True
    double.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield double
    finally:
        server.shutdown()
        server.server_close()
