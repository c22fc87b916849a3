"""
### Cross-sell campaign (e-mail and Telegram, exactly once)

Runs when the quality gate certifies gold (`gold.certified` Asset, whose event names the
`logical_date`), or by hand with Params. For the logical date D (campaign id `cross-sell-D`):

1. `plan`: applies the `campaign` schema (include/sql/campaign_tables.sql) and builds the audience
   (include/sql/campaign_audience.sql): customers whose latest purchase lies in the 3 days ending on
   D get the best seller of that purchase's category they never bought; opted-out and recently
   contacted customers are left out.
2. `write_copy`: one copy per segment (recommended product × category): an OpenAI-compatible LLM
   when the `llm` connection exists (cached, budgeted, checked), else the template copywriter.
3. `send_email` / `send_telegram`: one mapped task per batch of recipients; the send log
   (`campaign.send_log`, unique per campaign, customer and channel) makes retries and re-runs
   send nothing twice.
4. `summarise`: per channel, audience / sent / skipped / failed into `gold.campaign_summaries`,
   logged, and posted to the sales team's Telegram chat when configured. Fails the run if a
   message is still pending.

`dry_run` builds everything and renders every message, but sends nothing and writes no send log.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, task

from liftoff.dag_support import CERTIFIED_GOLD_ASSET, DEFAULT_ARGS, START_DATE


@dag(
    schedule=[CERTIFIED_GOLD_ASSET],
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    max_consecutive_failed_dag_runs=5,
    default_args=DEFAULT_ARGS,
    doc_md=__doc__,
    tags=["campaign", "email", "telegram", "llm"],
    params={
        "dry_run": Param(False, type="boolean", description="Build and render everything, send nothing."),
        "logical_date": Param(
            None,
            type=["null", "string"],
            format="date",
            description="Campaign day (manual runs); empty: the run's logical date.",
        ),
        "recent_days": Param(3, type="integer", minimum=1, description="Latest purchase within these days."),
        "contact_cooldown_days": Param(
            7, type="integer", minimum=0, description="Leave out customers reached in these days."
        ),
        "batch_size": Param(
            500, type="integer", minimum=1, maximum=10000, description="Recipients per task."
        ),
        "channels": Param(["email", "telegram"], type="array", description="Channels to send on."),
        "llm_budget_usd": Param(
            None, type=["null", "number"], minimum=0, description="LLM spend cap; empty: the connection's."
        ),
    },
)
def cross_sell_campaign():
    @task
    def plan(**context) -> dict:
        from datetime import date

        from liftoff.campaign.config import AudienceRules
        from liftoff.campaign.runner import plan_campaign
        from liftoff.dag_support import logical_day, warehouse_dsn

        params = context["params"]
        day = date.fromisoformat(params["logical_date"]) if params["logical_date"] else logical_day(context)
        rules = AudienceRules(
            recent_days=params["recent_days"],
            contact_cooldown_days=params["contact_cooldown_days"],
            batch_size=params["batch_size"],
        )
        return plan_campaign(warehouse_dsn(), day, rules)

    @task
    def write_copy(plan: dict, **context) -> dict:
        from liftoff.campaign.llm import copywriter_from_connection
        from liftoff.campaign.runner import write_copy
        from liftoff.dag_support import warehouse_dsn

        copywriter = copywriter_from_connection(
            warehouse_dsn(), budget_usd=context["params"]["llm_budget_usd"]
        )
        return write_copy(warehouse_dsn(), plan["campaign_id"], copywriter)

    @task
    def email_batches(plan: dict, **context) -> list[int]:
        return plan["batches"]["email"] if "email" in context["params"]["channels"] else []

    @task
    def telegram_batches(plan: dict, **context) -> list[int]:
        return plan["batches"]["telegram"] if "telegram" in context["params"]["channels"] else []

    @task(max_active_tis_per_dagrun=4)
    def send_email(batch_number: int, plan: dict, **context) -> dict:
        from liftoff.campaign.runner import send_batch
        from liftoff.dag_support import warehouse_dsn

        dry_run = context["params"]["dry_run"]
        return send_batch(warehouse_dsn(), "email", plan["campaign_id"], batch_number, dry_run=dry_run)

    @task(max_active_tis_per_dagrun=1)  # one bot: Telegram's rate limit is per bot
    def send_telegram(batch_number: int, plan: dict, **context) -> dict:
        from liftoff.campaign.runner import send_batch
        from liftoff.dag_support import warehouse_dsn

        dry_run = context["params"]["dry_run"]
        return send_batch(warehouse_dsn(), "telegram", plan["campaign_id"], batch_number, dry_run=dry_run)

    @task(trigger_rule="all_done")
    def summarise(plan: dict, **context) -> list[dict]:
        from liftoff.campaign.runner import finish_campaign
        from liftoff.dag_support import warehouse_dsn

        return finish_campaign(warehouse_dsn(), plan["campaign_id"], dry_run=context["params"]["dry_run"])

    planned = plan()
    copy = write_copy(planned)
    emails = send_email.partial(plan=planned).expand(batch_number=email_batches(planned))
    telegrams = send_telegram.partial(plan=planned).expand(batch_number=telegram_batches(planned))
    copy >> [emails, telegrams]
    [emails, telegrams] >> summarise(planned)


cross_sell_campaign()
