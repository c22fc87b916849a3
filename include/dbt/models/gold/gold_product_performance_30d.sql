-- The original mart: revenue, items and average sale value per product over the 30 days ending on
-- the logical date. The average leaves out value outliers (see silver_sales), the totals do not.

with

daily_product_sales as (

    select * from {{ ref('gold_daily_product_sales') }}
    where sale_date between {{ add_days(logical_date(), -29) }} and {{ logical_date() }}

),

final as (

    select
        product_id,
        product_name,
        category,
        sum(revenue)::numeric(14, 2) as revenue,
        sum(items_sold)::bigint as items_sold,
        sum(sales_count)::bigint as sales_count,
        (sum(revenue_without_outliers) / nullif(sum(sales_without_outliers), 0))::numeric(14, 2)
            as average_sale_value
    from daily_product_sales
    group by product_id, product_name, category

)

select * from final
