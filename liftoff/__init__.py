"""LiftOff Data: the platform's code, plain typed Python that DAG files wire together and tests call
without a scheduler. Grouped by the path the data takes:

- `contracts`: what a valid CRM record is (Pydantic models) and the engine that checks batches;
- `ingest`: sources (simulator, CRM extraction, Airbyte) → landing zone → contract check → raw;
- `transform`: which day partitions a dbt run rebuilds, dbt docs (the models: include/dbt);
- `quality`: the gate that certifies gold (Great Expectations, reconciliation, audience checks);
- `campaign`: the cross-sell audience's messages, written by an LLM or a template, sent once;
- `notify`: the e-mail and Telegram channels the gate's alerts and the campaign share;
- `apps`: the CRM data-entry API and the dashboard's logic (the pages are in streamlit/);
- `orchestration`: what DAG files share (the only package importing Airflow at module level);
- `warehouse`, `connections`, `sql_files`, `settings`: the base every stage stands on;
- `devstack`: the no-Docker embedded stack, the demo and the docs generator (never deployed).

The layer rules between them: docs/development.md, checked by `make lint`.
"""
