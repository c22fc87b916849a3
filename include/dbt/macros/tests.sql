{#-
  The data tests' `where` filters, evaluated when the test runs, not when dbt parses.

  dbt renders a test's `where` config (a .yml config) while parsing and keeps the result in its
  parse; a partial parse (every transform run after the first: macros/windows.sql) would keep
  the parsed run's days and go on testing them. So the window's tests name the window through
  placeholders, and this override of dbt's get_where_subquery (the macro dbt wraps every generic
  test's model in, rendered at execution: dbt/include/global_project/macros/materializations/
  tests/where_subquery.sql; "Custom logic" in dbt's docs of the `where` config) expands them into
  the running build's values:

    __logical_date__  '2026-06-07'                the run's logical date
    __since_date__    '2026-06-01'                its oldest day (logical_date without one)
    __run_days__      '2026-06-01', '2026-06-07'  its days (without run_days: every day from
                                                  since_date to logical_date), for `in (...)`

  A `where` without placeholders is dbt's own; an unknown `__name__` is an error, not a filter
  silently left in place.
-#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get("where", "") -%}
    {%- if not where -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- if "__" in where -%}
        {%- set where = expand_window_placeholders(where) -%}
    {%- endif -%}
    {%- set filtered -%}
        (select * from {{ relation }} where {{ where }}) dbt_subquery
    {%- endset -%}
    {{ return(filtered) }}
{%- endmacro %}

{% macro expand_window_placeholders(where) -%}
    {%- set logical = window_iso_date("logical_date") -%}
    {%- set since = window_iso_date("since_date") if window_value("since_date") else logical -%}
    {%- set days = run_days() -%}
    {%- if days is none -%}
        {%- set first = modules.datetime.date.fromisoformat(since) -%}
        {%- set count = (modules.datetime.date.fromisoformat(logical) - first).days + 1 -%}
        {%- set days = [] -%}
        {%- for n in range(count) -%}
            {%- do days.append((first + modules.datetime.timedelta(days=n)).isoformat()) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set expanded = where
        | replace("__logical_date__", "'" ~ logical ~ "'")
        | replace("__since_date__", "'" ~ since ~ "'")
        | replace("__run_days__", ("'" ~ (days | join("', '")) ~ "'") if days else "null") -%}
    {%- set unknown = modules.re.findall("__[A-Za-z0-9_]+__", expanded) -%}
    {%- if unknown -%}
        {{ exceptions.raise_compiler_error("where: unknown placeholder " ~ (unknown | join(", ")) ~ " in: " ~ where) }}
    {%- endif -%}
    {{ return(expanded) }}
{%- endmacro %}

{#- A window value as an ISO date string, checked before it is written into SQL. -#}
{% macro window_iso_date(name) -%}
    {%- set text = window_value(name) | string | trim -%}
    {%- if not modules.re.match("^[0-9]{4}-[0-9]{2}-[0-9]{2}$", text) -%}
        {{ exceptions.raise_compiler_error(name ~ ": " ~ text ~ " is not an ISO date") }}
    {%- endif -%}
    {{ return(text) }}
{%- endmacro %}
