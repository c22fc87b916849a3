"""
### Cross-sell campaign (e-mail and Telegram, exactly once, fresh days only)

Runs when the quality gate certifies gold (`gold.certified` Asset, whose event names the
`logical_date`), or by hand with Params. For the data day D (campaign id `cross-sell-D`):

1. `plan`: applies the `campaign` schema, copies the CRM's opt-outs through the `crm` connection
   (a configured but unreachable CRM fails the run: no one is messaged who may have said no), and
   reads the audience of D from the dbt model `gold.cross_sell_audience` (built by the transform,
   certified by the gate; the rule is in the README, "Cross-sell campaign"). Per recipient and
   channel it records a pending message or why it is skipped: stale day, no channel (off this
   run), opted out, already bought the recommendation after D, contact cap (another campaign's
   message sent within `contact_cooldown_days`, by send time).
   **Fresh days only**: when D is more than `max_day_age` days before the day the run started
   (Brasília; default 1, only the latest complete day), every message is skipped as
   `stale day`, the log says so, nothing is sent. `send_stale_day=True` forces it.
2. `write_copy`: one copy per segment (recommended product × category): an OpenAI-compatible LLM
   when the `llm` connection exists (cached, budgeted, checked), else the template copywriter.
3. `send_email` / `send_telegram`: one mapped task per batch with pending messages; each batch
   checks opt-outs, purchases since D and the contact cap again just before sending, and the send
   log (`campaign.send_log`, unique per campaign, customer and channel) makes retries and re-runs
   send nothing twice. Without a Telegram bot (no `telegram_default` connection) each Telegram
   message is recorded in the send log (`recorded`, with its text), never sent.
4. `summarise`: builds the dbt model `gold.campaign_summaries` (per channel: audience = sent +
   skipped by reason + failed + pending), logs it and posts it to the sales team's Telegram chat
   when configured. Fails the run if a message is still pending.

`dry_run` builds everything and renders every message, but sends nothing and records no send log.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, task

from liftoff.orchestration import CERTIFIED_GOLD_ASSET, DEFAULT_ARGS, PAUSE_NOTE, START_DATE


@dag(
    schedule=[CERTIFIED_GOLD_ASSET],
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    max_consecutive_failed_dag_runs=5,
    default_args=DEFAULT_ARGS,
    doc_md=__doc__ + PAUSE_NOTE,
    tags=["campaign", "email", "telegram", "llm"],
    params={
        "dry_run": Param(False, type="boolean", description="Build and render everything, send nothing."),
        "logical_date": Param(
            None,
            type=["null", "string"],
            format="date",
            description="Campaign day (manual runs); empty: the run's logical date.",
        ),
        "contact_cooldown_days": Param(
            7,
            type="integer",
            minimum=0,
            description="Contact cap: skip customers sent any cross-sell in these days (by send time).",
        ),
        "max_day_age": Param(
            1,
            type="integer",
            minimum=1,
            description="Send only if the data day is at most this many days before the run's start"
            " (Brasília); 1: only the latest complete day. Older days are skipped as stale.",
        ),
        "send_stale_day": Param(
            False, type="boolean", description="Send even though the data day is older than max_day_age."
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
        from liftoff.campaign.runner import active_channels, is_stale_day, plan_campaign
        from liftoff.connections import crm_dsn, warehouse_dsn
        from liftoff.orchestration import logical_day

        params = context["params"]
        day = date.fromisoformat(params["logical_date"]) if params["logical_date"] else logical_day(context)
        rules = AudienceRules(
            contact_cooldown_days=params["contact_cooldown_days"], batch_size=params["batch_size"]
        )
        # The plan's own start (dag.test stamps the run's start with its logical date).
        started = max(filter(None, (context["dag_run"].start_date, context["ti"].start_date)), default=None)
        stale = is_stale_day(day, started, params["max_day_age"])
        return plan_campaign(
            warehouse_dsn(),
            day,
            rules,
            crm_dsn=crm_dsn(),
            dry_run=params["dry_run"],
            stale_day=stale and not params["send_stale_day"],
            active_channels=active_channels(params["channels"]),
        )

    @task
    def write_copy(plan: dict, **context) -> dict:
        from liftoff.campaign.llm import copywriter_from_connection
        from liftoff.campaign.runner import write_copy
        from liftoff.connections import warehouse_dsn

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
        from liftoff.connections import warehouse_dsn

        dry_run = context["params"]["dry_run"]
        return send_batch(warehouse_dsn(), "email", plan["campaign_id"], batch_number, dry_run=dry_run)

    @task(max_active_tis_per_dagrun=1)  # one bot: Telegram's rate limit is per bot
    def send_telegram(batch_number: int, plan: dict, **context) -> dict:
        from liftoff.campaign.runner import send_batch
        from liftoff.connections import warehouse_dsn

        dry_run = context["params"]["dry_run"]
        return send_batch(warehouse_dsn(), "telegram", plan["campaign_id"], batch_number, dry_run=dry_run)

    @task(trigger_rule="all_done")
    def summarise(plan: dict, **context) -> list[dict]:
        from liftoff.campaign.runner import finish_campaign
        from liftoff.connections import warehouse_dsn

        return finish_campaign(warehouse_dsn(), plan["campaign_id"], dry_run=context["params"]["dry_run"])

    planned = plan()
    copy = write_copy(planned)
    emails = send_email.partial(plan=planned).expand(batch_number=email_batches(planned))
    telegrams = send_telegram.partial(plan=planned).expand(batch_number=telegram_batches(planned))
    copy >> [emails, telegrams]
    [emails, telegrams] >> summarise(planned)


cross_sell_campaign()
