"""The gate's certification of the campaign's audience (gold.cross_sell_audience) for a data day.

Kept apart from the Great Expectations suites: these are relational rules (the latest purchase
really is the latest, the recommendation was never bought) checked in SQL against silver's history
(include/sql/quality/audience_violations.sql). Each rule is one Finding in the day's report, so a
violation fails the gate, names the customers, and the campaign does not run on that audience.
"""

from __future__ import annotations

from datetime import date

import psycopg

from liftoff import sql_files
from liftoff.quality.gate import Finding

SUITE = "cross_sell_audience"
VIOLATIONS_SQL = "quality/audience_violations.sql"
RULES = (
    "latest purchase is the latest up to D",
    "latest purchase on D-2..D",
    "one row per customer and day",
    "recommended product in the last purchase's category",
    "recommended product never bought up to D",
)


def audience_findings(dsn: str, day: date) -> list[Finding]:
    """One Finding per audience rule for `day`; none when the audience model does not exist yet."""
    with psycopg.connect(dsn) as conn:
        if conn.execute("select to_regclass('gold.cross_sell_audience')").fetchone()[0] is None:
            return []
        rows = sql_files.execute(conn, VIOLATIONS_SQL, {"day": day}).fetchall()
    broken = {rule: (count, samples) for rule, count, samples in rows}
    return [
        Finding(
            suite=SUITE,
            expectation=rule,
            column="customer_id",
            success=rule not in broken,
            observed_value=None,
            unexpected_count=broken.get(rule, (0, []))[0],
            failing_samples=list(broken.get(rule, (0, []))[1]),
            arguments={"audience_date": day.isoformat()},
        )
        for rule in RULES
    ]
