with

source as (

    select * from {{ source('raw', 'products') }}

),

renamed as (

    select
        -- ids
        product_id::bigint as product_id,
        supplier_id::bigint as supplier_id,

        -- strings
        name::text as product_name,
        description::text as product_description,
        categoria::text as category,
        lower(email_fornecedor)::text as supplier_email,

        -- numerics
        price::numeric(12, 2) as unit_price,

        -- timestamps
        created_at::timestamptz as created_at,
        updated_at::timestamptz as updated_at,
        _airbyte_extracted_at as extracted_at

    from source

)

select * from renamed
