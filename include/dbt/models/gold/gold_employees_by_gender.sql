-- Staff employed on the logical date by gender, with each gender's share.

with

employed as (

    select * from {{ ref('silver_employees') }}
    where {{ employed_on(logical_date()) }}

),

counted as (

    select
        gender,
        count(*)::bigint as employees
    from employed
    group by gender

),

final as (

    select
        gender,
        employees,
        round(employees::numeric / sum(employees) over (), 4)::numeric(6, 4) as employee_share
    from counted

)

select * from final
