"""The quality gate's expectation suites, as code: what "good enough to reach customers" means.

Each suite checks one frame, fetched for the logical day by a parameterised query in
`include/sql/quality/` (named after the frame). The dbt tests already guard every model's shape;
these suites look at the day as a whole, where a contract or a dbt test cannot see: volume,
revenue and ticket against the same weekday of the weeks before, a category whose prices jumped or
that vanished, duplicated activity, freshness against the logical date, and the keys the campaign
relies on.

Bands are wide enough that ordinary weeks never trip them (month-to-month seasonality reaches
1.45×, and a day of a few hundred sales varies by ±15%), narrow enough for the faults they are for:
a day with no sales, prices shifted tenfold, a day loaded twice. `tests/quality/test_quality.py` runs 30
ordinary simulated days without an alarm and each fault with one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from great_expectations.expectations import Expectation

# Against the same weekday's median of the 4 weeks before.
VOLUME_BAND = (0.4, 1.75)
TICKET_BAND = (0.5, 2.0)
# A category's average unit price against its median of the 28 days before.
CATEGORY_PRICE_BAND = (0.33, 3.0)
MAX_UNIT_PRICE = 100_000  # the contracts' ceiling, again on silver
MAX_QUANTITY = 1_000


@dataclass(frozen=True)
class Suite:
    """A named suite over one frame; `expectations` is called inside the task (GX imports late)."""

    name: str
    frame: str  # include/sql/quality/<frame>.sql
    description: str
    key_columns: tuple[str, ...] = ()  # identify failing rows in the samples
    build: Any = field(default=None, repr=False)

    def expectations(self) -> list[Expectation]:
        return self.build()


def _silver_sales_day() -> list[Expectation]:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),  # a business day without a single sale
        gxe.ExpectColumnValuesToNotBeNull(column="sale_id"),
        gxe.ExpectColumnValuesToBeUnique(column="sale_id"),
        # The same customer buying the same product at the same second twice: the day was loaded twice.
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["customer_id", "product_id", "sold_at"]),
        gxe.ExpectColumnValuesToBeInSet(column="customer_known", value_set=[True]),
        gxe.ExpectColumnValuesToBeInSet(column="product_known", value_set=[True]),
        gxe.ExpectColumnValuesToBeInSet(column="seller_known", value_set=[True]),
        gxe.ExpectColumnValuesToBeBetween(column="unit_price", min_value=0.01, max_value=MAX_UNIT_PRICE),
        gxe.ExpectColumnValuesToBeBetween(column="quantity", min_value=1, max_value=MAX_QUANTITY),
        gxe.ExpectColumnValuesToBeBetween(column="sale_value", min_value=0.01),
    ]


def _gold_day_totals() -> list[Expectation]:
    import great_expectations.expectations as gxe

    low, high = VOLUME_BAND
    return [
        gxe.ExpectColumnValuesToBeBetween(column="sales_count", min_value=1),
        gxe.ExpectColumnValuesToBeBetween(column="sales_count_vs_usual", min_value=low, max_value=high),
        gxe.ExpectColumnValuesToBeBetween(column="revenue_vs_usual", min_value=low, max_value=high),
        gxe.ExpectColumnValuesToBeBetween(
            column="average_ticket_vs_usual", min_value=TICKET_BAND[0], max_value=TICKET_BAND[1]
        ),
        # Fresh: silver holds the logical day's sales (a backfilled older day is behind nothing).
        gxe.ExpectColumnValuesToBeBetween(column="days_behind_latest_sale", max_value=0),
    ]


def _gold_day_categories() -> list[Expectation]:
    import great_expectations.expectations as gxe

    low, high = CATEGORY_PRICE_BAND
    return [
        # An established category with no sale at all that day: it vanished.
        gxe.ExpectColumnValuesToBeBetween(column="sales_count", min_value=1),
        gxe.ExpectColumnValuesToBeBetween(column="unit_price_vs_usual", min_value=low, max_value=high),
    ]


def _gold_day_product_keys() -> list[Expectation]:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToNotBeNull(column="product_id"),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["sale_date", "product_id"]),
    ]


def _gold_audience_inputs() -> list[Expectation]:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToNotBeNull(column="customer_id"),
        gxe.ExpectColumnValuesToBeUnique(column="customer_id"),
        gxe.ExpectColumnValuesToNotBeNull(column="sale_date"),
    ]


SUITES: tuple[Suite, ...] = (
    Suite(
        "silver_sales_day",
        "day_sales",
        "The day's sales: keys, ranges, references and duplicates.",
        key_columns=("sale_id",),
        build=_silver_sales_day,
    ),
    Suite(
        "gold_day_totals",
        "day_totals",
        "The day's volume, revenue and ticket against the same weekday of the 4 weeks before; freshness.",
        build=_gold_day_totals,
    ),
    Suite(
        "gold_day_categories",
        "day_categories",
        "Each established category sold that day, at its usual prices.",
        key_columns=("category",),
        build=_gold_day_categories,
    ),
    Suite(
        "gold_day_product_keys",
        "day_product_keys",
        "One row per product in the day's product sales.",
        key_columns=("product_id",),
        build=_gold_day_product_keys,
    ),
    Suite(
        "gold_audience_inputs",
        "audience_inputs",
        "One latest purchase per customer for the campaign.",
        key_columns=("customer_id",),
        build=_gold_audience_inputs,
    ),
)
