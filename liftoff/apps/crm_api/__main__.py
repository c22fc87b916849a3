"""Command line of the CRM API (the Makefile and `liftoff.devstack up` call it).

    python -m liftoff.apps.crm_api migrate                  # Alembic upgrade head on the CRM database
    python -m liftoff.apps.crm_api serve [--port 8090]      # uvicorn, after migrating
    python -m liftoff.apps.crm_api key create NAME [--scope admin]  # mint an API key (printed once)
    python -m liftoff.apps.crm_api key register NAME --from-env VAR [--scope admin]  # a key made elsewhere
    python -m liftoff.apps.crm_api key list | revoke ID
    python -m liftoff.apps.crm_api openapi PATH             # write the OpenAPI spec as JSON (docs)

The database comes from LIFTOFF_CRM_DATABASE_URL (the API's serving role) or the `crm` Airflow
connection in the environment; migrations run on LIFTOFF_CRM_OWNER_URL (the owner role) when it is
set (`make shell` / `make up` set both for the embedded stack: docs/security.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

DEFAULT_PORT = 8090


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m liftoff.apps.crm_api", description=__doc__.splitlines()[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="upgrade the CRM database to the latest migration")
    serve = commands.add_parser("serve", help="migrate, then serve the API with uvicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=int(os.environ.get("LIFTOFF_CRM_API_PORT", DEFAULT_PORT)))
    key = commands.add_parser("key", help="mint, list or revoke API keys")
    key_commands = key.add_subparsers(dest="key_command", required=True)
    create = key_commands.add_parser("create", help="mint a key (shown once)")
    create.add_argument("name")
    create.add_argument(
        "--scope",
        choices=("standard", "admin"),
        default="standard",
        help="admin keys may also read soft-deleted records (include_deleted=true)",
    )
    register = key_commands.add_parser(
        "register", help="register a key made elsewhere (read from an environment variable; idempotent)"
    )
    register.add_argument("name")
    register.add_argument(
        "--from-env",
        required=True,
        metavar="VAR",
        help="the environment variable holding the key (never a command-line argument: `ps` shows those)",
    )
    register.add_argument("--scope", choices=("standard", "admin"), default="standard")
    key_commands.add_parser("list", help="keys with their prefix, never the key")
    key_commands.add_parser("revoke", help="revoke a key by its id").add_argument("api_key_id", type=int)
    openapi = commands.add_parser("openapi", help="write the OpenAPI spec as JSON")
    openapi.add_argument("path", type=Path)
    args = parser.parse_args(argv)

    from liftoff.apps.crm_api.database import crm_database_url, make_engine, migration_url

    if args.command == "openapi":
        from liftoff.apps.crm_api.app import create_app

        # The spec needs no database: the engine connects lazily and is never used here.
        spec = create_app("postgresql://spec-only@127.0.0.1:1/none").openapi()
        args.path.parent.mkdir(parents=True, exist_ok=True)
        args.path.write_text(json.dumps(spec, indent=2, ensure_ascii=False) + "\n")
        print(f"wrote {args.path}")
        return 0
    try:
        url = crm_database_url()
        owner_url = migration_url()
    except RuntimeError as error:
        print(f"liftoff: {error}", file=sys.stderr)
        return 2
    from liftoff.apps.crm_api.migrate import upgrade

    if args.command == "migrate":
        upgrade(owner_url)
        print("liftoff: the CRM database is at the latest migration")
    elif args.command == "serve":
        import uvicorn

        from liftoff.apps.crm_api.app import create_app

        upgrade(owner_url)
        from liftoff.apps.crm_api.limits import server_config

        uvicorn.Server(server_config(create_app(url), args.host, args.port, log_level="info")).run()
    elif args.command == "key":
        from liftoff.apps.crm_api import auth

        upgrade(owner_url)
        engine = make_engine(url)
        if args.key_command == "create":
            minted = auth.mint_key(engine, args.name, args.scope)
            who = f"{minted.name!r}, scope {minted.scope}"
            print(f"API key {minted.api_key_id} for {who} (shown once, store it now):")
            print(minted.key)
        elif args.key_command == "register":
            key = os.environ.get(args.from_env, "").strip()
            if not key:
                print(f"liftoff: {args.from_env} is not set: it must hold the key", file=sys.stderr)
                return 2
            try:
                key_id = auth.register_key(engine, args.name, key, args.scope)
            except auth.KeyRegistrationError as error:
                print(f"liftoff: {error}", file=sys.stderr)
                return 2
            print(f"API key {key_id} for {args.name!r}, scope {args.scope}: registered ({args.from_env})")
        elif args.key_command == "list":
            for row in auth.list_keys(engine):
                state = f"revoked {row['revoked_at']:%Y-%m-%d}" if row["revoked_at"] else "live"
                who = f"{row['name']}  {row['scope']}"
                print(f"{row['api_key_id']:>4}  {row['key_prefix']}…  {who}  ({state})")
        elif not auth.revoke_key(engine, args.api_key_id):
            print(f"liftoff: no live API key with id {args.api_key_id}", file=sys.stderr)
            return 2
        else:
            print(f"revoked API key {args.api_key_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
