-- Cross-sell input: per category, products ranked by number of sales over the 3 months before
-- the logical date (ties: more revenue first, then the lower product id).

with

daily_product_sales as (

    select * from {{ ref('gold_daily_product_sales') }}
    where
        sale_date >= ({{ logical_date() }} - interval '3 months')::date
        and sale_date < {{ logical_date() }}

),

totals as (

    select
        category,
        product_id,
        product_name,
        sum(sales_count)::bigint as sales_count,
        sum(revenue)::numeric(14, 2) as revenue
    from daily_product_sales
    group by category, product_id, product_name

),

final as (

    select
        *,
        row_number() over (
            partition by category order by sales_count desc, revenue desc, product_id asc
        )::integer as category_rank
    from totals

)

select * from final
