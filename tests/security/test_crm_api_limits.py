"""The CRM API's door under attack (issue 19, findings 2, 3 and the include_deleted part of 8).

The size, header and throttle tests talk to the API as `python -m liftoff.apps.crm_api serve`
runs it (real uvicorn on a free loopback port, over sockets): an in-process TestClient would skip
the server's own limits and send whole bodies at once. Each test speaks from its own loopback
address (127.0.0.0/8 is all loopback on Linux), so one test's failed keys never throttle another.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import psycopg
import pytest

from liftoff.apps.crm_api.limits import MAX_BODY_BYTES, FailedAuthThrottle
from liftoff.apps.crm_api.migrate import downgrade, upgrade
from tests import crm_samples as sample
from tests.crm_api_server import served_crm_api
from tests.crm_samples import created

pytestmark = pytest.mark.services


class Server:
    """The API served by its own command in a child process, and a live key for it."""

    def __init__(self, port: int, key: str) -> None:
        self.port, self.key = port, key

    def connection(self, source: str) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=10, source_address=(source, 0))

    def request(
        self, source: str, method: str, path: str, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        conn = self.connection(source)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.headers, response.read()
        finally:
            conn.close()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    from tests.warehouses import scratch_database

    with scratch_database("crm_sec") as (_, url):
        upgrade(url)
        with served_crm_api(url) as served:
            yield Server(served.port, served.standard_key)


# --- finding 2: limits ------------------------------------------------------------------------


def test_an_anonymous_body_is_refused_before_it_is_read(server):
    """A 50 MB body announced without a key: the 401 comes after the headers and 64 KB, while
    the rest of the body was never sent. A server that read the body first would still be waiting
    for it (and, on main, held the whole body in memory before answering)."""
    conn = server.connection("127.0.0.2")
    conn.putrequest("POST", "/customers")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(50 * 1024 * 1024))
    conn.endheaders()
    conn.send(b'{"first_name": "' + b"x" * 64 * 1024)
    response = conn.getresponse()  # times out (10 s) if the server waits for the body
    assert response.status == 401, response.read()
    assert "X-API-Key" in json.loads(response.read())["detail"]
    conn.close()


def test_a_body_over_the_limit_gets_413_even_with_a_key(server):
    # Announced: refused from Content-Length alone, nothing of the body sent.
    conn = server.connection("127.0.0.3")
    conn.putrequest("POST", "/customers")
    for name, value in {"X-API-Key": server.key, "Content-Type": "application/json",
                        "Content-Length": str(50 * 1024 * 1024)}.items():  # fmt: skip
        conn.putheader(name, value)
    conn.endheaders()
    response = conn.getresponse()
    assert response.status == 413, response.read()
    conn.close()
    # Not announced (chunked): refused once the body read so far passes the limit.
    oversized = json.dumps(sample.customer(city="x" * (MAX_BODY_BYTES + 1))).encode()
    conn = server.connection("127.0.0.3")
    conn.request(
        "POST",
        "/customers",
        body=iter([oversized[i : i + 65536] for i in range(0, len(oversized), 65536)]),
        headers={"X-API-Key": server.key, "Content-Type": "application/json"},
        encode_chunked=True,
    )
    response = conn.getresponse()
    assert response.status == 413, response.read()[:300]
    conn.close()
    # Under the limit, the same API answers as usual.
    status, _, body = server.request(
        "127.0.0.3", "POST", "/customers", json.dumps(sample.customer()).encode(),
        {"X-API-Key": server.key, "Content-Type": "application/json"},
    )  # fmt: skip
    assert status == 201, body


def test_oversized_headers_are_refused(server):
    status, _, body = server.request("127.0.0.4", "GET", "/customers", headers={"X-API-Key": "k" * 20_000})
    assert status == 431, body
    # 5 MB: the server itself stops reading at its limit, answers 400 and closes; never a 401
    # (a 401 means the whole header was read and the key looked up).
    with socket.create_connection(
        ("127.0.0.1", server.port), timeout=10, source_address=("127.0.0.4", 0)
    ) as s:
        # The server may close while the header is still coming: refused before reading it all.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            s.sendall(
                b"GET /customers HTTP/1.1\r\nHost: x\r\nX-API-Key: " + b"k" * 5 * 1024 * 1024 + b"\r\n\r\n"
            )
        try:
            answer = s.recv(4096)
        except ConnectionResetError:
            answer = b""
    assert answer == b"" or answer.startswith(b"HTTP/1.1 400"), answer[:200]


def test_failed_keys_are_throttled_per_address(server):
    statuses, retry_after = [], None
    for attempt in range(30):
        status, headers, _ = server.request(
            "127.0.0.5", "GET", "/customers", headers={"X-API-Key": f"lok_guess{attempt}"}
        )
        statuses.append(status)
        if status == 429:
            retry_after = headers.get("Retry-After")
    assert statuses[0] == 401
    assert statuses[-1] == 429, statuses
    assert statuses.count(401) <= 10, statuses
    assert retry_after is not None
    assert int(retry_after) >= 1
    # The right key from the guessing address waits too (else the guesser learns it was right)...
    status, _, _ = server.request("127.0.0.5", "GET", "/customers", headers={"X-API-Key": server.key})
    assert status == 429
    # ...while another address is not held back.
    status, _, body = server.request("127.0.0.6", "GET", "/customers", headers={"X-API-Key": server.key})
    assert status == 200, body


def test_the_throttle_forgets_and_remembers_a_bounded_number_of_addresses():
    now = [0.0]
    throttle = FailedAuthThrottle(burst=3, refill_per_second=0.5, max_clients=100, clock=lambda: now[0])
    for _ in range(3):
        assert throttle.retry_after("10.0.0.1") is None
        throttle.record_failure("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") == 2  # one failure back every 2 s
    now[0] += 2
    assert throttle.retry_after("10.0.0.1") is None
    for n in range(10_000):
        throttle.record_failure(f"10.1.{n // 256}.{n % 256}")
    assert len(throttle) == 100


def test_a_422_echoes_the_offending_input_cut_short(server):
    huge = "y" * 900_000
    status, _, body = server.request(
        "127.0.0.7", "POST", "/customers", json.dumps(sample.customer(state=huge)).encode(),
        {"X-API-Key": server.key, "Content-Type": "application/json"},
    )  # fmt: skip
    assert status == 422
    assert len(body) < 2000, len(body)
    (error,) = [e for e in json.loads(body)["detail"] if e["loc"] == ["body", "state"]]
    assert error["msg"]
    assert error["input"].startswith("yyyy")
    assert "900000 characters" in error["input"]
    # FastAPI's own 422s (query parameters) are cut short too.
    status, _, body = server.request(
        "127.0.0.7", "GET", "/customers?state=" + "z" * 5000, headers={"X-API-Key": server.key}
    )
    assert status == 422, body[:300]
    assert len(body) < 2000, body[:300]


# --- finding 3: bad Unicode and numbers are 422s naming the field ----------------------------


def _post_raw(api, path: str, text: str):
    return api.post(path, content=text.encode(), headers={"Content-Type": "application/json"})


def test_a_lone_surrogate_in_any_text_field_is_a_422_naming_it(api):
    supplier = created(api, "/suppliers", sample.supplier())
    bodies = {
        "/customers": sample.customer(),
        "/suppliers": sample.supplier(email="b@alfa.com.br"),
        "/employees": sample.employee(),
        "/products": sample.product(supplier["supplier_id"]),
    }
    for path, body in bodies.items():
        for field, value in body.items():
            if not isinstance(value, str):
                continue
            # json.dumps writes the surrogate as the escape \ud800, valid JSON syntax.
            response = _post_raw(api, path, json.dumps(body | {field: value + "\ud800"}))
            assert response.status_code == 422, (path, field, response.status_code, response.text)
            locs = [e["loc"] for e in response.json()["detail"]]
            assert ["body", field] in locs, (path, field, locs)
    # An unknown field whose name holds one: still a 422, the name escaped.
    response = _post_raw(api, "/customers", json.dumps(sample.customer() | {"\ud800": 1}))
    assert response.status_code == 422
    assert ["body", "\\ud800"] in [e["loc"] for e in response.json()["detail"]]


def test_a_non_finite_number_is_a_422_naming_the_field(api):
    supplier = created(api, "/suppliers", sample.supplier())
    product = created(api, "/products", sample.product(supplier["supplier_id"]))
    for number in ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"]:
        text = json.dumps(sample.product(supplier["supplier_id"], price=0.5)).replace("0.5", number)
        response = _post_raw(api, "/products", text)
        assert response.status_code == 422, (number, response.text)
        assert [e["loc"] for e in response.json()["detail"]] == [["body", "price"]]
        response = api.patch(
            f"/products/{product['product_id']}",
            content=f'{{"price": {number}}}'.encode(),
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 422, (number, response.text)
        # A whole-number field too (JSON reads 1e999 as a float).
        text = json.dumps(sample.employee(department_id=7)).replace(": 7", f": {number}")
        response = _post_raw(api, "/employees", text)
        assert response.status_code == 422, (number, response.text)
        assert ["body", "department_id"] in [e["loc"] for e in response.json()["detail"]]


# --- finding 8 (part): soft-deleted records need an admin key ---------------------------------


def test_include_deleted_needs_an_admin_key(api, crm_database):
    customer = created(api, "/customers", sample.customer())
    assert api.delete(f"/customers/{customer['customer_id']}").status_code == 200
    refused = api.get("/customers", params={"include_deleted": "true"})
    assert refused.status_code == 403, refused.text
    assert "admin" in refused.json()["detail"]
    assert "carla" not in refused.text.lower()
    assert api.get("/customers").json()["total"] == 0  # live records: any key

    # An admin key minted by the command the Makefile runs (`make crm-api-key NAME=… SCOPE=admin`).
    minted = subprocess.run(
        [sys.executable, "-m", "liftoff.apps.crm_api", "key", "create", "auditor", "--scope", "admin"],
        env=dict(os.environ, LIFTOFF_CRM_DATABASE_URL=crm_database),
        capture_output=True,
        text=True,
        check=True,
    )
    admin_key = minted.stdout.split()[-1]
    assert "scope admin" in minted.stdout
    listed = api.get("/customers", params={"include_deleted": "true"}, headers={"X-API-Key": admin_key})
    assert listed.status_code == 200, listed.text
    assert [c["email"] for c in listed.json()["items"]] == ["carla.dias@example.com"]
    assert listed.json()["items"][0]["deleted_at"] is not None


def test_keys_minted_before_scopes_keep_the_ordinary_scope(crm_database):
    downgrade(crm_database, "0001")
    with psycopg.connect(crm_database) as conn:
        conn.execute(
            "insert into crm.api_keys (name, key_prefix, key_sha256) values ('old', 'lok_old', 'digest')"
        )
    upgrade(crm_database)
    with psycopg.connect(crm_database) as conn:
        assert conn.execute("select scope from crm.api_keys where name = 'old'").fetchone() == ("standard",)
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("update crm.api_keys set scope = 'root'")
