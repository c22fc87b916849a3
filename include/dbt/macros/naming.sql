{#-
  Layer schemas are named as they are (bronze, silver, gold), not prefixed with the target schema,
  and the silver and gold layers drop the layer prefix from the table name:
  models/silver/silver_sales.sql builds silver.sales, gold_daily_sales builds gold.daily_sales.
  Bronze views keep their model name (bronze.bronze_sales): dbt unit tests name their fixtures
  after relation names, so silver.sales and its input must not share one.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ (custom_schema_name or target.schema) | trim }}
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
