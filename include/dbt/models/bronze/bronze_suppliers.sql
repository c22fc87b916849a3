with

source as (

    select * from {{ source('raw', 'suppliers') }}

),

renamed as (

    select
        -- ids
        supplier_id::bigint as supplier_id,

        -- strings
        company_name::text as company_name,
        contact_name::text as contact_name,
        lower(email)::text as supplier_email,
        phone_number::text as phone_number,
        website::text as website,
        address::text as address,
        product_categories::text as product_categories,
        primary_product::text as primary_product,

        -- timestamps
        created_at::timestamptz as created_at,
        updated_at::timestamptz as updated_at,
        _airbyte_extracted_at as extracted_at

    from source

)

select * from renamed
