"""Record an unsubscribe: from a token on the command line, or through a tiny HTTP endpoint.

    python -m liftoff.campaign.unsubscribe TOKEN              # record the opt-out a link carries
    python -m liftoff.campaign.unsubscribe --serve [--port N]  # serve /unsubscribe (GET page, POST)

Run inside the stack's environment (`make shell`) so the warehouse connection and the
unsubscribe secret are the DAG's. The endpoint follows RFC 8058: a GET (which mail scanners
prefetch) only shows a confirmation button; a POST (the button, or a mail client's one-click
List-Unsubscribe-Post) records the opt-out. Only tokens this platform signed are honoured; the
next campaign's audience (and any batch not yet sent) leaves the customer out.
"""

from __future__ import annotations

import argparse
import html
import logging
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

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


def unsubscribe(dsn: str, token: str, secret: bytes, source: str) -> tuple[Unsubscribe, bool]:
    """Verify the token and record its opt-out; (what, whether it is new). InvalidToken if forged."""
    request = verify_token(token, secret)
    new = record_opt_out(
        dsn, request.customer_id, request.channel, f"unsubscribe link of {request.campaign_id}", source
    )
    return request, new


def make_server(dsn: str, secret: bytes, host: str = "127.0.0.1", port: int = 8765) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt: str, *args) -> None:
            log.info("unsubscribe endpoint: " + fmt, *args)

        def _page(self, status: int, title: str, body: str, form: str = "") -> None:
            data = PAGE.format(title=html.escape(title), body=html.escape(body), form=form).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _token(self) -> str | None:
            parts = urlsplit(self.path)
            if parts.path.rstrip("/") != "/unsubscribe":
                return None
            return (parse_qs(parts.query).get("token") or [""])[0]

        def do_GET(self) -> None:
            token = self._token()
            if token is None:
                return self._page(404, "Página não encontrada", "")
            try:
                verify_token(token, secret)
            except InvalidToken:
                return self._page(400, "Link inválido", "Este link de descadastro não é válido.")
            form = (
                f'<form method="post" action="/unsubscribe?token={html.escape(token, quote=True)}">'
                '<button type="submit">Confirmar descadastro</button></form>'
            )
            return self._page(200, "Descadastrar-se", "Confirme para não receber mais recomendações.", form)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            token = self._token()
            if token is None:
                return self._page(404, "Página não encontrada", "")
            try:
                unsubscribe(dsn, token, secret, source="unsubscribe endpoint")
            except InvalidToken:
                return self._page(400, "Link inválido", "Este link de descadastro não é válido.")
            return self._page(200, "Pronto", "Você não receberá mais nossas recomendações por este canal.")

    return ThreadingHTTPServer((host, port), Handler)


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
        server = make_server(dsn, secret, args.host, args.port)
        print(f"unsubscribe endpoint on http://{args.host}:{server.server_address[1]}/unsubscribe")
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
