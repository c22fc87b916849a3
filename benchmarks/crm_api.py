"""The CRM API under load: writes (contract check, reference lookups, insert) and reads per second.

    python -m benchmarks.crm_api --seconds 10 --clients 4      (inside the stack: `make shell`)

Serves the API with uvicorn (one worker, as `make up` does) on a fresh CRM database of the embedded
Postgres, mints a key, then `--clients` threads send requests over HTTP for `--seconds` each phase:
POST /sales (a full contract check with three reference lookups), then GET /sales/{key}. Figures
are from this machine in this run; compare runs on one machine, not across machines.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
import uuid


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _hammer(request, seconds: float, clients: int) -> tuple[int, float]:
    done = [0] * clients
    stop = time.monotonic() + seconds

    def client(index: int) -> None:
        import httpx

        with httpx.Client(timeout=30) as http:
            while time.monotonic() < stop:
                request(http, index, done[index])
                done[index] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done), time.monotonic() - started


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args(argv)

    import httpx
    import psycopg

    from liftoff.apps.crm_api.auth import mint_key
    from liftoff.apps.crm_api.database import make_engine
    from liftoff.apps.crm_api.migrate import upgrade
    from liftoff.devstack import stack
    from tests import crm_samples as sample

    pg = stack.start_postgres()
    name = f"crm_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg.url("postgres"), autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("create database {}").format(psycopg.sql.Identifier(name)))
    port = _free_port()
    server = None
    try:
        upgrade(pg.url(name))
        key = mint_key(make_engine(pg.url(name)), "benchmark").key
        server = subprocess.Popen(
            [sys.executable, "-m", "liftoff.apps.crm_api", "serve", "--port", str(port)],
            env={**os.environ, "LIFTOFF_CRM_DATABASE_URL": pg.url(name)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        headers = {"X-API-Key": key}
        for _ in range(120):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.25)
        post = lambda path, body: httpx.post(f"{base}{path}", json=body, headers=headers).json()  # noqa: E731
        supplier = post("/suppliers", sample.supplier())
        product = post("/products", sample.product(supplier["supplier_id"]))
        seller = post("/employees", sample.employee())
        customer = post("/customers", sample.customer())
        body = sample.sale(customer, product, seller)
        created: list[int] = []

        def write(http, _index, _n):
            response = http.post(f"{base}/sales", json=body, headers=headers)
            assert response.status_code == 201, response.text
            created.append(response.json()["sale_id"])

        writes, write_s = _hammer(write, args.seconds, args.clients)

        def read(http, index, n):
            response = http.get(f"{base}/sales/{created[(index * 7919 + n) % len(created)]}", headers=headers)
            assert response.status_code == 200, response.text

        reads, read_s = _hammer(read, args.seconds, args.clients)
        print(f"CRM API, 1 uvicorn worker, {args.clients} client threads, {args.seconds:.0f} s per phase")
        print(f"  POST /sales (contract + 3 references + insert): {writes / write_s:8.1f} requests/s")
        print(f"  GET /sales/{{key}}:                              {reads / read_s:8.1f} requests/s")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        with psycopg.connect(pg.url("postgres"), autocommit=True) as conn:
            conn.execute(
                psycopg.sql.SQL("drop database if exists {} with (force)").format(
                    psycopg.sql.Identifier(name)
                )
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
