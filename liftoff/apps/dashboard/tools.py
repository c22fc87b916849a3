"""The assistant's tools: a fixed list of read-only, parameterised questions to gold.

Whoever asks (the rule-based mode or a language model through function calling), only these
queries run: the model picks a tool and fills typed arguments, never SQL. Each run is read-only,
bounded by a statement timeout and a row limit, and the arguments are checked before they reach
the database (dates as ISO days, limits in range, product text short and matched literally).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from psycopg import sql

from liftoff.apps.dashboard.warehouse import fetch_rows, gold

ROW_LIMIT = 50
STATEMENT_TIMEOUT_MS = 5_000
MAX_TEXT = 80
MAX_QUESTION = 500


class ToolError(ValueError):
    """A tool call the assistant made wrong (unknown tool, bad argument); the message says which."""


@dataclass(frozen=True)
class ToolResult:
    tool: str
    arguments: dict[str, Any]
    columns: list[str]
    rows: list[dict[str, Any]]
    truncated: bool = False

    def to_json(self) -> str:
        """What a language model reads back: the rows, and whether the row limit cut them."""
        return json.dumps(
            {"tool": self.tool, "arguments": self.arguments, "rows": self.rows, "truncated": self.truncated},
            default=_json_value,
            ensure_ascii=False,
        )


def _json_value(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]
    query: sql.Composable
    required: tuple[str, ...] = ()
    defaults: dict[str, Any] = field(default_factory=dict)

    def schema(self) -> dict[str, Any]:
        """The OpenAI function-calling declaration of this tool."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": {
                    "type": "object",
                    "properties": self.parameters,
                    "required": list(self.required),
                    "additionalProperties": False,
                },
            },
        }


DATE_RANGE = {
    "start_date": {"type": "string", "format": "date", "description": "First day, YYYY-MM-DD (inclusive)"},
    "end_date": {"type": "string", "format": "date", "description": "Last day, YYYY-MM-DD (inclusive)"},
}
LIMIT = {"limit": {"type": "integer", "minimum": 1, "maximum": ROW_LIMIT, "description": "How many rows"}}
RANKINGS = ("revenue", "items_sold")
RANK_BY = {
    "rank_by": {
        "type": "string",
        "enum": list(RANKINGS),
        "description": "Rank by revenue (R$) or by units sold (items_sold: what 'sold most' means)",
    }
}
# Ranked by the chosen measure, ties by the other, then the key: never dependent on the plan.
RANKED = sql.SQL(
    "order by case when %(rank_by)s = 'items_sold' then sum(items_sold) else sum(revenue) end desc,"
    " case when %(rank_by)s = 'items_sold' then sum(revenue) else sum(items_sold) end desc"
)

