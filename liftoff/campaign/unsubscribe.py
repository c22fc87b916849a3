"""Record an unsubscribe: from a token on the command line, or through a small HTTP endpoint.

    python -m liftoff.campaign.unsubscribe TOKEN              # record the opt-out a link carries
    python -m liftoff.campaign.unsubscribe --serve [--port N]  # serve /unsubscribe (GET page, POST)

Run inside the stack's environment (`make shell`) so the warehouse connection and the
unsubscribe secret are the DAG's. The endpoint follows RFC 8058: a GET (which mail scanners
prefetch) only shows a confirmation button; a POST (the button, or a mail client's one-click
List-Unsubscribe-Post) records the opt-out. Only tokens this platform signed are honoured; the
next campaign's audience (and any batch not yet sent) leaves the customer out.

The endpoint faces anyone who can reach it (every recipient's browser and mail client), so it is a
small Starlette app under uvicorn's asyncio server rather than the standard library's thread per
connection: malformed requests get a 400 from the HTTP parser, a request head must arrive within
HEAD_TIMEOUT seconds and a body within BODY_TIMEOUT, bodies over MAX_BODY bytes get a 413 without
being read, and an opt-out the database cannot take now gets a 503 with Retry-After (mail clients
retry one-click unsubscribes; the page offers the button again) instead of being lost.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import logging
import socket
import sys
import threading

import anyio
import h11
import psycopg
import uvicorn
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from uvicorn.protocols.http.h11_impl import H11Protocol

from liftoff.campaign.consent import (
    InvalidToken,
    Unsubscribe,
    UnsubscribeSecretMissing,
    record_opt_out,
    unsubscribe_secret,
    verify_token,
)

log = logging.getLogger(__name__)

PAGE = """<!doctype html><html lang="pt-BR"><body style="font-family:Arial,sans-serif;padding:32px">
<h2>{title}</h2><p>{body}</p>{form}</body></html>"""

# The one form field a POST carries is `List-Unsubscribe=One-Click` (RFC 8058) or nothing (the
# button): anything larger is not ours.
MAX_BODY = 1024
# A token is ~100 ASCII characters; anything far longer is refused before it is verified.
MAX_TOKEN = 512
# Seconds a client has to send a whole request head, then its body; an idle keep-alive connection
# is closed after KEEP_ALIVE. A half-sent request costs a socket, not a thread, and not for long.
HEAD_TIMEOUT = 10.0
BODY_TIMEOUT = 10.0
KEEP_ALIVE = 5
# The largest request head (request line and headers) the parser buffers.
MAX_HEAD = 8 * 1024
# Seconds to wait for the warehouse before answering 503, and the Retry-After a 503 suggests.
CONNECT_TIMEOUT = 5
RETRY_AFTER = 30


def unsubscribe(dsn: str, token: str, secret: bytes, source: str) -> tuple[Unsubscribe, bool]:
    """Verify the token and record its opt-out; (what, whether it is new). InvalidToken if forged."""
    request = verify_token(token, secret)
    new = record_opt_out(
        dsn, request.customer_id, request.channel, f"unsubscribe link of {request.campaign_id}", source
    )
    return request, new


def _page(status: int, title: str, body: str, form: str = "", headers: dict[str, str] | None = None):
    content = PAGE.format(title=html.escape(title), body=html.escape(body), form=form)
    return HTMLResponse(content, status_code=status, headers=headers)


def _invalid() -> HTMLResponse:
    return _page(400, "Link inválido", "Este link de descadastro não é válido.")


def _confirm_form(token: str, label: str) -> str:
    return (
        f'<form method="post" action="/unsubscribe?token={html.escape(token, quote=True)}">'
        f'<button type="submit">{html.escape(label)}</button></form>'
    )


def _closing(status: int, title: str) -> HTMLResponse:
    """An answer after which the connection is closed: the request's body was not (all) read."""
    return _page(status, title, "", headers={"Connection": "close"})


def _token(request: Request) -> str | None:
    """The query's token when it can be one (printable ASCII, not absurdly long); else None."""
    token = request.query_params.get("token", "")
    if len(token) > MAX_TOKEN or not token.isascii() or not token.isprintable():
        return None
    return token


async def _body_fits(request: Request) -> HTMLResponse | None:
    """Read (and drop) the body within the limits; the refusal to send when it does not fit."""
    declared = request.headers.get("content-length")
    if declared is not None and int(declared) > MAX_BODY:  # h11 has checked it is digits
        return _closing(413, "Pedido grande demais")
    size = 0
    try:
        with anyio.fail_after(BODY_TIMEOUT):
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_BODY:
                    return _closing(413, "Pedido grande demais")
    except TimeoutError:
        return _closing(408, "Tempo esgotado")
    return None


