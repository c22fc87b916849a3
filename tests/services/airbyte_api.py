"""A test double of Airbyte's public API (no Airbyte server can run on these machines: it needs
Docker or Kubernetes). It speaks the part of the API the Airflow provider calls, through the real
provider and the real `airbyte-api` SDK:

- `POST /v1/applications/token`: client-credentials token (when the connection has a login);
- `POST /jobs` `{"connectionId", "jobType": "sync"}`: starts a job and runs the "sync" it stands
  for: `on_sync(connection_id)` writes rows into the warehouse the way Airbyte's Postgres
  destination would;
- `GET /jobs/{jobId}`: `running` for the first `running_polls` polls, then `succeeded`
  (or `failed` when the connection id is in `failing`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class AirbyteDouble:
    on_sync: Callable[[str], None]
    running_polls: int = 1
    failing: set[str] = field(default_factory=set)
    jobs: dict[int, dict] = field(default_factory=dict)
    polls: dict[int, int] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    url: str = ""

    def job_view(self, job_id: int) -> dict:
        job = self.jobs[job_id]
        polls = self.polls.get(job_id, 0)
        if polls < self.running_polls:
            status = "running"
        else:
            status = "failed" if job["connectionId"] in self.failing else "succeeded"
        return {**job, "status": status}


def _handler(double: AirbyteDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep test output quiet
            pass

        def _reply(self, status: int, body: dict) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            double.requests.append(("POST", self.path))
            if self.path.endswith("/applications/token"):
                self._reply(200, {"access_token": "test-token", "token_type": "Bearer", "expires_in": 180})
            elif self.path.endswith("/jobs"):
                job_id = len(double.jobs) + 1
                double.jobs[job_id] = {
                    "jobId": job_id,
                    "connectionId": body["connectionId"],
                    "jobType": body.get("jobType", "sync"),
                    "startTime": datetime.now(UTC).isoformat(),
                }
                double.on_sync(body["connectionId"])
                self._reply(200, {**double.jobs[job_id], "status": "running"})
            else:
                self._reply(404, {"message": f"no route {self.path}"})

        def do_GET(self) -> None:
            double.requests.append(("GET", self.path))
            if "/jobs/" in self.path:
                job_id = int(self.path.rsplit("/", 1)[-1])
                view = double.job_view(job_id)
                double.polls[job_id] = double.polls.get(job_id, 0) + 1
                self._reply(200, view)
            elif self.path.endswith("/health"):
                self._reply(200, {"available": True})
            else:
                self._reply(404, {"message": f"no route {self.path}"})

    return Handler


@contextmanager
def airbyte_api(double: AirbyteDouble) -> Iterator[AirbyteDouble]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(double))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    double.url = f"http://127.0.0.1:{server.server_address[1]}/api/public/v1"
    try:
        yield double
    finally:
        server.shutdown()
        server.server_close()
