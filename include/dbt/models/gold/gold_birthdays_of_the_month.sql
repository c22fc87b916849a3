-- Staff employed on the logical date whose birthday falls in the logical date's month.

with

employed as (

    select * from {{ ref('silver_employees') }}
    where {{ employed_on(logical_date()) }}

),

final as (

    select
        employee_id,
        first_name || ' ' || last_name as employee_name,
        job_title,
        birth_date,
        extract(day from birth_date)::integer as birthday
    from employed
    where extract(month from birth_date) = extract(month from {{ logical_date() }})

)

select * from final
