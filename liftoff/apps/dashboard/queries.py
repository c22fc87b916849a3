"""The dashboard's questions to gold, each a parameterised query over a per-day (or per-month) mart.

Why per-day marts: the sale date and hire date filters are arbitrary ranges, so the numbers are
summed from gold.daily_* and gold.staff_by_hire_date at read time; the "last 7/30 days" marts
answer one fixed window only. Distinct products over a range come from the per-product daily
mart (a distinct count cannot be summed across days).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
from psycopg import sql

from liftoff import settings
from liftoff.apps.dashboard.warehouse import fetch_frame, fetch_rows, gold

TOP_SELLERS = 10
TOP_PRODUCTS = 20


@dataclass(frozen=True)
class DateBounds:
    """The first and last day a gold table holds, or None for both when it holds nothing."""

    first: date | None
    last: date | None

    @property
    def empty(self) -> bool:
        return self.first is None or self.last is None


@dataclass(frozen=True)
class Kpis:
    products_sold: int
    revenue: float
    sales: int
    items_sold: int
    employees: int


def _bounds(dsn: str, table: str, column: str) -> DateBounds:
    query = sql.SQL("select min({column}), max({column}) from {table}").format(
        column=sql.Identifier(column), table=gold(table)
    )
    _, rows, _ = fetch_rows(dsn, query)
    first, last = rows[0] if rows else (None, None)
    return DateBounds(first, last)


def sale_date_bounds(dsn: str) -> DateBounds:
    return _bounds(dsn, "daily_sales", "sale_date")


def hire_date_bounds(dsn: str) -> DateBounds:
    return _bounds(dsn, "staff_by_hire_date", "hire_date")


def kpis(dsn: str, start: date, end: date, hire_start: date, hire_end: date) -> Kpis:
    """Distinct products sold, revenue, sales and items of the sale range; staff hired in the hire range."""
    params = {"start": start, "end": end, "hire_start": hire_start, "hire_end": hire_end}
    totals = sql.SQL(
        "select coalesce(sum(revenue), 0), coalesce(sum(sales_count), 0), coalesce(sum(items_sold), 0)"
        " from {table} where sale_date between %(start)s and %(end)s"
    ).format(table=gold("daily_sales"))
    products = sql.SQL(
        "select count(distinct product_id) from {table} where sale_date between %(start)s and %(end)s"
    ).format(table=gold("daily_product_sales"))
    staff = sql.SQL(
        "select coalesce(sum(employees), 0) from {table}"
        " where hire_date between %(hire_start)s and %(hire_end)s"
    ).format(table=gold("staff_by_hire_date"))
    revenue, sales, items = (fetch_rows(dsn, totals, params)[1] or [(0, 0, 0)])[0]
    [(products_sold,)] = fetch_rows(dsn, products, params)[1] or [(0,)]
    [(employees,)] = fetch_rows(dsn, staff, params)[1] or [(0,)]
    return Kpis(int(products_sold), float(revenue), int(sales), int(items), int(employees))


def daily_sales(dsn: str, start: date, end: date) -> pd.DataFrame:
    query = sql.SQL(
        "select sale_date, revenue, sales_count, items_sold from {table}"
        " where sale_date between %(start)s and %(end)s order by sale_date"
    ).format(table=gold("daily_sales"))
    return fetch_frame(
        dsn, query, {"start": start, "end": end}, ("sale_date", "revenue", "sales_count", "items_sold")
    )


def sales_by_product(dsn: str, start: date, end: date, limit: int = TOP_PRODUCTS) -> pd.DataFrame:
    """The products with the most revenue in the range (ties: the lower product id first)."""
    query = sql.SQL(
        "select product_id, product_name, category, sum(revenue) as revenue, sum(items_sold) as items_sold"
        " from {table} where sale_date between %(start)s and %(end)s"
        " group by product_id, product_name, category order by revenue desc, product_id limit %(limit)s"
    ).format(table=gold("daily_product_sales"))
    return fetch_frame(
        dsn,
        query,
        {"start": start, "end": end, "limit": limit},
        ("product_id", "product_name", "category", "revenue", "items_sold"),
    )


def top_sellers(dsn: str, start: date, end: date, limit: int = TOP_SELLERS) -> pd.DataFrame:
    query = sql.SQL(
        "select seller_id, seller_name, sum(revenue) as revenue, sum(sales_count) as sales_count"
        " from {table} where sale_date between %(start)s and %(end)s"
        " group by seller_id, seller_name order by revenue desc, seller_id limit %(limit)s"
    ).format(table=gold("daily_seller_sales"))
    return fetch_frame(
        dsn,
        query,
        {"start": start, "end": end, "limit": limit},
        ("seller_id", "seller_name", "revenue", "sales_count"),
    )


def monthly_payroll(dsn: str) -> pd.DataFrame:
    query = sql.SQL("select month_start, employees, payroll from {table} order by month_start").format(
        table=gold("monthly_payroll")
    )
    return fetch_frame(dsn, query, columns=("month_start", "employees", "payroll"))


def employees_by_gender(dsn: str, hire_start: date, hire_end: date) -> pd.DataFrame:
    query = sql.SQL(
        "select gender, sum(employees) as employees from {table}"
        " where hire_date between %(hire_start)s and %(hire_end)s group by gender order by gender"
    ).format(table=gold("staff_by_hire_date"))
    return fetch_frame(dsn, query, {"hire_start": hire_start, "hire_end": hire_end}, ("gender", "employees"))


def average_salary_by_title(dsn: str, hire_start: date, hire_end: date) -> pd.DataFrame:
    query = sql.SQL(
        "select job_title, sum(employees) as employees,"
        " round(sum(total_salary) / sum(employees), 2) as average_salary from {table}"
        " where hire_date between %(hire_start)s and %(hire_end)s"
        " group by job_title order by average_salary desc, job_title"
    ).format(table=gold("staff_by_hire_date"))
    return fetch_frame(
        dsn,
        query,
        {"hire_start": hire_start, "hire_end": hire_end},
        ("job_title", "employees", "average_salary"),
    )


def hires_per_month(dsn: str, hire_start: date, hire_end: date) -> pd.DataFrame:
    """Hires of the months the hire range touches (the mart counts by month)."""
    query = sql.SQL(
        "select month_start, hires from {table}"
        " where month_start between date_trunc('month', %(hire_start)s::date) and %(hire_end)s"
        " order by month_start"
    ).format(table=gold("hires_per_month"))
    return fetch_frame(dsn, query, {"hire_start": hire_start, "hire_end": hire_end}, ("month_start", "hires"))


def birthdays_of_the_month(dsn: str) -> pd.DataFrame:
    query = sql.SQL(
        "select birthday, employee_name, job_title, birth_date from {table} order by birthday, employee_name"
    ).format(table=gold("birthdays_of_the_month"))
    return fetch_frame(dsn, query, columns=("birthday", "employee_name", "job_title", "birth_date"))


# -- pipeline status ---------------------------------------------------------------------------


def business_today() -> date:
    """Today on the store's calendar (Brasília): sale dates, and so gold's days, are Brasília days."""
    return datetime.now(ZoneInfo(settings.BUSINESS_TIMEZONE)).date()


@dataclass(frozen=True)
class Freshness:
    """Which day gold holds last, judged against today in Brasília.

    A day is complete once it is over in Brasília: gold's latest day is complete when it is before
    today, and today's day (a run over the current day) holds the sales so far only.
    """

    latest_sale_date: date | None
    today: date

    @property
    def days_behind(self) -> int | None:
        """Whole days between the latest sale date and today (0: gold holds today)."""
        return (self.today - self.latest_sale_date).days if self.latest_sale_date else None

    @property
    def latest_is_complete(self) -> bool:
        return self.latest_sale_date is not None and self.latest_sale_date < self.today

    @property
    def last_complete_day(self) -> date | None:
        """The newest complete day gold holds (the day before today when gold holds today)."""
        if self.latest_sale_date is None:
            return None
        return min(self.latest_sale_date, self.today - timedelta(days=1))

    @property
    def up_to_date(self) -> bool:
        """Gold holds yesterday (the last complete day) or more."""
        return self.latest_sale_date is not None and self.latest_sale_date >= self.today - timedelta(days=1)


def freshness(dsn: str, today: date) -> Freshness:
    return Freshness(sale_date_bounds(dsn).last, today)


def last_campaign(dsn: str) -> pd.DataFrame:
    """Every channel row of the most recently finished campaign (gold.campaign_summaries, issue 6)."""
    query = sql.SQL(
        "select campaign_id, logical_date, channel, audience_size, sent, skipped, failed, finished_at"
        " from {table} where campaign_id = ("
        "   select campaign_id from {table} order by finished_at desc nulls last limit 1"
        " ) order by channel"
    ).format(table=gold("campaign_summaries"))
    columns = (
        "campaign_id", "logical_date", "channel", "audience_size", "sent", "skipped", "failed", "finished_at"
    )  # fmt: skip
    return fetch_frame(dsn, query, columns=columns)
