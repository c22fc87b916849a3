"""
### Quality gate: Great Expectations on silver and gold before anything reaches customers

Runs when the transform publishes `gold`. For every day the transform rebuilt (the `gold` event's
`run_days`, else its `since_date`..`logical_date`; `days_to_check`) it checks the day as a whole
(volume, revenue and ticket against the same weekday of the weeks before, each category's sales
and prices, duplicated activity, freshness, keys and references; see `liftoff/quality/suites.py`)
and reconciles the layers record by record (`liftoff/quality/reconcile.py`): every raw sale of the
day and every record the day's loads delivered, late ones included, is in silver exactly once at
its latest version, and gold's daily counts and sums equal silver's. A silently lost, duplicated
or stale record blocks like any failed expectation, its keys named in the log and the alert.
All pass: emits `gold.certified`, the Asset the campaign runs on.
Any fails: the task fails without retrying (the data will not improve by itself), the run's log
lists each failed expectation with sample rows, the findings stay in `quality.results` and the GX
data docs, and an alert goes out by e-mail and Telegram where configured.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from liftoff.notify.alerts import on_gate_failure
from liftoff.orchestration import CERTIFIED_GOLD_ASSET, DEFAULT_ARGS, GOLD_ASSET, PAUSE_NOTE, START_DATE


@dag(
    schedule=GOLD_ASSET,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    doc_md=__doc__ + PAUSE_NOTE,
    tags=["quality", "great-expectations"],
)
def quality_gate():
    @task(on_failure_callback=on_gate_failure)
    def validate_gold(**context) -> dict[str, str]:
        from airflow.sdk.exceptions import AirflowFailException

        from liftoff.connections import warehouse_dsn
        from liftoff.notify.alerts import REPORT_XCOM_KEY
        from liftoff.orchestration import days_to_check, logical_day
        from liftoff.quality.gate import alert_payload, check_days

        days = days_to_check(context)
        # The transform's logical date: its "as of" marts and the audience describe that day, which a
        # late record's ripple days (rebuilt and checked too) may come after.
        until = logical_day(context)
        reports = check_days(warehouse_dsn(), days, context["run_id"], audience_day=until)
        context["ti"].xcom_push(key=REPORT_XCOM_KEY, value=alert_payload(reports))
        for report in reports:
            print(report.summary())
        if not all(report.passed for report in reports):
            raise AirflowFailException(alert_payload(reports)["summary"])  # no retry: data won't change
        return {"since_date": days[0].isoformat(), "logical_date": until.isoformat()}

    @task(outlets=[CERTIFIED_GOLD_ASSET])
    def certify(window: dict[str, str], **context) -> dict[str, str]:
        context["outlet_events"][CERTIFIED_GOLD_ASSET].extra = window
        return window

    certify(validate_gold())


quality_gate()
