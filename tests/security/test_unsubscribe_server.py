"""The unsubscribe endpoint holds up against a hostile client (issue 19, finding 7).

Each request is written by hand on a raw socket to the real server (`make_server`, uvicorn) on a
free loopback port, backed by a real warehouse database: what a browser would never send
(a non-ASCII signature, a broken or absurd Content-Length, half a request, a 100 MB body) gets a
clear 4xx and, where the body was not read, a closed connection; and an opt-out sent while the
warehouse refuses connections gets a 503 with Retry-After, then is recorded when the client retries.
"""

from __future__ import annotations

import contextlib
import http.client
import select
import socket
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from liftoff.campaign import unsubscribe as endpoint
from liftoff.campaign.audience import ensure_campaign_tables
from liftoff.campaign.consent import InvalidToken, unsubscribe_token, verify_token
from liftoff.devstack import stack

SECRET = b"security-test-unsubscribe-secret-0123456789"  # >= 32 bytes
CAMPAIGN = "cross-sell-2026-06-09"
HEAD_TIMEOUT = 2.0  # the server's deadline for a request head, shortened for the test


@pytest.fixture
def server(warehouse, monkeypatch) -> Iterator[int]:
    """The endpoint on a free loopback port, serving from a thread; its port."""
    ensure_campaign_tables(warehouse)
    monkeypatch.setattr(endpoint, "HEAD_TIMEOUT", HEAD_TIMEOUT, raising=False)
    monkeypatch.setattr(endpoint, "BODY_TIMEOUT", HEAD_TIMEOUT, raising=False)
    running = endpoint.make_server(warehouse, SECRET, port=0)
    threading.Thread(target=running.serve_forever, daemon=True).start()
    port = running.server_address[1]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # uvicorn listens once its loop has started
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    try:
        yield port
    finally:
        running.shutdown()
        running.server_close()


def token(customer: int = 7) -> str:
    return unsubscribe_token(customer, "email", CAMPAIGN, SECRET)


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def read_until_closed(sock: socket.socket, timeout: float = 5) -> tuple[bytes, bool]:
    """What the server sends, and whether it closed the connection within `timeout` seconds."""
    data = b""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


def status(response: bytes) -> int:
    assert response.startswith(b"HTTP/1.1 "), f"no HTTP answer: {response[:200]!r}"
    return int(response.split()[1])


def exchange(port: int, request: bytes) -> tuple[int, bool]:
    """Send `request` on a new connection; (status, whether the server then closed it)."""
    with connect(port) as sock:
        sock.sendall(request)
        response, closed = read_until_closed(sock)
    return status(response), closed


