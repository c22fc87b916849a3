"""Reconciliation: the layers agree with each other for a data day, record by record.

The expectation suites judge a day's data as a whole; they cannot see a record that never reached
silver (a late sale the transform did not rebuild: the day looks ordinary without it), a key kept
twice, an old version kept over a newer one, or a mart that no longer adds up to its source. This
module checks exactly that, per data day, and returns its verdicts as the gate's other findings,
so a failure blocks the gate, lands in `quality.results` and goes out in the alert:

- sales (`reconcile_sales`): every sale of raw.sales dated on the day and every sale the day's
  loads delivered whatever its date is in silver.sales exactly once, at its latest raw version;
  no silver sale of the day lacks a raw record dated on the day;
- dimensions (`reconcile_suppliers`, `…_products`, `…_employees`, `…_customers`): every key the
  day's loads delivered is in silver exactly once, at its latest raw version;
- gold (`reconcile_gold`): gold.daily_sales, daily_product_sales and daily_seller_sales hold the
  counts and sums of silver's sales of the day.

raw holds no quarantined record (the loader and the Airbyte check move those to raw.quarantine),
so "every raw key" means every record that passed its contract. A failure names the day, how many
keys failed and up to `SAMPLE_KEYS` of them. The queries are in `include/sql/quality/reconcile_*.sql`
and read the day through indexes only (raw by sale time, load date, extraction time and key;
silver by sale date and key), so the check costs what the day holds, not the history.

Which loads belong to a day: loader rows carry the day in `_liftoff_logical_date`; Airbyte rows
carry none, so a day owns the Airbyte rows extracted from its midnight (UTC, as dbt's window opens)
until the next checked day's midnight, the last checked day without an end (see `airbyte_ranges`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from liftoff import sql_files
from liftoff.quality.gate import Finding

SAMPLE_KEYS = 20  # keys named per failing check (the count says how many there are in all)

DIMENSIONS: dict[str, str] = {
    "suppliers": "supplier_id",
    "products": "product_id",
    "employees": "employee_id",
    "customers": "customer_id",
}
# problem reported by a query → the expectation it breaks
KEY_EXPECTATIONS: dict[str, str] = {
    "missing": "raw_keys_in_silver",
    "duplicated": "silver_keys_unique",
    "outdated": "silver_at_latest_raw_version",
    "extra": "silver_keys_in_raw",
}
GOLD_MARTS: dict[str, str] = {
    "daily_sales": "sale_date",
    "daily_product_sales": "product_id",
    "daily_seller_sales": "seller_id",
}


def midnight_utc(day: date) -> datetime:
    """Where dbt's extraction window for `day` opens (the loader stamps this instant too)."""
    return datetime.combine(day, time(), tzinfo=UTC)


def airbyte_ranges(days: Iterable[date]) -> dict[date, tuple[datetime, datetime | None]]:
    """The Airbyte extraction range each checked day owns: from its midnight (UTC) to the next
    checked day's, the last without an end. Every Airbyte row extracted since the first checked
    day's midnight (what the transform of these days read) is checked once, by one day."""
    ordered = sorted(set(days))
    ends: list[datetime | None] = [midnight_utc(day) for day in ordered[1:]]
    return {day: (midnight_utc(day), end) for day, end in zip(ordered, [*ends, None], strict=True)}


def reconcile(
    dsn: str, day: date, airbyte_until: datetime | None = None, as_of: date | None = None
) -> list[Finding]:
    """Every reconciliation verdict for `day` (passing ones too, so quality.results shows what
    was checked); Airbyte rows extracted from the day's midnight (UTC) to `airbyte_until`.
    `as_of`: the checked transform's logical date (default `day`); dimension versions loaded for
    later days are not held against it (see reconcile_dimensions.sql)."""
    import psycopg

    parameters = {
        "day": day,
        "airbyte_from": midnight_utc(day),
        "airbyte_until": airbyte_until,
        "as_of": max(as_of or day, day),
    }
    arguments = {
        "day": day.isoformat(),
        "airbyte_extracted_from": parameters["airbyte_from"].isoformat(),
        "airbyte_extracted_until": airbyte_until.isoformat() if airbyte_until else None,
    }
    with psycopg.connect(dsn) as conn:
        sales = sql_files.execute(conn, "quality/reconcile_sales.sql", parameters).fetchall()
        dimensions = sql_files.execute(conn, "quality/reconcile_dimensions.sql", parameters).fetchall()
        gold = sql_files.execute(conn, "quality/reconcile_gold.sql", {"day": day}).fetchall()
    findings = key_findings("sales", "sale_id", sales, arguments)
    by_entity: dict[str, list[tuple[str, int | None, Any]]] = defaultdict(list)
    for entity, problem, key, detail in dimensions:
        by_entity[entity].append((problem, key, detail))
    for entity, key_column in DIMENSIONS.items():
        findings += key_findings(entity, key_column, by_entity[entity], arguments)
    findings += gold_findings(day, gold, arguments)
    return findings


def key_findings(
    entity: str,
    key_column: str,
    rows: Sequence[tuple[str, int | None, Any]],
    arguments: dict[str, Any],
) -> list[Finding]:
    """One finding per key expectation of `entity` from its query's (problem, key, detail) rows."""
    checked = sum(detail["keys"] for problem, _, detail in rows if problem == "checked")
    expectations = KEY_EXPECTATIONS if entity == "sales" else {
        problem: name for problem, name in KEY_EXPECTATIONS.items() if problem != "extra"
    }  # fmt: skip
    findings = []
    for problem, expectation in expectations.items():
        failing = [(key, detail) for kind, key, detail in rows if kind == problem]
        samples = [{key_column: key, **(detail or {})} for key, detail in failing[:SAMPLE_KEYS]]
        observed: dict[str, Any] = {"checked_keys": checked, problem: len(failing)}
        if failing:
            observed["keys"] = [key for key, _ in failing[:SAMPLE_KEYS]]
        findings.append(
            Finding(
                suite=f"reconcile_{entity}",
                expectation=expectation,
                column=key_column,
                success=not failing,
                observed_value=observed,
                unexpected_count=len(failing),
                failing_samples=samples,
                arguments=arguments,
            )
        )
    return findings


def gold_findings(
    day: date, rows: Sequence[tuple[str, int | None, Any]], arguments: dict[str, Any]
) -> list[Finding]:
    """One finding per daily mart from the gold query's (mart, key, detail) rows."""
    findings = []
    for mart, key_column in GOLD_MARTS.items():
        failing = [(key, detail) for name, key, detail in rows if name == mart]
        keys = [day.isoformat() if key is None else key for key, _ in failing]
        observed: dict[str, Any] = {"differing_rows": len(failing)}
        if failing:
            observed["keys"] = keys[:SAMPLE_KEYS]
        findings.append(
            Finding(
                suite="reconcile_gold",
                expectation=f"{mart}_equals_silver",
                column=key_column,
                success=not failing,
                observed_value=observed,
                unexpected_count=len(failing),
                failing_samples=[
                    {key_column: key, **detail}
                    for key, (_, detail) in zip(keys[:SAMPLE_KEYS], failing, strict=False)
                ],
                arguments=arguments,
            )
        )
    return findings
