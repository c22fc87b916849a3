-- Hires per month, up to the logical date.

with

employees as (

    select * from {{ ref('silver_employees') }}
    where hire_date <= {{ logical_date() }}

),

final as (

    select
        {{ dbt.date_trunc('month', 'hire_date') }}::date as month_start,
        count(*)::bigint as hires
    from employees
    group by {{ dbt.date_trunc('month', 'hire_date') }}

)

select * from final
