"""Link a customer to a Telegram chat outside the CRM (a bot's /start flow, a support request).

    python -m liftoff.campaign.telegram_links CUSTOMER_ID CHAT_ID [--dsn URL]

The CRM's customers.telegram_chat_id is the usual source; a link here wins over it. Run inside
the stack's environment (`make shell`) so `warehouse` is the DAG's connection.
"""

from __future__ import annotations

import argparse
import sys

import psycopg

from liftoff.campaign.audience import ensure_campaign_tables


def link_chat(dsn: str, customer_id: int, chat_id: int) -> None:
    ensure_campaign_tables(dsn)
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "insert into campaign.telegram_links (customer_id, chat_id) values (%s, %s)"
            " on conflict (customer_id) do update set chat_id = excluded.chat_id, linked_at = now()",
            (customer_id, chat_id),
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m liftoff.campaign.telegram_links")
    parser.add_argument("customer_id", type=int)
    parser.add_argument("chat_id", type=int)
    parser.add_argument("--dsn", help="warehouse libpq URL (default: the Airflow connection `warehouse`)")
    args = parser.parse_args(argv)
    if args.dsn:
        dsn = args.dsn
    else:
        from liftoff.connections import warehouse_dsn

        dsn = warehouse_dsn()
    link_chat(dsn, args.customer_id, args.chat_id)
    print(f"customer {args.customer_id} linked to Telegram chat {args.chat_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
