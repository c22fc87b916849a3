{#-
  Only the production target (`prod`: Airflow through Cosmos, the demo, the tests, the benchmarks)
  writes the layer schemas as they are named (bronze, silver, gold, audit). Any other target writes
  `<target.schema>_<layer>` (dbt's default, as jaffle-shop does): a developer's hand-run
  `dbt build` (default target `dev`, schema `dev`) goes to dev_bronze, dev_silver, dev_gold and
  dev_audit and can never overwrite what the dashboard and the campaign read. The `duckdb`
  target (the portability test's second engine) writes the layer names too: its database is a
  file of its own.

  The silver and gold layers drop the layer prefix from the table name:
  models/silver/silver_sales.sql builds silver.sales, gold_daily_sales builds gold.daily_sales.
  Bronze views keep their model name (bronze.bronze_sales): dbt unit tests name their fixtures
  after relation names, so silver.sales and its input must not share one.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- elif target.name in ('prod', 'duckdb') -%}
        {{ custom_schema_name | trim }}
    {%- else -%}
        {{ target.schema | trim }}_{{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}

{% macro generate_alias_name(custom_alias_name=none, node=none) -%}
    {%- if custom_alias_name -%}
        {{ custom_alias_name | trim }}
    {%- else -%}
        {%- set layer = node.config.schema -%}
        {%- if layer in ('silver', 'gold') and node.name.startswith(layer ~ '_') -%}
            {{ node.name[layer | length + 1:] }}
        {%- else -%}
            {{ node.name }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
