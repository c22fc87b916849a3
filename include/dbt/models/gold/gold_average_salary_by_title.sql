-- Average salary by job title of the staff employed on the logical date.

with

employed as (

    select * from {{ ref('silver_employees') }}
    where {{ employed_on(logical_date()) }}

),

final as (

    select
        job_title,
        count(*)::bigint as employees,
        avg(salary)::numeric(12, 2) as average_salary
    from employed
    group by job_title

)

select * from final