def opt_outs(dsn: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute("select customer_id, channel, source from campaign.opt_outs").fetchall()


def test_a_non_ascii_signature_is_a_malformed_token(server, warehouse):
    payload = token().partition(".")[0]
    for method in (b"GET", b"POST"):
        request = method + b" /unsubscribe?token=" + payload.encode() + b".%C3%A9%C3%A9 HTTP/1.1\r\n"
        code, _ = exchange(server, request + b"Host: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        assert code == 400
    assert opt_outs(warehouse) == []
    with pytest.raises(InvalidToken, match="malformed"):  # the command line's path too
        verify_token(payload + ".éé", SECRET)


@pytest.mark.parametrize(
    ("length", "expected"),
    [
        (b"abc", 400),
        (b"-1", 400),
        (b"1" * 40, 400),  # more digits than the parser takes
        (b"9" * 19, 413),
        (str(100 * 1024 * 1024).encode(), 413),
    ],
)
def test_a_broken_or_absurd_content_length_is_refused_and_the_connection_closed(
    server, warehouse, length, expected
):
    request = f"POST /unsubscribe?token={token()} HTTP/1.1\r\nHost: x\r\n".encode()
    code, closed = exchange(server, request + b"Content-Length: " + length + b"\r\n\r\n")
    assert (code, closed) == (expected, True)
    assert opt_outs(warehouse) == []


def test_idle_half_sent_requests_neither_block_others_nor_stay_open(server, warehouse):
    idle = [connect(server) for _ in range(40)]
    try:
        half_sent = (
            b"GET /unsubscribe?token=",  # half a request line
            b"POST /unsubscribe HTTP/1.1\r\nHost: x\r\n",  # half a head
            # a whole head, then half its body
            f"POST /unsubscribe?token={token()} HTTP/1.1\r\nContent-Length: 26\r\n\r\nList-".encode(),
        )
        for number, sock in enumerate(idle):
            sock.sendall(half_sent[number % len(half_sent)])
        started = time.monotonic()
        client = http.client.HTTPConnection("127.0.0.1", server, timeout=5)
        client.request("GET", f"/unsubscribe?token={token()}")
        answer = client.getresponse()
        assert answer.status == 200
        assert b"Confirmar descadastro" in answer.read()
        client.close()
        # The server hangs up on each once its deadline for a request head or body has passed.
        for sock in idle:
            _, closed = read_until_closed(
                sock, timeout=max(0.1, started + HEAD_TIMEOUT + 5 - time.monotonic())
            )
            assert closed, "a half-sent request still holds its connection"
    finally:
        for sock in idle:
            sock.close()


def send_body(sock: socket.socket, head: bytes, chunk: bytes, total: int) -> tuple[bytes, int]:
    """Send `head`, then `chunk` repeatedly up to `total` bytes, reading as it goes; (what the
    server answered, how many body bytes went out before it did or hung up)."""
    sock.sendall(head)
    sent = 0
    response = b""
    while sent < total:
        if select.select([sock], [], [], 0.01)[0]:
            with contextlib.suppress(ConnectionResetError):
                response = sock.recv(65536)
            break
        try:
            sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += len(chunk)
    if not response:
        response, _ = read_until_closed(sock, timeout=5)
    return response, sent


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_100_mb_body_is_refused_without_being_read(server, warehouse, framing):
    size = 100 * 1024 * 1024
    block = 64 * 1024
    head = f"POST /unsubscribe?token={token()} HTTP/1.1\r\nHost: x\r\n".encode()
    if framing == "chunked":
        head += b"Transfer-Encoding: chunked\r\n\r\n"
        chunk = f"{block:x}\r\n".encode() + b"x" * block + b"\r\n"
    else:
        head += f"Content-Length: {size}\r\n\r\n".encode()
        chunk = b"x" * block
    with connect(server) as sock:
        response, sent = send_body(sock, head, chunk, size)
    assert status(response) == 413
    assert sent < 4 * 1024 * 1024, f"{sent} bytes of the body went in before the refusal"
    assert opt_outs(warehouse) == []


def test_an_opt_out_while_the_warehouse_is_down_gets_503_and_is_recorded_on_retry(server, warehouse):
    database = conninfo_to_dict(warehouse)["dbname"]
    admin = stack.embedded_postgres().url("postgres")

    def allow_connections(allowed: bool) -> None:
        statement = sql.SQL("alter database {} with allow_connections {}").format(
            sql.Identifier(database), sql.Literal(allowed)
        )
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(statement)

    url = f"/unsubscribe?token={token(9)}"
    body = b"List-Unsubscribe=One-Click"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    allow_connections(False)
    try:
        client = http.client.HTTPConnection("127.0.0.1", server, timeout=20)
        client.request("POST", url, body, headers)
        answer = client.getresponse()
        assert answer.status == 503
        assert int(answer.getheader("Retry-After")) > 0
        assert b"Tentar novamente" in answer.read()
    finally:
        allow_connections(True)
    assert opt_outs(warehouse) == []  # not recorded yet, and the client was told to retry
    client.request("POST", url, body, headers)  # the retry, on the same keep-alive connection
    assert client.getresponse().status == 200
    client.close()
    assert opt_outs(warehouse) == [(9, "email", "unsubscribe endpoint")]
