-- The original mart: sales by seller and day over the 7 days ending on the logical date.

with

daily_seller_sales as (

    select * from {{ ref('gold_daily_seller_sales') }}

),

final as (

    select
        sale_date,
        seller_id,
        seller_name,
        revenue,
        items_sold,
        sales_count
    from daily_seller_sales
    where sale_date between {{ add_days(logical_date(), -6) }} and {{ logical_date() }}

)

select * from final
