"""The reference the CRM API's speed is measured against: the same insert and the same lookup,
and nothing else.

    python -m benchmarks.crm_api_reference --port 8091      (benchmarks/crm_api.py starts it)

A FastAPI app of a few lines on psycopg: `POST /sales` inserts the JSON body's sale columns into
`crm.sales` and answers the stored row; `GET /sales/{key}` reads one live sale. No contract, no
reference checks, no key lookup (the header is compared with one key in memory), one autocommit
connection per worker thread. It runs as the API's own role on the same database, under the API's
uvicorn settings (`limits.server_config`), so the ratio between the two is what the API's own work
costs: what `make bench` reports against the aim of 0.5.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from typing import Annotated, Any

import psycopg
from fastapi import Body, FastAPI, Header, HTTPException
from psycopg import sql
from psycopg.rows import dict_row

from liftoff.contracts import CRM_CONTRACTS

KEY_ENV = "LIFTOFF_BENCH_REFERENCE_KEY"
SALE_COLUMNS = frozenset(CRM_CONTRACTS["sales"].model_fields)


def create_reference_app(dsn: str, key: str) -> FastAPI:
    app = FastAPI()
    local = threading.local()

    def connection() -> psycopg.Connection:
        if getattr(local, "conn", None) is None:
            local.conn = psycopg.connect(dsn, autocommit=True, row_factory=dict_row)
        return local.conn

    def check(api_key: str | None) -> None:
        if api_key != key:
            raise HTTPException(401, "bad key")

    @app.post("/sales", status_code=201)
    def create_sale(
        body: Annotated[dict[str, Any], Body()], x_api_key: Annotated[str | None, Header()] = None
    ) -> dict[str, Any]:
        check(x_api_key)
        columns = [name for name in body if name in SALE_COLUMNS and name != "sale_id"]
        query = sql.SQL(
            "insert into crm.sales ({}, created_at, updated_at) values ({}, now(), now()) returning *"
        )
        row = (
            connection()
            .execute(
                query.format(
                    sql.SQL(", ").join(map(sql.Identifier, columns)),
                    sql.SQL(", ").join(sql.Placeholder() * len(columns)),
                ),
                [body[name] for name in columns],
            )
            .fetchone()
        )
        return row

    @app.get("/sales/{key}")
    def read_sale(key: int, x_api_key: Annotated[str | None, Header()] = None) -> dict[str, Any]:
        check(x_api_key)
        row = (
            connection()
            .execute("select * from crm.sales where sale_id = %s and deleted_at is null", (key,))
            .fetchone()
        )
        if row is None:
            raise HTTPException(404, "no such sale")
        return row

    return app


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    import uvicorn

    from liftoff.apps.crm_api.database import CRM_URL_ENV
    from liftoff.apps.crm_api.limits import server_config

    app = create_reference_app(os.environ[CRM_URL_ENV], os.environ[KEY_ENV])
    uvicorn.Server(server_config(app, "127.0.0.1", args.port, log_level="warning")).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