TOOLS: dict[str, Tool] = {
    tool.name: tool
    for tool in (
        Tool(
            "data_window",
            "First and last sale date gold holds. Call it first to resolve 'yesterday', 'this month'.",
            {},
            sql.SQL("select min(sale_date) as first_day, max(sale_date) as last_day from {}").format(
                gold("daily_sales")
            ),
        ),
        Tool(
            "sales_summary",
            "Revenue (R$), number of sales, items sold and average ticket (revenue / sales) in a period.",
            DATE_RANGE,
            sql.SQL(
                "select coalesce(sum(revenue), 0) as revenue, coalesce(sum(sales_count), 0)::bigint as sales,"
                " coalesce(sum(items_sold), 0)::bigint as items_sold,"
                " round(sum(revenue) / nullif(sum(sales_count), 0), 2) as average_ticket,"
                " count(*) as days_with_sales"
                " from {} where sale_date between %(start_date)s and %(end_date)s"
            ).format(gold("daily_sales")),
            ("start_date", "end_date"),
        ),
        Tool(
            "daily_revenue",
            "Revenue and number of sales per day in a period (for trends and charts).",
            DATE_RANGE,
            sql.SQL(
                "select sale_date, revenue, sales_count from {}"
                " where sale_date between %(start_date)s and %(end_date)s order by sale_date"
            ).format(gold("daily_sales")),
            ("start_date", "end_date"),
        ),
        Tool(
            "top_sellers",
            "Sellers ranked by revenue (default) or units sold in a period, with items and number of sales.",
            {**DATE_RANGE, **LIMIT, **RANK_BY},
            sql.SQL(
                "select seller_name, sum(revenue) as revenue, sum(items_sold)::bigint as items_sold,"
                " sum(sales_count)::bigint as sales from {}"
                " where sale_date between %(start_date)s and %(end_date)s"
                " group by seller_id, seller_name {}, seller_id limit %(limit)s"
            ).format(gold("daily_seller_sales"), RANKED),
            ("start_date", "end_date"),
            {"limit": 10, "rank_by": "revenue"},
        ),
        Tool(
            "top_products",
            "Products ranked by revenue (default) or units sold ('most sold') in a period, with items"
            " and number of sales.",
            {**DATE_RANGE, **LIMIT, **RANK_BY},
            sql.SQL(
                "select product_name, category, sum(revenue) as revenue,"
                " sum(items_sold)::bigint as items_sold, sum(sales_count)::bigint as sales from {}"
                " where sale_date between %(start_date)s and %(end_date)s"
                " group by product_id, product_name, category {}, product_id"
                " limit %(limit)s"
            ).format(gold("daily_product_sales"), RANKED),
            ("start_date", "end_date"),
            {"limit": 10, "rank_by": "revenue"},
        ),
        Tool(
            "product_sales",
            "Sales of the products whose name contains `product` (case-insensitive) in a period.",
            {**DATE_RANGE, "product": {"type": "string", "description": "Part of the product name"}},
            sql.SQL(
                "select product_name, category, sum(items_sold)::bigint as items_sold,"
                " sum(sales_count)::bigint as sales,"
                " sum(revenue) as revenue from {}"
                " where sale_date between %(start_date)s and %(end_date)s"
                " and product_name ilike '%%' || %(product_pattern)s || '%%' escape '\\'"
                " group by product_id, product_name, category order by revenue desc, product_id"
            ).format(gold("daily_product_sales")),
            ("product", "start_date", "end_date"),
        ),
        Tool(
            "category_sales",
            "Revenue, items and number of sales per product category in a period, best first (by"
            " revenue, default, or units sold).",
            {**DATE_RANGE, **RANK_BY},
            sql.SQL(
                "select category, sum(revenue) as revenue, sum(items_sold)::bigint as items_sold,"
                " sum(sales_count)::bigint as sales from {}"
                " where sale_date between %(start_date)s and %(end_date)s"
                " group by category {}, category"
            ).format(gold("daily_product_sales"), RANKED),
            ("start_date", "end_date"),
            {"rank_by": "revenue"},
        ),
        Tool(
            "new_customers",
            "Customers whose first purchase fell on each day of a period (a customer is new once),"
            " with the day's buying customers.",
            DATE_RANGE,
            sql.SQL(
                "select sales.sale_date, coalesce(new.new_customers, 0)::bigint as new_customers,"
                " sales.distinct_customers as customers from {} as sales"
                " left join {} as new on new.sale_date = sales.sale_date"
                " where sales.sale_date between %(start_date)s and %(end_date)s order by sales.sale_date"
            ).format(gold("daily_sales"), gold("new_customers_daily")),
            ("start_date", "end_date"),
        ),
        Tool(
            "monthly_payroll",
            "Payroll (R$) and head count of each month (everyone employed that month), newest first.",
            LIMIT,
            sql.SQL(
                "select month_start, employees, payroll from {} order by month_start desc limit %(limit)s"
            ).format(gold("monthly_payroll")),
            (),
            {"limit": 12},
        ),
        Tool(
            "headcount_by_gender",
            "Staff employed on gold's latest day, by gender, with each gender's share.",
            {},
            sql.SQL(
                "select gender, employees, employee_share from {} order by employees desc, gender"
            ).format(gold("employees_by_gender")),
        ),
        Tool(
            "hires_per_month",
            "Hires per month, newest month first.",
            LIMIT,
            sql.SQL("select month_start, hires from {} order by month_start desc limit %(limit)s").format(
                gold("hires_per_month")
            ),
            (),
            {"limit": 12},
        ),
        Tool(
            "average_salary_by_title",
            "Staff employed and their average salary (R$) per job title, highest first.",
            {},
            sql.SQL(
                "select job_title, employees, average_salary from {} order by average_salary desc, job_title"
            ).format(gold("average_salary_by_title")),
        ),
        Tool(
            "products_named_in",
            "Products that sold at least once whose full name appears in `text` (longest name first).",
            {"text": {"type": "string", "description": "A question or phrase naming products"}},
            sql.SQL(
                "select product_name from (select distinct product_name from {}) as names"
                " where position(lower(product_name) in lower(%(text)s)) > 0"
                " order by length(product_name) desc, product_name"
            ).format(gold("daily_product_sales")),
            ("text",),
        ),
        Tool(
            "product_names",
            "Product names that sold at least once, alphabetically (the list is cut at the row limit).",
            {},
            sql.SQL("select distinct product_name from {} order by product_name").format(
                gold("daily_product_sales")
            ),
        ),
    )
}


