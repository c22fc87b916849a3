{#-
  Layer schemas are named as they are (bronze, silver, gold), not prefixed with the target schema,
  and a model's layer prefix is dropped from its table name: models/silver/silver_sales.sql
  builds silver.sales. Model names stay unique for dbt; relations read naturally for analysts.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ (custom_schema_name or target.schema) | trim }}
{%- endmacro %}

{% macro generate_alias_name(custom_alias_name=none, node=none) -%}
    {%- if custom_alias_name -%}
        {{ custom_alias_name | trim }}
    {%- else -%}
        {%- set layer = node.config.schema -%}
        {%- if layer and node.name.startswith(layer ~ '_') -%}
            {{ node.name[layer | length + 1:] }}
        {%- else -%}
            {{ node.name }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
