with

bronze_sales as (

    select * from {{ ref('bronze_sales') }}

),

latest_version as (

    -- A sale extracted more than once keeps its latest extraction.
    select
        *,
        row_number() over (partition by sale_id order by extracted_at desc) as version_rank
    from bronze_sales

),

final as (

    select
        -- ids
        sale_id,
        customer_id,
        product_id,
        seller_id,

        -- strings
        seller_email,
        customer_email,
        product_name,

        -- numerics
        unit_price,
        quantity,
        sale_value,

        -- dates (sales are counted on the store's calendar, Brasília time)
        (sold_at at time zone 'America/Sao_Paulo')::date as sale_date,

        -- timestamps
        sold_at

    from latest_version
    where version_rank = 1

)

select * from final
