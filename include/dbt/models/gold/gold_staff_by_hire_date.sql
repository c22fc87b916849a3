-- The dashboard's hire-date filter: staff employed on the logical date, counted by hire date,
-- gender and job title, with their salaries summed (the dashboard divides, never reads a person).

with

employed as (

    select * from {{ ref('silver_employees') }}
    where {{ employed_on(logical_date()) }}

),

final as (

    select
        hire_date,
        gender,
        job_title,
        count(*)::bigint as employees,
        sum(salary)::numeric(14, 2) as total_salary
    from employed
    group by hire_date, gender, job_title

)

select * from final