def _checked_arguments(tool: Tool, arguments: dict[str, Any]) -> dict[str, Any]:
    unknown = set(arguments) - set(tool.parameters)
    if unknown:
        raise ToolError(
            f"{tool.name} takes no argument {sorted(unknown)}; it takes {sorted(tool.parameters)}"
        )
    checked: dict[str, Any] = dict(tool.defaults)
    for name in tool.required:
        if arguments.get(name) in (None, ""):
            raise ToolError(f"{tool.name} needs `{name}`")
    for name, value in arguments.items():
        if name in ("start_date", "end_date"):
            try:
                checked[name] = value if isinstance(value, date) else date.fromisoformat(str(value))
            except ValueError:
                raise ToolError(f"{name} must be a day as YYYY-MM-DD, got {value!r}") from None
        elif name == "limit":
            try:
                checked[name] = min(max(int(value), 1), ROW_LIMIT)
            except (TypeError, ValueError):
                raise ToolError(f"limit must be a whole number, got {value!r}") from None
        elif name == "rank_by":
            if value not in RANKINGS:
                raise ToolError(f"rank_by must be one of {list(RANKINGS)}, got {value!r}")
            checked[name] = value
        elif name == "text":
            checked[name] = str(value)[:MAX_QUESTION]
        elif name == "product":
            text = str(value).strip()[:MAX_TEXT]
            checked[name] = text
            # Matched literally: the user's % and _ are not wildcards.
            checked["product_pattern"] = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    if "start_date" in checked and checked["start_date"] > checked["end_date"]:
        raise ToolError("start_date must not be after end_date")
    return checked


def run_tool(dsn: str, name: str, arguments: dict[str, Any] | None = None) -> ToolResult:
    """Run one allow-listed tool on gold, read-only, bounded in time and rows."""
    tool = TOOLS.get(name)
    if tool is None:
        raise ToolError(f"unknown tool {name!r}; the tools are {sorted(TOOLS)}")
    params = _checked_arguments(tool, arguments or {})
    columns, rows, truncated = fetch_rows(
        dsn, tool.query, params, max_rows=ROW_LIMIT, statement_timeout_ms=STATEMENT_TIMEOUT_MS
    )
    shown = {key: value for key, value in params.items() if key != "product_pattern"}
    return ToolResult(name, shown, columns, [dict(zip(columns, row, strict=True)) for row in rows], truncated)


def tool_schemas() -> list[dict[str, Any]]:
    return [tool.schema() for tool in TOOLS.values()]


ToolRunner = Callable[[str, dict[str, Any]], ToolResult]
