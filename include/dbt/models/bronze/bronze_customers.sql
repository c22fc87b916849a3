with

source as (

    select * from {{ source('raw', 'customers') }}

),

renamed as (

    select
        -- ids
        customer_id::bigint as customer_id,
        telegram_chat_id::bigint as telegram_chat_id,

        -- strings
        first_name::text as first_name,
        last_name::text as last_name,
        lower(email)::text as customer_email,
        phone_number::text as phone_number,
        city::text as city,
        state::text as state,

        -- timestamps
        created_at::timestamptz as created_at,
        updated_at::timestamptz as updated_at,
        _airbyte_extracted_at as extracted_at

    from source

)

select * from renamed
