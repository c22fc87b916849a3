"""A test double of an OpenAI-compatible chat-completions API. It is a double because no real model
API can run here (OpenAI and Groq are hosted services needing keys and network; no Ollama model is
installed on these machines). It speaks the wire format the real `openai` SDK uses:

- `POST /v1/chat/completions` with `messages` and `tools`: every request body is recorded;
- the reply is scripted by `respond(request_body) -> message dict` (e.g. first a `tool_calls`
  message, then, once a `tool` message is in the conversation, text built from the tool's rows);
- `delay_s` holds every reply that long, to exercise the client's timeout.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class ChatCompletionsDouble:
    respond: Callable[[dict], dict]
    delay_s: float = 0.0
    requests: list[dict] = field(default_factory=list)


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
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            if not self.path.endswith("/chat/completions"):
                self.send_error(404)
                return
            double.requests.append(body)
            time.sleep(double.delay_s)
            message = double.respond(body)
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
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
            data = json.dumps(reply).encode()
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                pass

    return Handler


@contextmanager
def serve(double: ChatCompletionsDouble) -> Iterator[str]:
    """Serve the double on a free local port; yields the base URL (`http://127.0.0.1:PORT/v1`)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(double))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
