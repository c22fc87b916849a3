-- The original mart: sales of the 7 days ending on the logical date, by day and product.

with

daily_product_sales as (

    select * from {{ ref('gold_daily_product_sales') }}

),

final as (

    select
        sale_date,
        product_id,
        product_name,
        category,
        revenue,
        items_sold,
        sales_count
    from daily_product_sales
    where sale_date between {{ add_days(logical_date(), -6) }} and {{ logical_date() }}

)

select * from final
