with

source as (

    select * from {{ source('raw', 'sales') }}

),

renamed as (

    select
        -- ids
        sale_id::bigint as sale_id,
        customer_id::bigint as customer_id,
        product_id::bigint as product_id,
        seller_id::bigint as seller_id,

        -- strings
        lower(email_employee)::text as seller_email,
        lower(email_customer)::text as customer_email,
        first_name::text as customer_first_name,
        last_name::text as customer_last_name,
        phone_number::text as customer_phone_number,
        name_product::text as product_name,

        -- numerics (the CRM's "price" is the sale's total value)
        unit_price::numeric(12, 2) as unit_price,
        quantity::integer as quantity,
        price::numeric(12, 2) as sale_value,

        -- timestamps
        date::timestamptz as sold_at,
        created_at::timestamptz as created_at,
        _airbyte_extracted_at as extracted_at,

        -- the raw row (silver's last tie-break between two rows of one extraction)
        _airbyte_raw_id as raw_id

    from source

)

select * from renamed
