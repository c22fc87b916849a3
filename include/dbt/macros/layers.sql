{#- Shapes several models share, written once. -#}

{#- The latest version of each record of a bronze relation, by updated_at then extraction.
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
    order by {{ key }} asc, updated_at desc, extracted_at desc

)

select * from final

{% endmacro %}

{#- Employed on `day`: hired on or before it and not yet gone. -#}
{% macro employed_on(day) -%}
    hire_date <= {{ day }} and (termination_date is null or termination_date > {{ day }})
{%- endmacro %}

{#- In an incremental run, only the sale dates of the run's window. -#}
{% macro in_run_window(column) -%}
    {% if is_incremental() %}
        where {{ column }} between {{ since_date() }} and {{ logical_date() }}
    {% endif %}
{%- endmacro %}