def make_app(dsn: str, secret: bytes) -> Starlette:
    """The endpoint as an ASGI app: GET /unsubscribe shows the confirmation, POST records."""
    dsn = _with_connect_timeout(dsn)

    async def page(request: Request) -> HTMLResponse:
        token = _token(request)
        if token is None:
            return _invalid()
        try:
            verify_token(token, secret)
        except InvalidToken:
            return _invalid()
        form = _confirm_form(token, "Confirmar descadastro")
        return _page(200, "Descadastrar-se", "Confirme para não receber mais recomendações.", form)

    async def record(request: Request) -> HTMLResponse:
        token = _token(request)
        if token is None:
            return _invalid()
        try:
            done, new = await run_in_threadpool(unsubscribe, dsn, token, secret, "unsubscribe endpoint")
        except InvalidToken:
            return _invalid()
        except psycopg.OperationalError as error:
            log.warning("unsubscribe endpoint: warehouse unavailable, asked the client to retry: %s", error)
            return _page(
                503,
                "Tente novamente",
                "Não foi possível registrar agora; tente de novo em instantes.",
                _confirm_form(token, "Tentar novamente"),
                headers={"Retry-After": str(RETRY_AFTER)},
            )
        log.info(
            "unsubscribe endpoint: opt-out %s: customer %s, channel %s",
            "recorded" if new else "already recorded", done.customer_id, done.channel,
        )  # fmt: skip
        return _page(200, "Pronto", "Você não receberá mais nossas recomendações por este canal.")

    async def not_found(request: Request, exc: Exception) -> HTMLResponse:
        return _page(404, "Página não encontrada", "")

    async def endpoint(request: Request) -> HTMLResponse:
        # Any body (a GET's too) is read within the limits first: one left unread would keep
        # streaming into a connection the server keeps open.
        refused = await _body_fits(request)
        if refused is not None:
            return refused
        return await (record(request) if request.method == "POST" else page(request))

    routes = [Route(path, endpoint, methods=["GET", "POST"]) for path in ("/unsubscribe", "/unsubscribe/")]
    return Starlette(routes=routes, exception_handlers={404: not_found})


def _with_connect_timeout(dsn: str) -> str:
    """The DSN with a connect timeout (unless it names one): an unreachable warehouse becomes a 503
    in seconds, not a request hanging on a TCP connect."""
    if "connect_timeout" in conninfo_to_dict(dsn):
        return dsn
    return make_conninfo(dsn, connect_timeout=CONNECT_TIMEOUT)


class _H11WithHeadTimeout(H11Protocol):
    """uvicorn's h11 protocol, plus a deadline for the request head: uvicorn bounds only the idle
    time between requests, so a client dripping a head byte by byte would hold its socket forever."""

    _head_timer: asyncio.TimerHandle | None = None

    def _arm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._head_timer = self.loop.call_later(HEAD_TIMEOUT, self._head_timeout)

    def _head_timeout(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()  # no complete request head in time: nothing to answer

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def on_response_complete(self) -> None:
        self._arm_head_timer()
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        super().connection_lost(exc)


class UnsubscribeServer:
    """The endpoint on a bound socket, run by uvicorn: `serve_forever()` blocks (in the main thread,
    with uvicorn's signal handling; or in a thread), `shutdown()` stops it, `server_close()` frees
    the port. `server_address` is known once constructed (port 0 picks a free one)."""

    def __init__(self, dsn: str, secret: bytes, host: str, port: int) -> None:
        self.socket = socket.create_server((host, port))
        self.server_address = self.socket.getsockname()[:2]
        config = uvicorn.Config(
            make_app(dsn, secret),
            http=_H11WithHeadTimeout,
            h11_max_incomplete_event_size=MAX_HEAD,
            timeout_keep_alive=KEEP_ALIVE,
            lifespan="off",
            access_log=False,  # the URLs carry tokens; recorded opt-outs are logged by the app
            server_header=False,
            log_config=None,
        )
        self._server = uvicorn.Server(config)
        self._stopped = threading.Event()

    def serve_forever(self) -> None:
        try:
            self._server.run(sockets=[self.socket])
        finally:
            self._stopped.set()

    def shutdown(self) -> None:
        self._server.should_exit = True
        self._stopped.wait(30)

    def server_close(self) -> None:
        self.socket.close()


def make_server(dsn: str, secret: bytes, host: str = "127.0.0.1", port: int = 8765) -> UnsubscribeServer:
    return UnsubscribeServer(dsn, secret, host, port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m liftoff.campaign.unsubscribe", description=__doc__.split("\n")[0]
    )
    parser.add_argument("token", nargs="?", help="the token of an unsubscribe link (after token=)")
    parser.add_argument("--serve", action="store_true", help="serve the HTTP endpoint instead")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--dsn", help="warehouse libpq URL (default: the Airflow connection `warehouse`)")
    args = parser.parse_args(argv)
    if not args.serve and not args.token:
        parser.error("give a TOKEN, or --serve")
    if args.dsn:
        dsn = args.dsn
    else:
        from liftoff.connections import warehouse_dsn

        dsn = warehouse_dsn()
    try:
        secret = unsubscribe_secret()
    except UnsubscribeSecretMissing as error:
        print(f"liftoff: {error}", file=sys.stderr)
        return 2
    if args.serve:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        server = make_server(dsn, secret, args.host, args.port)
        host, port = server.server_address
        print(f"unsubscribe endpoint on http://{host}:{port}/unsubscribe", flush=True)
        server.serve_forever()
        return 0
    try:
        request, new = unsubscribe(dsn, args.token, secret, source="unsubscribe command")
    except InvalidToken as error:
        print(f"liftoff: {error}; nothing recorded", file=sys.stderr)
        return 2
    state = "recorded" if new else "already recorded"
    print(
        f"opt-out {state}: customer {request.customer_id}, channel {request.channel} ({request.campaign_id})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
