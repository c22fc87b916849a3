"""Tell people when the quality gate stops gold: e-mail through the SMTP provider's notifier and a
Telegram message through the Telegram provider's hook, each only when configured.

Configured means: e-mail when the Airflow Variable `liftoff_alert_emails` lists recipients (comma
separated) and the `smtp_default` connection exists; Telegram when the `telegram_alerts`
connection exists (its password is the bot token, its host the team's chat id; an extra
`base_url` points it at another Bot API server, as for the campaign). Both run as the
gate task's failure callback, at run time, never at DAG parse time.
"""

from __future__ import annotations

import html
from typing import Any

from liftoff.notify import connection_exists

ALERT_EMAILS_VARIABLE = "liftoff_alert_emails"
SMTP_CONN_ID = "smtp_default"
TELEGRAM_CONN_ID = "telegram_alerts"
REPORT_XCOM_KEY = "gate_report"


def alert_recipients() -> list[str]:
    from airflow.sdk import Variable

    listed = Variable.get(ALERT_EMAILS_VARIABLE, default="") or ""
    return [address.strip() for address in listed.split(",") if address.strip()]


def alert_text(report: dict[str, Any]) -> tuple[str, str]:
    """(subject, body) naming the logical date, the failed suites and each failed expectation."""
    subject = (
        f"[LiftOff] Quality gate FAILED for {report['logical_date']}: "
        f"{', '.join(report['failed_suites'])} — the campaign will not run"
    )
    return subject, report["summary"]


def on_gate_failure(context: dict[str, Any]) -> None:
    """Failure callback of the gate task: send the report it left in XCom (if it got that far)."""
    report = context["ti"].xcom_pull(task_ids=context["ti"].task_id, key=REPORT_XCOM_KEY)
    if not report:  # the task failed before judging the data (e.g. the warehouse was down)
        report = {
            "logical_date": str(context.get("ds", "?")),
            "failed_suites": ["(not run)"],
            "summary": f"The quality gate could not run: {context.get('exception')}",
        }
    subject, body = alert_text(report)
    recipients = alert_recipients()
    if recipients and connection_exists(SMTP_CONN_ID):
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        # The notifier renders its fields with Jinja: braces from the report must stay literal.
        page = "<pre>" + html.escape(body).replace("{", "&#123;").replace("}", "&#125;") + "</pre>"
        SmtpNotifier(
            to=recipients,
            subject=subject.replace("{", "(").replace("}", ")"),
            html_content=page,
            smtp_conn_id=SMTP_CONN_ID,
        ).notify(context)
    if connection_exists(TELEGRAM_CONN_ID):
        from liftoff.notify.telegram import telegram_hook

        # Telegram caps a message at 4096 characters; the full report is in the log and the table.
        telegram_hook(TELEGRAM_CONN_ID).send_message({"text": f"{subject}\n\n{body}"[:4000]})
