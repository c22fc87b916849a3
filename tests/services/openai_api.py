"""A test double of an OpenAI-compatible chat-completions API, for every use of one here (the
campaign's copywriter, the dashboard's assistant). It is a double because no real model API can
run here (OpenAI and Groq are hosted services needing keys and network; no Ollama model is
installed on these machines), and a test must not spend money. It speaks the wire format the real
`openai` SDK uses:

- `POST /v1/chat/completions`: every request body (and its headers) is recorded;
- the reply is scripted: `respond(request_body) -> message dict` for a whole assistant message
  (e.g. first a `tool_calls` message, then, once a `tool` message is in the conversation, text
  built from the tool's rows), else `answer(request_body) -> str` for its text (by default valid
  campaign copy), with the token usage a test chooses;
- `delay_seconds` holds every reply that long, to exercise the client's timeout.
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
    "categoria: qualidade que se sente desde a primeira página. ✨",
    "telegram_text": "✨ O favorito da categoria está esperando por você.",
}


def _valid_copy(request: dict) -> str:
    return json.dumps(VALID_COPY, ensure_ascii=False)


@dataclass
class ChatCompletionsDouble:
    respond: Callable[[dict], dict] | None = None
    answer: Callable[[dict], str] = _valid_copy
    delay_seconds: float = 0.0
    prompt_tokens: int = 300
    completion_tokens: int = 120
    requests: list[dict] = field(default_factory=list)
    headers: list[dict] = field(default_factory=list)
    base_url: str = ""

    def message(self, request: dict) -> dict:
        """The assistant message answering `request`."""
        if self.respond is not None:
            return self.respond(request)
        return {"role": "assistant", "content": self.answer(request)}

    def connection_json(self, **extra) -> str:
        """An Airflow connection (JSON) of the campaign's LLM pointing at this double."""
        return json.dumps(
            {
                "conn_type": "generic",
                "host": self.base_url,
                "password": "sk-test",
                "extra": {"model": "double-1", "max_retries": 0, **extra},
            }
        )


def tool_call_message(name: str, arguments: dict, call_id: str = "call_1") -> dict:
    """An assistant message asking for one tool call, as the API returns it."""
    function = {"name": name, "arguments": json.dumps(arguments)}
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": call_id, "type": "function", "function": function}],
    }


def _handler(double: ChatCompletionsDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep test output quiet
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
            message = double.message(body)
            reply = {
                "id": f"chatcmpl-{len(double.requests)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "double"),
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "finish_reason": "tool_calls" if message.get("tool_calls") else "stop",
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
def serve(double: ChatCompletionsDouble) -> Iterator[str]:
    """Serve the double on a free local port; yields the base URL (`http://127.0.0.1:PORT/v1`)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(double))
    server.daemon_threads = True
    double.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield double.base_url
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def openai_api() -> Iterator[ChatCompletionsDouble]:
    """A double answering valid campaign copy, served; yields it (its `base_url` set)."""
    double = ChatCompletionsDouble()
    with serve(double):
        yield double
