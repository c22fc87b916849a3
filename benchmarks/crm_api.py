"""The CRM API under load, against a minimal reference measured in the same run.

    python -m benchmarks.crm_api --seconds 8 --clients 4     (`make bench`; alone: `make bench-crm-api`)

Serves, on one fresh CRM database of the embedded Postgres with its roles applied, the API as
`make up` does (`python -m liftoff.apps.crm_api serve`: one uvicorn worker, the API's role) and
the reference (benchmarks/crm_api_reference.py: the same insert and lookup with no checks, same
role, same uvicorn settings). `--clients` threads then send requests over HTTP for `--seconds`
per phase: POST /sales (the API checks the contract, the three references and what the sale must
agree with, then inserts), then GET /sales/{key}; the API's and the reference's phases alternate
(API, reference, reference, API) so a drift in the machine's load hits both alike.

Figures: requests per second and latency p50/p99 of each; the API's rate as a share of the
reference's (aim ≥ 0.5 for each of write and read, issue 18).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from benchmarks.results import publish
from liftoff.devstack.loopback import free_port

AIM = 0.5


def _hammer(request: Callable, seconds: float, clients: int) -> tuple[float, list[float]]:
    """Requests per second over `clients` threads for `seconds`, and every request's latency (s)."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    stop = time.monotonic() + seconds

    def client(index: int) -> None:
        import httpx

        with httpx.Client(timeout=30) as http:
            while time.monotonic() < stop:
                started = time.perf_counter()
                request(http, index, len(latencies[index]))
                latencies[index].append(time.perf_counter() - started)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = sorted(latency for per_client in latencies for latency in per_client)
    return len(every) / (time.monotonic() - started), every


def _percentile(sorted_values: list[float], share: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(share * len(sorted_values)))]


@contextmanager
def _served(command: list[str], env: dict[str, str], port: int) -> Iterator[str]:
    """A server process started with `command`, once it answers /docs; stopped on exit."""
    import httpx

    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            if server.poll() is not None:
                raise SystemExit(f"benchmark: {' '.join(command)} ended: {server.stderr.read()[-2000:]}")
            try:
                httpx.get(f"{base}/docs", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.25)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


@contextmanager
def _crm_database() -> Iterator[str]:
    """A fresh CRM database on the embedded cluster, with its roles and migrations; its admin URL."""
    import psycopg
    from psycopg import sql

    from liftoff.apps.crm_api.roles import apply_and_migrate
    from liftoff.devstack import stack

    pg = stack.start_postgres()
    name = f"crm_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg.url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    try:
        apply_and_migrate(pg.url(name))
        yield pg.url(name)
    finally:
        with psycopg.connect(pg.url("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def measure(admin_url: str, seconds: float, clients: int) -> dict:
    import httpx

    from benchmarks.crm_api_reference import KEY_ENV
    from liftoff.apps.crm_api.auth import mint_key
    from liftoff.apps.crm_api.database import CRM_OWNER_URL_ENV, CRM_URL_ENV, make_engine
    from liftoff.apps.crm_api.roles import API, OWNER
    from tests import crm_samples as sample

    key = mint_key(make_engine(API.url(admin_url)), "benchmark").key
    env = {
        **os.environ,
        CRM_URL_ENV: API.url(admin_url),
        CRM_OWNER_URL_ENV: OWNER.url(admin_url),
        KEY_ENV: key,
    }
    headers = {"X-API-Key": key}
    api_port, reference_port = free_port(), free_port()
    api_command = [sys.executable, "-m", "liftoff.apps.crm_api", "serve", "--port", str(api_port)]
    reference_command = [sys.executable, "-m", "benchmarks.crm_api_reference", "--port", str(reference_port)]
    with (
        _served(api_command, env, api_port) as api,
        _served(reference_command, env, reference_port) as reference,
    ):
        post = lambda path, body: httpx.post(f"{api}{path}", json=body, headers=headers).json()  # noqa: E731
        supplier = post("/suppliers", sample.supplier())
        product = post("/products", sample.product(supplier["supplier_id"]))
        seller = post("/employees", sample.employee())
        customer = post("/customers", sample.customer())
        body = sample.sale(customer, product, seller)
        created: dict[str, list[int]] = {api: [], reference: []}

        def writer(base: str) -> Callable:
            def write(http, _index, _n):
                response = http.post(f"{base}/sales", json=body, headers=headers)
                assert response.status_code == 201, response.text
                created[base].append(response.json()["sale_id"])

            return write

        def reader(base: str) -> Callable:
            def read(http, index, n):
                keys = created[base]
                response = http.get(f"{base}/sales/{keys[(index * 7919 + n) % len(keys)]}", headers=headers)
                assert response.status_code == 200, response.text

            return read

        figures: dict = {"clients": clients, "seconds_per_phase": seconds, "aim": AIM}
        for operation, make in (("write", writer), ("read", reader)):
            runs: dict[str, list] = {"api": [], "reference": []}
            for who in ("api", "reference", "reference", "api"):
                base = api if who == "api" else reference
                runs[who].append(_hammer(make(base), seconds / 2, clients))
            for who, halves in runs.items():
                latencies = sorted(latency for _, every in halves for latency in every)
                figures[f"{who}_{operation}"] = {
                    "per_s": sum(rate for rate, _ in halves) / len(halves),
                    "p50_ms": _percentile(latencies, 0.5) * 1000,
                    "p99_ms": _percentile(latencies, 0.99) * 1000,
                }
            figures[f"{operation}_ratio"] = (
                figures[f"api_{operation}"]["per_s"] / figures[f"reference_{operation}"]["per_s"]
            )
    return figures


def report(figures: dict) -> None:
    lines = [
        f"CRM API against the reference, 1 uvicorn worker each, {figures['clients']} client threads, "
        f"{figures['seconds_per_phase']:.0f} s per phase",
        "",
        "| request | API /s | API p50 / p99 ms | reference /s | reference p50 / p99 ms | ratio | aim |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for operation, label in (("write", "POST /sales"), ("read", "GET /sales/{key}")):
        api, reference = figures[f"api_{operation}"], figures[f"reference_{operation}"]
        lines.append(
            f"| {label} | {api['per_s']:,.0f} | {api['p50_ms']:.1f} / {api['p99_ms']:.1f} | "
            f"{reference['per_s']:,.0f} | {reference['p50_ms']:.1f} / {reference['p99_ms']:.1f} | "
            f"{figures[f'{operation}_ratio']:.2f} | ≥ {AIM} |"
        )
    publish("crm_api", figures, lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args(argv)
    with _crm_database() as admin_url:
        report(measure(admin_url, args.seconds, args.clients))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
