with

source as (

    select * from {{ source('raw', 'employees') }}

),

renamed as (

    select
        -- ids
        employee_id::bigint as employee_id,
        manager_id::bigint as manager_id,
        department_id::integer as department_id,

        -- strings
        first_name::text as first_name,
        last_name::text as last_name,
        lower(email)::text as employee_email,
        phone_number::text as phone_number,
        job_title::text as job_title,
        location::text as employee_location,
        gender::text as gender,
        nationality::text as nationality,

        -- numerics
        salary::numeric(12, 2) as salary,

        -- dates
        birth_date::date as birth_date,
        hire_date::date as hire_date,
        start_date::date as start_date,
        termination_date::date as termination_date,

        -- timestamps
        created_at::timestamptz as created_at,
        updated_at::timestamptz as updated_at,
        _airbyte_extracted_at as extracted_at

    from source

)

select * from renamed
