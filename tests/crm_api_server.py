"""The CRM API as `python -m liftoff.apps.crm_api serve` runs it, on a free loopback port: for tests
and benchmarks whose client is another process (the Airbyte connector), which an in-process
TestClient cannot serve."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from liftoff.apps.crm_api.auth import ADMIN, mint_key
from liftoff.apps.crm_api.database import make_engine
from liftoff.devstack.loopback import free_port


@dataclass(frozen=True)
class ServedApi:
    url: str
    admin_key: str  # lists deleted records too: what the extraction needs
    standard_key: str
    process: subprocess.Popen

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def client(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-API-Key": key or self.admin_key}, timeout=30)


@contextmanager
def served_crm_api(database_url: str) -> Iterator[ServedApi]:
    """The API serving `database_url` (migrated, or migrated by `serve` itself) until the block ends."""
    engine = make_engine(database_url)
    admin, standard = mint_key(engine, "airbyte", scope=ADMIN).key, mint_key(engine, "form").key
    engine.dispose()
    port = free_port()
    env = dict(os.environ, LIFTOFF_CRM_DATABASE_URL=database_url)
    process = subprocess.Popen(
        [sys.executable, "-m", "liftoff.apps.crm_api", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError as error:
                if process.poll() is not None or time.monotonic() > deadline:
                    problem = process.stderr.read().decode() if process.poll() is not None else ""
                    raise RuntimeError(f"the CRM API did not start: {problem}") from error
                time.sleep(0.2)
        yield ServedApi(f"http://127.0.0.1:{port}", admin, standard, process)
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=20)
