{#-
  The run's time window: `logical_date` (the day "as of" marts describe), `since_date` (the oldest
  day the run rebuilds; defaults to logical_date) and `run_days` (the day partitions the run
  rebuilds: a list of ISO dates or one comma-separated string; liftoff/transform/window.py computes
  them from what was loaded since the last successful transform, so a late record's old day is
  among them). Without `run_days` the run rebuilds every day from since_date to logical_date. Never
  CURRENT_DATE: a backfill of last March must produce last March's numbers.

  The window comes from one place (window_value):
  1. dbt's `--vars`, when the command line gives any of the three (dbt run by hand, the tests, the
     benchmarks); the environment is then ignored, so a stray variable cannot mix in;
  2. else the environment variables LIFTOFF_DBT_LOGICAL_DATE, LIFTOFF_DBT_SINCE_DATE and
     LIFTOFF_DBT_RUN_DAYS, read only while dbt executes: how Airflow passes the run's window (the
     transform DAG's operator env). Not `--vars`: dbt hashes the command line's vars into its
     partial-parse state (dbt/parser/manifest.py, build_manifest_state_check), so new vars on
     every run re-parsed the whole project; an environment variable read only when `execute` is
     true is never seen by the parser, so each run reuses the previous run's parse
     (docs/benchmarks.md);
  3. a value neither gives: dbt_project.yml's vars (logical_date's default).
  A unit test reads its own `overrides: vars` (through var()), never the environment.
  While dbt parses, a value is the command line's or dbt_project.yml's: nothing the parser keeps
  may depend on the run's window (the data tests' `where` configs name it through placeholders,
  expanded at execution: macros/tests.sql).
-#}
{% macro window_value(name, default=none) -%}
    {%- if execute -%}
        {%- set command_line = invocation_args_dict.get("vars") or {} -%}
        {%- set from_command_line = "logical_date" in command_line or "since_date" in command_line
            or "run_days" in command_line -%}
        {%- set in_unit_test = model is mapping and model.get("resource_type") == "unit_test" -%}
        {%- set from_env = "" if from_command_line or in_unit_test
            else env_var("LIFTOFF_DBT_" ~ (name | upper), "") | trim -%}
        {%- if from_env -%}
            {{ return(from_env) }}
        {%- endif -%}
    {%- endif -%}
    {{ return(var(name, default)) }}
{%- endmacro %}

{% macro logical_date() -%}
    '{{ window_value("logical_date") }}'::date
{%- endmacro %}

{% macro since_date() -%}
    '{{ window_value("since_date") or window_value("logical_date") }}'::date
{%- endmacro %}

{#- The run days as a sorted list of ISO date strings, or none when they are not given.
    (sqlfluff's lint sets `lint_without_run_days`: its stand-in for var() is no list of dates.) -#}
{% macro run_days() -%}
    {%- set given = none if lint_without_run_days is defined else window_value("run_days") -%}
    {%- if given is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if given is string -%}
        {%- set given = given.split(",") -%}
    {%- endif -%}
    {%- set days = [] -%}
    {%- for day in given -%}
        {%- set text = (day | string).strip() -%}
        {%- if text -%}
            {%- if not modules.re.match("^[0-9]{4}-[0-9]{2}-[0-9]{2}$", text) -%}
                {{ exceptions.raise_compiler_error("run_days: " ~ text ~ " is not an ISO date") }}
            {%- endif -%}
            {%- do days.append(text) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not days -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(days | unique | sort | list) }}
{%- endmacro %}

{% macro run_day_condition(column) -%}
    {%- set days = run_days() -%}
    {%- if days is none -%}
        {{ column }} between {{ since_date() }} and {{ logical_date() }}
    {%- else -%}
        {{ column }} in (
            {%- for day in days %}'{{ day }}'::date{% if not loop.last %}, {% endif %}{% endfor -%}
        )
    {%- endif -%}
{%- endmacro %}

{#- `column` (a time of sale) falls within `reference_days` days ending on a run day (Brasília
    calendar): one range per stretch of run days, so the sold_at index reads only those. -#}
{% macro within_reference_days(column, reference_days) -%}
    {%- set days = run_days() -%}
    {%- if days is none %}
        ({{ column }} >= {{ store_day_start(add_days(since_date(), 1 - reference_days)) }}
        and {{ column }} < {{ store_day_start(add_days(logical_date(), 1)) }})
    {%- else -%}
        {#- Merged on day numbers; the dates themselves are computed by the warehouse, which has
            room before year 1 and after 9999 where Python's dates have none. -#}
        {%- set ranges = [] -%}
        {%- for text in days -%}
            {%- set number = modules.datetime.date.fromisoformat(text).toordinal() -%}
            {%- if ranges and number - (reference_days - 1) <= ranges[-1].last_number + 1 -%}
                {%- do ranges[-1].update({"last": text, "last_number": number}) -%}
            {%- else -%}
                {%- do ranges.append({"first": text, "last": text, "last_number": number}) -%}
            {%- endif -%}
        {%- endfor %}
        (
            {%- for range in ranges %}
                {% if not loop.first %}or {% endif -%}
                ({{ column }} >= {{ store_day_start(add_days("'" ~ range.first ~ "'::date", 1 - reference_days)) }}
                and {{ column }} < {{ store_day_start(add_days("'" ~ range.last ~ "'::date", 1)) }})
            {%- endfor %}
        )
    {%- endif -%}
{%- endmacro %}

{#- Rows extracted since the window opened (the embedded loader stamps the logical date's
    midnight, UTC; Airbyte stamps the sync time, later still). since_date is the oldest run day,
    and a load's logical date is among the run days, so a re-delivered old version is read. -#}
{% macro extracted_since() -%}
    ({{ since_date() }}::timestamp at time zone 'UTC')
{%- endmacro %}
