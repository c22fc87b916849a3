{{ config(materialized='incremental', unique_key='employee_id', incremental_strategy='delete+insert') }}

-- Latest version of each employee: a daily run reads only the versions extracted in its window
-- and merges them with what silver holds, so a backfilled old version never overwrites a newer one.

with

bronze_employees as (

    select * from {{ ref('bronze_employees') }}
    {% if is_incremental() %}
        where extracted_at >= {{ extracted_since() }}
    {% endif %}

),

candidates as (

    select * from bronze_employees
    {% if is_incremental() %}
        union all
        select * from {{ this }}
        where employee_id in (select b.employee_id from bronze_employees as b)
    {% endif %}

),

final as (

    select distinct on (employee_id) *
    from candidates
    order by employee_id asc, updated_at desc, extracted_at desc

)

select * from final
