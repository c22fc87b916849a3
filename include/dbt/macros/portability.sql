{#-
  What the warehouse engines spell differently, in one place (docs/transform.md, "Portability").
  Models call these and dbt's cross-database macros (dbt.dateadd, dbt.date_trunc, dbt.last_day,
  dbt.bool_or, dbt.cast), never an engine's own spelling, so the same models build on every
  adapter the project was tried on. A macro with an engine's own implementation dispatches
  (adapter.dispatch: postgres__/duckdb__/default__); a new engine adds its `<adapter>__` version here.
-#}

{#- `date_sql` (a date) plus `days` days, as a date: dbt.dateadd returns a timestamp on some
    adapters (Postgres among them), and a date compared with a date stays a date comparison. -#}
{% macro add_days(date_sql, days) -%}
    {{ dbt.cast(dbt.dateadd('day', days, date_sql), 'date') }}
{%- endmacro %}

{#- The store's calendar (Brasília): the day a time (timestamptz) falls on, and the time a day
    (a date) starts at. Postgres and DuckDB (its built-in ICU extension) share the SQL standard's
    `at time zone`; Snowflake (convert_timezone) and BigQuery (date(ts, tz), timestamp(d, tz))
    would add their own version. -#}
{% macro store_date(timestamp_sql) -%}
    {{ return(adapter.dispatch('store_date', 'liftoff')(timestamp_sql)) }}
{%- endmacro %}

{% macro default__store_date(timestamp_sql) -%}
    ({{ timestamp_sql }} at time zone 'America/Sao_Paulo')::date
{%- endmacro %}

{% macro store_day_start(date_sql) -%}
    {{ return(adapter.dispatch('store_day_start', 'liftoff')(date_sql)) }}
{%- endmacro %}

{% macro default__store_day_start(date_sql) -%}
    ({{ date_sql }})::timestamp at time zone 'America/Sao_Paulo'
{%- endmacro %}

{#- Post-hook of every silver and gold table: fresh planner statistics right after a build
    (dbt_project.yml says why). Postgres's `analyze`; DuckDB keeps its statistics as it writes,
    and engines without planner statistics to refresh (Snowflake, BigQuery) run nothing (an empty
    hook is skipped). -#}
{% macro refresh_statistics() -%}
    {{ return(adapter.dispatch('refresh_statistics', 'liftoff')()) }}
{%- endmacro %}

{% macro postgres__refresh_statistics() -%}
    analyze {{ this }}
{%- endmacro %}

{% macro default__refresh_statistics() -%}
{%- endmacro %}

{#- A table model's `indexes` config, on Postgres only (another engine adds its own version).
    dbt-duckdb rebuilds a table beside the old one and swaps the two; with an index on the table,
    that swap raced another model's statements on the second thread ("category_best_sellers
    __dbt_backup does not exist", CI 2026-12-03), and DuckDB's scans need no such lookups. -#}
{% macro table_indexes(indexes) -%}
    {{ return(adapter.dispatch('table_indexes', 'liftoff')(indexes)) }}
{%- endmacro %}

{% macro default__table_indexes(indexes) -%}
    {{ return([]) }}
{%- endmacro %}

{% macro postgres__table_indexes(indexes) -%}
    {{ return(indexes) }}
{%- endmacro %}
