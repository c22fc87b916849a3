"""Hand-built silver tables for campaign tests: the columns the audience reads, in dbt's types.

Small on purpose: each test states exactly which sales exist, so each audience rule is visible.
`Shop.build_gold(day)` then runs the real dbt models (daily product sales, best sellers, latest
purchase, the audience) on them, so the rules tested are the production model's. The end-to-end
DAG test builds silver with dbt too, which keeps these shapes honest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg

from liftoff.campaign.audience import ensure_campaign_tables
from tests.warehouses import DBT_TARGET_PATH

SILVER_DDL = """
create schema if not exists silver;
create table silver.products (
    product_id bigint primary key, product_name text, product_description text, category text,
    unit_price numeric(12, 2), extracted_at timestamptz not null default '2000-01-01'
);
create table silver.customers (
    customer_id bigint primary key, first_name text, last_name text, customer_email text,
    telegram_chat_id bigint
);
create table silver.sales (
    sale_id bigint primary key, customer_id bigint, product_id bigint, sale_value numeric(12, 2),
    sale_date date, sold_at timestamptz, quantity integer not null default 1,
    is_value_outlier boolean not null default false
);
"""
BRT = ZoneInfo("America/Sao_Paulo")


@dataclass
class Shop:
    dsn: str
    next_sale_id: int = 1
    prices: dict[int, Decimal] = field(default_factory=dict)

    def __post_init__(self) -> None:
        with psycopg.connect(self.dsn) as conn:
            conn.execute(SILVER_DDL)
        ensure_campaign_tables(self.dsn)

    def product(
        self,
        product_id: int,
        category: str,
        price: str = "100.00",
        name: str | None = None,
        description: str | None = None,
    ) -> int:
        self.prices[product_id] = Decimal(price)
        with psycopg.connect(self.dsn) as conn:
            conn.execute(
                "insert into silver.products values (%s, %s, %s, %s, %s)",
                (
                    product_id,
                    name or f"Produto {product_id}",
                    description or f"Descrição {product_id}",
                    category,
                    Decimal(price),
                ),
            )
        return product_id

    def customer(
        self,
        customer_id: int,
        email: str | None = "",
        chat_id: int | None = None,
        first_name: str | None = None,
    ) -> int:
        address = f"cliente{customer_id}@example.com" if email == "" else email
        with psycopg.connect(self.dsn) as conn:
            conn.execute(
                "insert into silver.customers values (%s, %s, %s, %s, %s)",
                (customer_id, first_name or f"Nome{customer_id}", "Silva", address, chat_id),
            )
        return customer_id

    def sale(
        self,
        customer_id: int,
        product_id: int,
        day: date,
        hour: int = 12,
        value: str | None = None,
        times: int = 1,
    ) -> None:
        with psycopg.connect(self.dsn) as conn:
            for _ in range(times):
                sold_at = datetime.combine(day, time(hour), BRT)
                conn.execute(
                    "insert into silver.sales (sale_id, customer_id, product_id, sale_value, sale_date,"
                    " sold_at) values (%s, %s, %s, %s, %s, %s)",
                    (
                        self.next_sale_id,
                        customer_id,
                        product_id,
                        Decimal(value) if value else self.prices[product_id],
                        day,
                        sold_at,
                    ),
                )
                self.next_sale_id += 1

    def build_gold(self, day: date) -> None:
        """The campaign's gold models for data day `day`, by dbt, over every day of the shop."""
        build_campaign_gold(self.dsn, day)

    def fans(self, product_id: int, count: int, day: date, first_customer: int) -> None:
        """`count` sales of a product to distinct customers on `day` (builds best-seller rankings)."""
        for offset in range(count):
            customer = first_customer + offset
            with psycopg.connect(self.dsn) as conn:
                exists = conn.execute("select 1 from silver.customers where customer_id = %s", (customer,))
                if not exists.fetchone():
                    self.customer(customer)
            self.sale(customer, product_id, day)


def days_before(day: date, n: int) -> date:
    return day - timedelta(days=n)


GOLD_MODELS = (
    "gold_daily_product_sales",
    "gold_category_best_sellers",
    "gold_customer_latest_purchase",
    "gold_cross_sell_audience",
)


def build_campaign_gold(dsn: str, day: date, since: date | None = None) -> None:
    """`dbt run` of the audience and the gold models it reads, in-process (no interpreter start
    per build), over [since, day] (default: the 400 days before, every sale a shop test makes)."""
    import json

    from liftoff import settings
    from liftoff.transform import dbt_runner

    project = str(settings.DBT_PROJECT_DIR)
    variables = json.dumps(
        {"since_date": (since or day - timedelta(days=400)).isoformat(), "logical_date": day.isoformat()}
    )
    arguments = [
        "--quiet", "run", "--select", *GOLD_MODELS, "--vars", variables,
        "--project-dir", project, "--profiles-dir", project, "--target", settings.DBT_TARGET,
        "--target-path", DBT_TARGET_PATH,
    ]  # fmt: skip
    result = dbt_runner.invoke(dsn, arguments)
    assert result.success, (
        f"dbt run of the campaign's gold for {day} failed: {result.exception or result.result}"
    )
