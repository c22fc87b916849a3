{#- Shapes several models share, written once. -#}

{#- The latest version of each record of a bronze relation, by updated_at, then extraction, then
    the whole record's text: two versions never tie, so the same data always keeps the same one
    (two rows of one Airbyte sync can share updated_at and extraction time).
    Incremental: reads only the versions extracted in the run's window and merges them with
    what the model holds, so a backfilled old version never overwrites a newer one. -#}
{% macro latest_version(bronze_model, key) %}

with

bronze as (

    select * from {{ ref(bronze_model) }}
    {% if is_incremental() %}
        where extracted_at >= {{ extracted_since() }}
    {% endif %}

),

candidates as (

    select * from bronze
    {% if is_incremental() %}
        union all
        select * from {{ this }}
        where {{ key }} in (select b.{{ key }} from bronze as b)
    {% endif %}

),

final as (

    select distinct on ({{ key }}) *
    from candidates
    order by {{ key }} asc, updated_at desc, extracted_at desc, candidates::text desc

)

select * from final

{% endmacro %}

{#- Employed on `day`: hired on or before it and not yet gone. -#}
{% macro employed_on(day) -%}
    hire_date <= {{ day }} and (termination_date is null or termination_date > {{ day }})
{%- endmacro %}

{#- In an incremental run, only the run's days (see run_day_condition). -#}
{% macro in_run_window(column) -%}
    {% if is_incremental() %}
        where {{ run_day_condition(column) }}
    {% endif %}
{%- endmacro %}

{#- Pre-hook of a model incremental by day: empty the run's days first. delete+insert deletes
    only the days its select returns, so a day whose rows all went away (a sale re-dated, a
    partition reloaded without it) would keep them. Runs in the model's transaction. -#}
{% macro delete_run_days(column) -%}
    {% if is_incremental() %}
        delete from {{ this }} where {{ run_day_condition(column) }}
    {% else %}
        select 1
    {% endif %}
{%- endmacro %}
