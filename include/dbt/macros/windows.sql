{#-
  The run's time window, from dbt vars Airflow passes: `logical_date` (the newest business day
  the run covers) and `since_date` (the oldest; defaults to logical_date). Backfilling a range
  passes the range; a daily run passes one day. Never CURRENT_DATE: a backfill of last March must
  produce last March's numbers.
-#}
{% macro logical_date() -%}
    '{{ var("logical_date") }}'::date
{%- endmacro %}

{% macro since_date() -%}
    '{{ var("since_date", var("logical_date")) }}'::date
{%- endmacro %}

{#- Rows extracted since the window opened (the embedded loader stamps the logical date's
    midnight, UTC; Airbyte stamps the sync time, later still). -#}
{% macro extracted_since() -%}
    ({{ since_date() }}::timestamp at time zone 'UTC')
{%- endmacro %}
